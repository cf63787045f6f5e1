"""The browser suite: Debian's Chromium against the production stack, one stack per module.

Each module gets its own site: gunicorn (DEBUG off, production settings), a Celery
worker process reading tasks from Redis, and the local Stripe stand-in in its own
process, all on the test's PostgreSQL database. Only two test-only switches differ
from production, both documented in the README: `HTTPS=off` (plain HTTP to
127.0.0.1) and `TEST_ONLY_ALLOW_STRIPE_STANDIN=1` with `STRIPE_API_BASE` (the
stand-in instead of Stripe). Email goes to files that the tests read.

The tests are transactional (`serialized_rollback`): what a test creates is
committed, so the other processes see it, and the tables are emptied after it, so
each test makes the rows it needs inside itself.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import BrowserContext, Page, expect

from accounts.mfa import current_totp_code, totp_secret
from devtools import processes
from devtools.demo.prescriptions import prescription_pdf
from tests.conftest import CHROMIUM
from tests.factories import PASSWORD, valid_npi

# Set for this test process by tests/conftest.py's `playwright` fixture; `stack` keeps
# it out of the environment of the site's processes.
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

TIMEOUT_MS = 15_000
# Payment and dispatch go through the stand-in's webhook, Redis and the worker.
SLOW_TIMEOUT_MS = 30_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
PACKAGE_10_MG = "10 mg tablets, 10 pills"
PACKAGE_20_MG = "20 mg tablets, 10 pills"
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", str(REPO / "test-artifacts" / "screenshots")))
WEBHOOK_PATH = "/payments/stripe/webhook/"
# The elements that make the page wider than the viewport, for failure messages: those
# that stick out on the right and that no scrolling or clipping ancestor holds in (an
# absolutely positioned element escapes every static ancestor, scrolling ones included).
TOO_WIDE_JS = """() => {
  const limit = window.innerWidth + 0.5;
  const style = e => getComputedStyle(e);
  const heldIn = e => {
    for (let node = e; node && node !== document.body; ) {
      let parent = node.parentElement;
      const position = style(node).position;
      if (position === "fixed") return false;
      if (position === "absolute") {
        while (parent && parent !== document.body && style(parent).position === "static") {
          parent = parent.parentElement;
        }
      }
      if (parent && parent !== document.body && style(parent).overflowX !== "visible"
          && parent.getBoundingClientRect().right <= limit) return true;
      node = parent;
    }
    return false;
  };
  const culprits = [...document.querySelectorAll("body *")]
    .filter(e => e.getBoundingClientRect().right > limit && !heldIn(e));
  return culprits
    .filter(e => !culprits.some(other => other !== e && e.contains(other)))
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}${e.className ? "." + e.className : ""}`
      + ` "${e.textContent.trim().slice(0, 40)}" (right edge`
      + ` ${Math.round(e.getBoundingClientRect().right)}px)`);
}"""
# Each message the file backend writes ends with a line of 79 dashes.
MAIL_SEPARATOR = re.compile(rb"^-{79}$", re.MULTILINE)

expect.set_options(timeout=TIMEOUT_MS)


# Marks and skips ----------------------------------------------------------------


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium; CI installs it)"
    return processes.missing_services()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Every test in this folder: e2e, slow, worker, transactional; skipped without the stack.

    `tryfirst`, so that `-m "not e2e"` and pytest-django's database setup see the marks.
    """
    reason = None
    for item in items:
        if HERE not in Path(str(item.path)).parents:
            continue
        item.add_marker(pytest.mark.e2e)
        item.add_marker(pytest.mark.slow)
        item.add_marker(pytest.mark.worker)
        item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))
        reason = reason or _skip_reason() or ""
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


# The browser ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "viewport": DESKTOP,
        "locale": "en-US",
        "timezone_id": settings.TIME_ZONE,
        # No smooth scrolling or animations: screenshots show the finished page.
        "reduced_motion": "reduce",
    }


@pytest.fixture
def context(new_context) -> BrowserContext:
    context = new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def new_page(new_context) -> Callable[[], Page]:
    """Another person in another browser: a fresh context, no cookies."""

    def make() -> Page:
        context = new_context()
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        return context.new_page()

    return make


# The stack -----------------------------------------------------------------------


@dataclass
class Stack:
    url: str
    site: processes.ServiceProcess
    worker: processes.CeleryWorker
    standin: processes.ServiceProcess
    mail_dir: Path

    def logs(self, lines: int = 60) -> str:
        return "\n".join(p.tail(lines) for p in (self.site, self.worker, self.standin))


@pytest.fixture(scope="module")
def stack(django_db_setup, tmp_path_factory) -> Iterator[Stack]:
    """The stand-in, a worker and gunicorn, on the test database, for this module.

    gunicorn's port is chosen first, so the stand-in knows where to send its webhooks
    before the site (which needs the stand-in's address) starts.
    """
    folder = tmp_path_factory.mktemp("e2e-stack")
    mail_dir = folder / "mail"
    private_media = folder / "private"
    mail_dir.mkdir()
    private_media.mkdir()
    port = processes.free_port()
    url = f"http://127.0.0.1:{port}"
    with processes.stripe_standin_process(
        webhook_url=url + WEBHOOK_PATH,
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        env={key: value for key, value in os.environ.items() if key != ASYNC_UNSAFE},
        log_dir=folder,
    ) as standin:
        env = processes.site_env(
            STRIPE_API_BASE=standin.url,
            SITE_URL=url,
            # Four slashes: django-environ reads `filemail:///tmp/x` as the relative `tmp/x`.
            EMAIL_URL=f"filemail:///{mail_dir}",
            # Not the developer's private_media/: uploads of this run stay in its tmp folder.
            PRIVATE_MEDIA_ROOT=str(private_media),
            **{ASYNC_UNSAFE: None},
        )
        with (
            processes.celery_worker(env, log_dir=folder) as worker,
            processes.gunicorn_server(env, port=port, log_dir=folder) as site,
        ):
            yield Stack(url=url, site=site, worker=worker, standin=standin, mail_dir=mail_dir)


@pytest.fixture(autouse=True)
def settled_stack(stack, request) -> Iterator[Stack]:
    """The worker finishes before the tables are emptied; the logs go with a failure."""
    failures = request.session.testsfailed
    yield stack
    try:
        stack.worker.wait_idle(timeout=20)
    finally:
        if request.session.testsfailed > failures:
            print(stack.logs(80))


@pytest.fixture(autouse=True)
def real_password_hashing(settings, fast_password_hashing):
    """The site's processes verify passwords with production's hashers, not the suite's MD5."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


# Helpers ---------------------------------------------------------------------------


def totp_code(user) -> str:
    """The code the user's authenticator app shows now, never one about to expire.

    allauth accepts the current 30-second step only (no tolerance), so a code read in
    the last two seconds of a step waits for the next one.
    """
    from allauth.mfa import app_settings

    period = app_settings.TOTP_PERIOD
    if period - time.time() % period < 2:
        time.sleep(period - time.time() % period + 0.1)
    return current_totp_code(totp_secret(user))


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str
    sender: str = ""


def _read_mail(folder: Path) -> list[Mail]:
    mails = []
    for path in sorted(folder.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name)):
        # The last piece is empty, or a message still being written: only complete ones count.
        for chunk in MAIL_SEPARATOR.split(path.read_bytes())[:-1]:
            message = email.message_from_bytes(chunk.strip(), policy=email.policy.default)
            part = message.get_body(preferencelist=("plain", "html"))
            mails.append(
                Mail(
                    to=[a.strip() for a in str(message.get("To", "")).split(",")],
                    subject=str(message.get("Subject", "")),
                    body=part.get_content() if part else "",
                    sender=str(message.get("From", "")),
                )
            )
    return mails


def sent_emails(stack: Stack, *, to: str) -> list[Mail]:
    """Every complete email the stack has sent to `to`, oldest first."""
    return [m for m in _read_mail(stack.mail_dir) if to in m.to]


def latest_email(stack: Stack, *, to: str, subject_contains: str, timeout: float = 15) -> Mail:
    """The newest email to `to` whose subject has the text, once the site has sent it."""

    def find() -> Mail | None:
        found = [
            m for m in _read_mail(stack.mail_dir) if to in m.to and subject_contains in m.subject
        ]
        return found[-1] if found else None

    return processes.wait_for(
        find,
        timeout=timeout,
        interval=0.1,
        message=f"an email to {to} about “{subject_contains}” in {stack.mail_dir}",
    )


def shot(page: Page, name: str, *, full_page: bool = True, scroll_to: str | None = None) -> Path:
    """`<name>.png` in the screenshots folder; `scroll_to` brings that element to the top."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if scroll_to:
        page.locator(scroll_to).evaluate(
            "element => element.scrollIntoView({block: 'start', behavior: 'instant'})"
        )
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def both_sizes(page: Page, name: str, *, full_page: bool = True, scroll_to: str | None = None):
    """`<name>-phone.png` (390x844) and `<name>-desktop.png` (1280x800) of the current page.

    At each size the page must fit its width: nothing may push it to scroll sideways.
    """
    before = page.viewport_size or DESKTOP
    for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(size)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (
            f"{page.url} scrolls sideways by {overflow}px at {label} size; too wide: "
            + ", ".join(page.evaluate(TOO_WIDE_JS))
        )
        shot(page, f"{name}-{label}", full_page=full_page, scroll_to=scroll_to)
    page.set_viewport_size(before)


def labelled(page: Page, label: str):
    """The field whose label is exactly `label`, with or without the required-field star."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


def price_row(page: Page, package_label: str):
    """The row of a package in the drug page's price table."""
    return page.locator("section.prices tbody tr").filter(has_text=package_label)


def add_to_cart(page: Page, stack: Stack, package_label: str, *, drug: str = "baclofen"):
    """From the drug page, as anyone does: the row's "Add to cart" button; ends on the cart."""
    page.goto(f"{stack.url}/medicines/{drug}/")
    price_row(page, package_label).get_by_role("button", name=re.compile("^Add to cart")).click()
    expect(page).to_have_url(re.compile(r"/cart/$"))
    expect(page.locator("table.cart tbody tr").filter(has_text=package_label)).to_have_count(1)


def sign_in(page: Page, stack: Stack, user) -> None:
    """A patient (made with tests.factories.PASSWORD) signs in through allauth's form."""
    page.goto(f"{stack.url}/accounts/login/")
    labelled(page, "Email").fill(user.email)
    labelled(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def admin_sign_in(page: Page, stack: Stack, staff) -> None:
    """Staff open the admin: allauth's sign-in, then the TOTP step, then the admin index."""
    page.goto(f"{stack.url}/admin/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=.*admin"))
    labelled(page, "Email").fill(staff.email)
    labelled(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.locator("input[name=code]").fill(totp_code(staff))
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def prescription_file(tmp_path: Path, patient) -> Path:
    """A one-page PDF prescription for `patient`, as a scanner would make it."""
    pdf = tmp_path / "baclofen-prescription.pdf"
    pdf.write_bytes(
        prescription_pdf(
            [
                "Dr. Grace Hopper, MD - NPI " + valid_npi(),
                f"Patient: {patient.first_name} {patient.last_name}",
                "Rx: Baclofen 20 mg tablets",
                "Sig: 1 tablet by mouth three times a day",
                "Disp: 30 tablets, no refills",
                f"Date: {timezone.localdate():%B %d, %Y}  ref {secrets.token_hex(4)}",
            ]
        )
    )
    return pdf

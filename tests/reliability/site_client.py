"""A visitor of the site under gunicorn, over real HTTP: cookies kept, redirects not followed.

The Django test client runs the view in the test process; these tests need the
request to go through gunicorn's processes, their own database connections and their
own Redis clients, which are what an outage breaks.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.test import Client

from tests.factories import sign_in

WEBHOOK_PATH = "/payments/stripe/webhook/"
ADDRESS = {
    "full_name": "Pat Jordan",
    "line1": "12 Elm Street",
    "line2": "",
    "city": "Springfield",
    "state": "NY",
    "zip_code": "10001",
    "phone": "",
}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    @property
    def location(self) -> str:
        return self.headers.get("location", "")


@dataclass
class SiteClient:
    """One browser: its cookies, a CSRF secret of its own, no redirects followed.

    The CSRF cookie is set by the client itself, as a browser that loaded a form would
    have it; Django accepts the unmasked secret as the form's token.
    """

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 15.0

    def __post_init__(self) -> None:
        self.csrf = secrets.token_hex(16)  # 32 characters: a valid CSRF secret
        self.cookies.setdefault(settings.CSRF_COOKIE_NAME, self.csrf)

    @classmethod
    def signed_in(cls, base_url: str, user, *, cart: dict[int, int] | None = None) -> SiteClient:
        """A browser whose session (database and Redis, like a real sign-in) is `user`'s."""
        client = sign_in(Client(), user)
        if cart:
            session = client.session
            session["cart"] = {str(pk): quantity for pk, quantity in cart.items()}
            session["cart_count"] = sum(cart.values())
            session.save()
        name = settings.SESSION_COOKIE_NAME
        return cls(base_url, cookies={name: client.cookies[name].value})

    @property
    def session_key(self) -> str | None:
        return self.cookies.get(settings.SESSION_COOKIE_NAME)

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = path if path.startswith("http") else self.base_url + path
        cookie = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        request = urllib.request.Request(  # noqa: S310 (http to the local test site)
            url, data=data, method=method, headers={"Cookie": cookie, **(headers or {})}
        )
        try:
            with _opener.open(request, timeout=self.timeout) as response:
                answer = Answer(response.status, self._headers(response), response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                answer = Answer(exc.code, self._headers(exc), exc.read())
        return answer

    def _headers(self, response) -> dict[str, str]:
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return {key.lower(): value for key, value in response.headers.items()}

    def get(self, path: str) -> Answer:
        return self.request("GET", path)

    def post_form(self, path: str, fields: dict[str, Any]) -> Answer:
        body = urlencode({"csrfmiddlewaretoken": self.csrf, **fields}).encode()
        return self.request(
            "POST",
            path,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def checkout(self) -> Answer:
        return self.post_form("/checkout/", ADDRESS)

    def sign_in(self, email: str, password: str) -> Answer:
        return self.post_form("/accounts/login/", {"login": email, "password": password})

    def post_webhook(self, payload: bytes, signature: str) -> Answer:
        return self.request(
            "POST",
            WEBHOOK_PATH,
            data=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
        )

"""The site behind nginx as deployed: deploy/nginx/'s locations in front of three gunicorn
pools, the catalog pages on one, the checkout, order pages and payment webhooks on
another and everything else on the third.

The pools are what keeps a drug page fast while checkouts queue, and a checkout fast
while carts queue (bench/load.py has the figures); these tests hold what a visitor
would notice: every page reaches the right pool and works, sessions are the same on
all, browsing goes on while the web pool is down, orders go on while the web pool is
down and carts while the checkout pool is, nginx never serves a private file and
refuses an oversized upload, and the example site configuration is one nginx accepts.
"""

import re
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devtools import nginx, processes
from tests.orders.factories import baclofen_package, make_patient
from tests.reliability.site_client import SiteClient

SKIP_REASON = processes.missing_services() or (
    None if nginx.nginx_binary() else "needs nginx (Debian: apt-get install nginx-light)"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or ""),
]
DRUG_PAGE = "/medicines/baclofen/"


@pytest.fixture(scope="module")
def pools(django_db_setup, tmp_path_factory):
    """The three gunicorn pools on the test database: {"web": ..., "catalog": ...,
    "checkout": ...}."""
    folder = tmp_path_factory.mktemp("nginx-front")
    env = processes.site_env(PRIVATE_MEDIA_ROOT=str(folder / "private"))
    for name in ("web", "catalog", "checkout"):
        (folder / name).mkdir()
    with (
        processes.gunicorn_server(env, workers=1, threads=2, log_dir=folder / "web") as web,
        processes.gunicorn_server(env, workers=1, threads=2, log_dir=folder / "catalog") as catalog,
        processes.gunicorn_server(
            env, workers=1, threads=2, log_dir=folder / "checkout"
        ) as checkout,
    ):
        yield {"web": web, "catalog": catalog, "checkout": checkout}


def port(process: processes.ServiceProcess) -> int:
    return urlsplit(process.url).port


@pytest.fixture
def front(pools, tmp_path):
    with nginx.nginx_front(
        web_port=port(pools["web"]),
        catalog_port=port(pools["catalog"]),
        checkout_port=port(pools["checkout"]),
        log_dir=tmp_path,
    ) as server:
        yield server


def test_catalog_pages_and_a_cart_work_through_nginx_with_one_session(front):
    visitor = SiteClient(front.url)
    assert "Our medicines" in visitor.get("/").text
    assert "Baclofen" in visitor.get("/?q=baclo").text
    page = visitor.get(DRUG_PAGE)
    assert page.status == 200 and "Packages and prices" in page.text
    package = baclofen_package()
    added = visitor.post_form("/cart/add/", {"package": package.pk, "quantity": 2})
    assert (added.status, added.location) == (302, "/cart/")
    assert package.label in visitor.get("/cart/").text
    # The session the web pool started is the catalog pool's too: the header counts the cart.
    assert (
        '<span class="badge">2<span class="visually-hidden"> packages'
        in visitor.get(DRUG_PAGE).text
    )


def test_a_signed_in_patient_sees_their_name_on_catalog_pages(front):
    patient = make_patient(first_name="Robin")
    browser = SiteClient.signed_in(front.url, patient)
    assert "Robin" in browser.get(DRUG_PAGE).text
    assert browser.get("/orders/").status == 200


def test_browsing_and_orders_go_on_while_the_web_pool_is_down(pools, tmp_path):
    nowhere = processes.free_port()  # the web pool stopped: nothing listens there
    with nginx.nginx_front(
        web_port=nowhere,
        catalog_port=port(pools["catalog"]),
        checkout_port=port(pools["checkout"]),
        log_dir=tmp_path,
    ) as server:
        visitor = SiteClient(server.url)
        assert visitor.get(DRUG_PAGE).status == 200
        assert visitor.get("/?q=baclo").status == 200
        assert visitor.get("/cart/").status == 502
        patient = SiteClient.signed_in(server.url, make_patient(first_name="Robin"))
        assert patient.get("/orders/").status == 200
        assert patient.get("/checkout/").status != 502  # the checkout pool answers
        # Stripe's webhooks reach the checkout pool: an unsigned one is refused by the
        # site (400), not lost at nginx (502).
        assert patient.post_webhook(b"{}", "t=1,v1=forged").status == 400


def test_carts_go_on_while_the_checkout_pool_is_down(pools, tmp_path):
    nowhere = processes.free_port()  # the checkout pool stopped
    with nginx.nginx_front(
        web_port=port(pools["web"]),
        catalog_port=port(pools["catalog"]),
        checkout_port=nowhere,
        log_dir=tmp_path,
    ) as server:
        visitor = SiteClient(server.url)
        assert visitor.get(DRUG_PAGE).status == 200
        assert visitor.get("/cart/").status == 200
        patient = SiteClient.signed_in(server.url, make_patient(first_name="Robin"))
        assert patient.get("/orders/").status == 502
        assert patient.get("/checkout/").status == 502
        assert patient.get("/payments/stripe/webhook/").status == 502


@pytest.mark.parametrize("path", ["/private_media/prescriptions/1/scan.pdf", "/media/x.pdf"])
def test_nginx_never_serves_a_private_file_nor_passes_the_request_on(front, path):
    answer = SiteClient(front.url).get(path)
    assert answer.status == 404
    assert "content-security-policy" not in answer.headers  # refused by nginx, not the site


def first_line_for_upload_of(front, megabytes: int) -> str:
    """What nginx answers a prescription upload's headers (`Expect: 100-continue`)."""
    with socket.create_connection(("127.0.0.1", urlsplit(front.url).port), timeout=10) as sock:
        sock.sendall(
            b"POST /account/prescriptions/new/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            + f"Content-Length: {megabytes * 1024 * 1024}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        return sock.makefile("rb").readline().decode().strip()


def test_an_upload_of_five_10_mb_files_passes_and_one_over_55_mb_is_refused_at_nginx(front):
    assert first_line_for_upload_of(front, 50) == "HTTP/1.1 100 Continue"
    assert first_line_for_upload_of(front, 56).startswith("HTTP/1.1 413")


def test_the_example_site_configuration_is_accepted_by_nginx(tmp_path):
    """deploy/nginx/pharmacy.conf with its include and certificate paths moved here."""
    deploy = Path(processes.ROOT) / "deploy" / "nginx"
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    subprocess.run(
        [*openssl, "-subj", "/CN=shop.example.com", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    site = (
        (deploy / "pharmacy.conf")
        .read_text()
        .replace("/etc/nginx/snippets/pharmacy-locations.conf", str(nginx.NGINX_LOCATIONS))
        .replace("/etc/letsencrypt/live/shop.example.com/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/shop.example.com/privkey.pem", str(key))
    )
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\n"
        f"http {{ access_log off; include {tmp_path}/site.conf; }}\n"
    )
    test = [nginx.nginx_binary(), "-t", "-c", str(tmp_path / "nginx.conf")]
    result = subprocess.run(
        [*test, "-p", str(tmp_path), "-e", "stderr"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_nginx_drops_idle_connections_to_gunicorn_before_gunicorn_does():
    """An idle kept-alive connection closed by gunicorn (after its keep-alive) at the
    moment nginx sends a request on it fails that request with a 502, and a POST (an
    order, a cart) is not retried: a load run saw one. Every upstream, deployed and
    tested, lets go of idle connections sooner than gunicorn does."""
    from gunicorn.config import Config

    gunicorn_keepalive = Config().keepalive  # seconds; no pool sets --keep-alive
    deployed = (Path(processes.ROOT) / "deploy" / "nginx" / "pharmacy.conf").read_text()
    tested = nginx.NGINX_CONF.format(
        folder="/x", port=1, web_port=2, catalog_port=3, checkout_port=4, locations="/x"
    )
    for conf in (deployed, tested):
        upstreams = re.findall(r"upstream (\w+) \{([^}]*)\}", conf)
        assert {name for name, _ in upstreams} == {
            "pharmacy_web",
            "pharmacy_catalog",
            "pharmacy_checkout",
        }
        for name, body in upstreams:
            timeout = re.search(r"keepalive_timeout (\d+)s;", body)
            assert timeout and int(timeout.group(1)) < gunicorn_keepalive, name

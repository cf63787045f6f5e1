"""nginx as deployed (deploy/nginx/), on loopback, in front of the gunicorn pools.

`bench/load.py` measures the site through it and `tests/integration/test_nginx_front.py`
tests it: both include the very locations file the example site includes, so what
is measured and tested is what is deployed. Start the pools first
(`devtools.processes.gunicorn_server`), then:

    with nginx_front(web_port=..., catalog_port=..., checkout_port=...) as nginx:
        ...  # nginx.url

Without `checkout_port`, the web pool answers the checkout's pages too (two pools).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.processes import ROOT, ProcessError, ServiceProcess, _log_dir, _running, free_port

NGINX_LOCATIONS = ROOT / "deploy" / "nginx" / "pharmacy-locations.conf"
# deploy/nginx/pharmacy.conf on loopback: plain HTTP, no server name, no static files
# (whitenoise serves them), the same locations (included from the repository), the
# same upstream keep-alive (closed by nginx before gunicorn's 2 s would close it).
NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {folder}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 2048; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream pharmacy_web {{ server 127.0.0.1:{web_port} fail_timeout=0; keepalive 32; keepalive_timeout 1s; }}
    upstream pharmacy_catalog {{ server 127.0.0.1:{catalog_port} fail_timeout=0; keepalive 32; keepalive_timeout 1s; }}
    upstream pharmacy_checkout {{ server 127.0.0.1:{checkout_port} fail_timeout=0; keepalive 32; keepalive_timeout 1s; }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 55m;
        include {locations};
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


@contextmanager
def nginx_front(
    *,
    web_port: int,
    catalog_port: int,
    checkout_port: int | None = None,
    port: int | None = None,
    log_dir: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[ServiceProcess]:
    """nginx as deployed (deploy/nginx/): catalog pages to the gunicorn on
    `catalog_port`, the checkout, order pages and payment webhooks to the one on
    `checkout_port` (`web_port` when not given), everything else to the one on
    `web_port`; serving when this yields (it does not wait for the pools: start them
    first)."""
    nginx = nginx_binary()
    if nginx is None:
        raise ProcessError("nginx is not installed (Debian: apt-get install nginx-light).")
    port = port or free_port()
    with _log_dir(log_dir, "nginx") as parent:
        folder = parent / "nginx"
        folder.mkdir(exist_ok=True)
        conf = folder / "nginx.conf"
        conf.write_text(
            NGINX_CONF.format(
                folder=folder,
                port=port,
                web_port=web_port,
                catalog_port=catalog_port,
                checkout_port=checkout_port or web_port,
                locations=NGINX_LOCATIONS,
            )
        )
        args = [nginx, "-c", str(conf), "-p", str(folder), "-e", "stderr"]
        server = ServiceProcess("nginx", args, env=dict(os.environ), log_path=folder / "nginx.log")
        server.url = f"http://127.0.0.1:{port}"
        with _running(server, lambda: _listening(port), timeout):
            yield server


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False

"""A local telemedicine partner, for `make run` and the tests: the other side of the
pharmacy's outbound requests (renewals), as a partner's system would be.

It receives the pharmacy's signed requests at `/requests` (checking the signature
with the partner's secret, keeping one request per `X-Request-Id` however often it is
delivered), and shows them to a clinician at `/` with *Approve* and *Decline*.
Approving sends a new prescription to the pharmacy's intake, signed, naming the one
it renews; declining posts the reason to the pharmacy. `/_standin/down` and
`/_standin/up` make it answer 503 for a while, as a partner outage.

`make run` serves it as the demo partner (`manage.py partner_standin`), whose
requests URL it sets; tests start it in a thread (`PartnerStandin(...).start()`).
"""

from __future__ import annotations

import html
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from prescriptions.intake import PARTNER_HEADER, SIGNATURE_HEADER, sign, verify_signature

# A valid NPI (check digit included) for the stand-in's clinician.
CLINICIAN_NPI = "1234567893"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Received:
    request_id: str
    payload: dict
    deliveries: int = 1
    answer: str = ""  # "" | "approved: <id>" | "declined"


@dataclass
class PartnerStandin:
    slug: str
    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    down: bool = False
    received: dict[str, Received] = field(default_factory=dict)

    def start(self) -> PartnerStandin:
        standin = self

        class Handler(_Handler):
            owner = standin

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests_url(self) -> str:
        return f"{self.url}/requests"

    # The clinician's answers ------------------------------------------------------

    def _send(self, url: str, body: dict) -> tuple[int, dict]:
        raw = json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (the pharmacy's own address)
            url,
            data=raw,
            method="POST",
            headers={
                "Content-Type": "application/json",
                PARTNER_HEADER: self.slug,
                SIGNATURE_HEADER: sign(secret=self.secret, body=raw, timestamp=int(time.time())),
            },
        )
        try:
            with NO_PROXY.open(request, timeout=20) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def approve(self, request_id: str) -> tuple[int, dict]:
        """Write the renewal as the clinician would, and send it to the pharmacy."""
        item = self.received[request_id]
        asked = item.payload
        name = (asked["patient"].get("name") or "").split(" ", 1)
        directions = asked.get("directions") or {}
        per_dose = directions.get("units_per_dose")
        status, body = self._send(
            asked["answer"]["prescription"],
            {
                "prescription_id": f"{asked['prescription_id']}-R{len(self.received)}",
                "renews": asked["answer"]["renews"],
                "patient": {
                    "email": asked["patient"]["email"],
                    "first_name": name[0],
                    "last_name": name[1] if len(name) > 1 else "",
                    "date_of_birth": asked["patient"]["date_of_birth"],
                },
                "prescriber": {
                    "name": "Dr. Sam Rivera (partner clinician)",
                    "npi": CLINICIAN_NPI,
                    "state_license": "NY-000001",
                },
                "medication": {k: asked["medication"][k] for k in ("drug", "form", "strength")},
                "directions": {
                    "text": directions.get("text") or "",
                    "units_per_dose": float(per_dose) if per_dose else None,
                    "doses_per_day": directions.get("doses_per_day"),
                },
                "quantity": asked.get("quantity"),
                "refills": asked.get("refills") or 0,
                "date_written": date.today().isoformat(),
            },
        )
        if status in (200, 201):
            item.answer = f"approved: {body.get('id')}"
        return status, body

    def decline(self, request_id: str, reason: str) -> tuple[int, dict]:
        status, body = self._send(
            self.received[request_id].payload["answer"]["decline"], {"reason": reason}
        )
        if status == 200:
            self.received[request_id].answer = "declined"
        return status, body


class _Handler(BaseHTTPRequestHandler):
    owner: PartnerStandin

    def log_message(self, format, *args):  # quiet: the tests and make run read their own logs
        pass

    def _reply(self, status: int, body: str, content_type="application/json") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        if self.path != "/":
            return self._reply(404, '{"error": "not found"}')
        rows = "".join(
            f"<li><p><strong>{html.escape(r.payload.get('type', ''))}</strong> for "
            f"{html.escape(str(r.payload['patient'].get('name')))}: "
            f"{html.escape(str(r.payload['medication']))} ({html.escape(r.payload.get('reason', ''))})"
            f"{' — ' + html.escape(r.answer) if r.answer else ''}</p>"
            + (
                ""
                if r.answer
                else f'<form method="post" action="/requests/{r.request_id}/approve">'
                '<button type="submit">Approve</button></form>'
                f'<form method="post" action="/requests/{r.request_id}/decline">'
                f'<label for="reason-{r.request_id}">Reason</label> '
                f'<input id="reason-{r.request_id}" name="reason" required>'
                '<button type="submit">Decline</button></form>'
            )
            + "</li>"
            for r in self.owner.received.values()
        )
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Partner clinician (stand-in)</title><main><h1>Requests from the pharmacy</h1>"
            f"<ul>{rows or '<li>No request yet.</li>'}</ul></main></html>"
        )
        self._reply(200, page, "text/html; charset=utf-8")

    def do_POST(self):
        owner, body = self.owner, self._body()
        if self.path in ("/_standin/down", "/_standin/up"):
            owner.down = self.path.endswith("down")
            return self._reply(200, json.dumps({"down": owner.down}))
        if self.path == "/requests":
            if owner.down:
                return self._reply(503, '{"error": "partner down (stand-in)"}')
            try:
                verify_signature(
                    secret=owner.secret,
                    header=self.headers.get(SIGNATURE_HEADER),
                    body=body,
                    now=int(time.time()),
                )
            except Exception as exc:
                return self._reply(401, json.dumps({"error": str(exc)}))
            request_id = self.headers.get("X-Request-Id", "")
            if not request_id:
                return self._reply(400, '{"error": "X-Request-Id is required"}')
            if request_id in owner.received:
                owner.received[request_id].deliveries += 1
            else:
                owner.received[request_id] = Received(request_id, json.loads(body))
            return self._reply(202, json.dumps({"received": request_id}))
        parts = self.path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "requests" and parts[1] in owner.received:
            if parts[2] == "approve":
                status, answer = owner.approve(parts[1])
            elif parts[2] == "decline":
                reason = parse_qs(body.decode()).get("reason", ["Not appropriate"])[0]
                status, answer = owner.decline(parts[1], reason)
            else:
                return self._reply(404, '{"error": "not found"}')
            if status >= 400:
                return self._reply(502, json.dumps({"pharmacy_answered": status, **answer}))
            self.send_response(303)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._reply(404, '{"error": "not found"}')

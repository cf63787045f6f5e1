"""A local telemedicine partner, for `make run` and the tests: the other side of the
pharmacy's outbound requests (renewals and consultations), as a partner's system
would be.

It receives the pharmacy's signed requests at `/requests`, as our JSON or as a FHIR
R4 Bundle (checking the signature with the partner's secret, keeping one request per
`X-Request-Id` however often it is delivered), and shows them to a clinician at `/`
with *Approve* and *Decline*. Approving sends a prescription to the pharmacy's
intake, signed, naming the one it renews or the consultation it answers (as JSON for
a JSON request, as a FHIR MedicationRequest for a FHIR one); declining posts the
reason to the pharmacy. `/_standin/down` and
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
CLINICIAN = "Dr. Sam Rivera (partner clinician)"
FHIR_JSON = "application/fhir+json"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# What the clinician writes for a consultation, when the request carries no directions.
FIRST_DIRECTIONS = {"text": "1 three times a day", "units_per_dose": 1, "doses_per_day": 3}
FIRST_QUANTITY = 90
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Received:
    request_id: str
    payload: dict  # our JSON; a FHIR request read into the same shape (`from_fhir`)
    deliveries: int = 1
    answer: str = ""  # "" | "approved: <id>" | "declined"
    fhir: dict | None = None  # the Bundle as received, for a FHIR request


def from_fhir(bundle: dict) -> dict:
    """A FHIR request Bundle (Task, Patient, MedicationRequest proposal, and for a
    consultation a QuestionnaireResponse) read into the shape of our JSON request."""
    by_url = {e["fullUrl"]: e["resource"] for e in bundle.get("entry", [])}
    task = next(r for r in by_url.values() if r["resourceType"] == "Task")
    patient = by_url[task["for"]["reference"]]
    proposal = by_url[task["focus"]["reference"]]
    inputs = {i["type"]["text"]: i["valueUrl"] for i in task.get("input", [])}
    name = patient["name"][0]
    email = next(t["value"] for t in patient.get("telecom", []) if t["system"] == "email")
    concept = proposal["medicationCodeableConcept"]
    rxnorm = next((c["code"] for c in concept.get("coding", []) if c["system"] == RXNORM), None)
    prior = (proposal.get("priorPrescription") or {}).get("identifier", {}).get("value")
    dosage = (proposal.get("dosageInstruction") or [{}])[0]
    answers = [by_url[ref["reference"]] for ref in proposal.get("supportingInformation", [])]
    return {
        "type": "renewal_request" if prior else "consultation_request",
        "prescription_id": prior,
        "reason": task.get("description", ""),
        "patient": {
            "email": email,
            "name": name.get("text"),
            "first_name": " ".join(name.get("given", [])),
            "last_name": name.get("family", ""),
            "date_of_birth": patient.get("birthDate"),
        },
        "medication": {"text": concept.get("text"), "rxnorm": rxnorm},
        "directions": {
            "text": dosage.get("text"),
            "units_per_dose": (dosage.get("doseAndRate") or [{}])[0]
            .get("doseQuantity", {})
            .get("value"),
            "doses_per_day": dosage.get("timing", {}).get("repeat", {}).get("frequency"),
        }
        if dosage
        else None,
        "quantity": proposal.get("dispenseRequest", {}).get("quantity", {}).get("value"),
        "refills": proposal.get("dispenseRequest", {}).get("numberOfRepeatsAllowed"),
        "questionnaire": [
            {"question": item.get("text"), "answer": _fhir_answer(item)}
            for response in answers
            for item in response.get("item", [])
        ],
        "answer": {
            "prescription_fhir": inputs["answer-prescription"],
            "decline": inputs["answer-decline"],
            "renews": prior,
            "consultation": task["identifier"][0]["value"],
        },
    }


def _fhir_answer(item: dict) -> str:
    for answer in item.get("answer", []):
        if "valueBoolean" in answer:
            return "yes" if answer["valueBoolean"] else "no"
        return str(answer.get("valueString", ""))
    return ""


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

    def _send(self, url: str, body: dict, content_type="application/json") -> tuple[int, dict]:
        raw = json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (the pharmacy's own address)
            url,
            data=raw,
            method="POST",
            headers={
                "Content-Type": content_type,
                PARTNER_HEADER: self.slug,
                SIGNATURE_HEADER: sign(secret=self.secret, body=raw, timestamp=int(time.time())),
            },
        )
        try:
            with NO_PROXY.open(request, timeout=20) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def _prescription_id(self, item: Received) -> str:
        asked = item.payload
        if asked["type"] == "renewal_request":
            return f"{asked['prescription_id']}-R{len(self.received)}"
        return f"CONSULT-{item.request_id[:8]}"

    def _written(self, asked: dict) -> tuple[dict, int, int]:
        """The directions, quantity and refills the clinician writes."""
        if asked["type"] == "renewal_request" and asked.get("directions"):
            directions = dict(asked["directions"])
            per_dose = directions.get("units_per_dose")
            directions["units_per_dose"] = float(per_dose) if per_dose else None
            return directions, asked.get("quantity"), asked.get("refills") or 0
        return dict(FIRST_DIRECTIONS), FIRST_QUANTITY, 0

    def approve(self, request_id: str) -> tuple[int, dict]:
        """Write the prescription as the clinician would, and send it to the pharmacy:
        a renewal naming the prescription it renews, or the consultation's answer."""
        item = self.received[request_id]
        if item.fhir is not None:
            return self._approve_fhir(item)
        asked = item.payload
        name = (asked["patient"].get("name") or "").split(" ", 1)
        directions, quantity, refills = self._written(asked)
        link = (
            {"renews": asked["answer"]["renews"]}
            if asked["type"] == "renewal_request"
            else {"consultation": asked["answer"]["consultation"]}
        )
        status, body = self._send(
            asked["answer"]["prescription"],
            {
                "prescription_id": self._prescription_id(item),
                **link,
                "patient": {
                    "email": asked["patient"]["email"],
                    "first_name": asked["patient"].get("first_name") or name[0],
                    "last_name": asked["patient"].get("last_name")
                    or (name[1] if len(name) > 1 else ""),
                    "date_of_birth": asked["patient"]["date_of_birth"],
                },
                "prescriber": {
                    "name": CLINICIAN,
                    "npi": CLINICIAN_NPI,
                    "state_license": "NY-000001",
                },
                "medication": {k: asked["medication"][k] for k in ("drug", "form", "strength")},
                "directions": directions,
                "quantity": quantity,
                "refills": refills,
                "date_written": date.today().isoformat(),
            },
        )
        if status in (200, 201):
            item.answer = f"approved: {body.get('id')}"
        return status, body

    def _approve_fhir(self, item: Received) -> tuple[int, dict]:
        """The same answer as a FHIR MedicationRequest, its patient and prescriber
        contained, to the pharmacy's FHIR intake."""
        asked = item.payload
        directions, quantity, refills = self._written(asked)
        patient = asked["patient"]
        request = {
            "resourceType": "MedicationRequest",
            "contained": [
                {
                    "resourceType": "Patient",
                    "id": "patient",
                    "name": [{"family": patient["last_name"], "given": [patient["first_name"]]}],
                    "telecom": [{"system": "email", "value": patient["email"]}],
                    "birthDate": patient["date_of_birth"],
                },
                {
                    "resourceType": "Practitioner",
                    "id": "clinician",
                    "name": [{"text": CLINICIAN}],
                    "identifier": [
                        {"system": "http://hl7.org/fhir/sid/us-npi", "value": CLINICIAN_NPI}
                    ],
                },
            ],
            "identifier": [{"value": self._prescription_id(item)}],
            "status": "active",
            "intent": "order",
            "subject": {"reference": "#patient"},
            "requester": {"reference": "#clinician"},
            "authoredOn": date.today().isoformat(),
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": asked["medication"]["rxnorm"]}]
            },
            "dosageInstruction": [
                {
                    "text": directions["text"],
                    "timing": {
                        "repeat": {
                            "frequency": directions["doses_per_day"],
                            "period": 1,
                            "periodUnit": "d",
                        }
                    },
                    "doseAndRate": [{"doseQuantity": {"value": directions["units_per_dose"]}}],
                }
            ],
            "dispenseRequest": {"quantity": {"value": quantity}, "numberOfRepeatsAllowed": refills},
        }
        if asked["type"] == "renewal_request":
            request["priorPrescription"] = {"identifier": {"value": asked["answer"]["renews"]}}
        else:
            request["basedOn"] = [{"identifier": {"value": asked["answer"]["consultation"]}}]
        status, body = self._send(asked["answer"]["prescription_fhir"], request, FHIR_JSON)
        if status in (200, 201):
            said = body["issue"][0]["diagnostics"]  # "Received as prescription 12 (submitted)."
            item.answer = f"approved: {said.split('prescription ')[1].split(' ')[0]}"
        return status, body

    def decline(self, request_id: str, reason: str) -> tuple[int, dict]:
        status, body = self._send(
            self.received[request_id].payload["answer"]["decline"], {"reason": reason}
        )
        if status == 200:
            self.received[request_id].answer = "declined"
        return status, body


def _questionnaire(payload: dict) -> str:
    items = payload.get("questionnaire") or []
    if not items:
        return ""
    rows = "".join(
        f"<div><dt>{html.escape(str(i.get('question')))}</dt>"
        f"<dd>{html.escape(str(i.get('answer') or 'not answered'))}</dd></div>"
        for i in items
    )
    return f"<details><summary>The patient's answers</summary><dl>{rows}</dl></details>"


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
            f"<li><p><strong>{html.escape(r.payload.get('type', ''))}</strong>"
            f"{' (FHIR)' if r.fhir else ''} for "
            f"{html.escape(str(r.payload['patient'].get('name')))}: "
            f"{html.escape(str(r.payload['medication']))} ({html.escape(r.payload.get('reason', ''))})"
            f"{' — ' + html.escape(r.answer) if r.answer else ''}</p>"
            + _questionnaire(r.payload)
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
                data = json.loads(body)
                fhir = data if data.get("resourceType") == "Bundle" else None
                owner.received[request_id] = Received(
                    request_id, from_fhir(data) if fhir else data, fhir=fhir
                )
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

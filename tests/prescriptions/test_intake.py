"""The pure parts of the telemedicine intake: signatures, payload rules, example command."""

import copy
import hashlib
import hmac
import json
import socket
import threading
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.models import DosageForm
from prescriptions.intake import (
    SIGNATURE_HEADER,
    IntakeData,
    IntakeError,
    SignatureError,
    parse_body,
    parse_prescription,
    sign,
    verify_signature,
)
from prescriptions.models import TelemedicinePartner

SECRET = "tmsec_test-secret"
NOW = 1_800_000_000
BODY = b'{"prescription_id": "TM-2026-000123"}'
TODAY = date(2026, 11, 25)


# --- signatures -----------------------------------------------------------------------


def signed(body: bytes = BODY, *, secret: str = SECRET, timestamp: int = NOW) -> str:
    return sign(secret=secret, body=body, timestamp=timestamp)


def test_sign_output_verifies_and_returns_the_matched_signature():
    header = signed()
    assert verify_signature(secret=SECRET, header=header, body=BODY, now=NOW) == header[-64:]


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signed() == f"t={NOW},v1={expected}"


def test_any_one_of_several_v1_signatures_is_enough():
    good = signed()[-64:]
    old = signed(secret="tmsec_the-old-secret")[-64:]
    header = f"t={NOW}, v1={old}, v1={good}"
    assert verify_signature(secret=SECRET, header=header, body=BODY, now=NOW) == good


def test_unknown_signature_schemes_beside_v1_are_ignored():
    header = f"{signed()},v0=whatever"
    assert verify_signature(secret=SECRET, header=header, body=BODY, now=NOW)


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_signature_header_is_refused(header):
    with pytest.raises(SignatureError, match="Missing Telemedicine-Signature header"):
        verify_signature(secret=SECRET, header=header, body=BODY, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={'a' * 64}",  # no timestamp
        f"t=abc,v1={'a' * 64}",
        f"t={NOW},t={NOW},v1={'a' * 64}",
        f"t={NOW}",  # no signature
        f"t={NOW},v1=not-hex",
        f"t={NOW},v1={'a' * 63}",
        f"t={NOW},v1={'é' * 64}",
        f"t={'9' * 5000},v1={'a' * 64}",
    ],
)
def test_malformed_signature_header_is_refused(header):
    with pytest.raises(SignatureError, match="Malformed"):
        verify_signature(secret=SECRET, header=header, body=BODY, now=NOW)


def test_signature_made_with_another_secret_is_refused():
    with pytest.raises(SignatureError, match="No v1 signature matches"):
        verify_signature(secret=SECRET, header=signed(secret="tmsec_wrong"), body=BODY, now=NOW)


def test_body_changed_by_one_byte_is_refused():
    changed = BODY.replace(b"123", b"124")
    assert len(changed) == len(BODY)
    with pytest.raises(SignatureError, match="No v1 signature matches"):
        verify_signature(secret=SECRET, header=signed(), body=changed, now=NOW)


def test_empty_secret_never_verifies():
    header = signed(secret="")
    with pytest.raises(SignatureError, match="No signing secret"):
        verify_signature(secret="", header=header, body=BODY, now=NOW)


def test_timestamp_301_seconds_old_is_refused_as_stale():
    with pytest.raises(SignatureError, match="stale"):
        verify_signature(secret=SECRET, header=signed(timestamp=NOW - 301), body=BODY, now=NOW)


def test_timestamp_300_seconds_old_is_accepted():
    header = signed(timestamp=NOW - 300)
    assert verify_signature(secret=SECRET, header=header, body=BODY, now=NOW)


def test_timestamp_in_the_future_is_refused():
    with pytest.raises(SignatureError, match="in the future"):
        verify_signature(secret=SECRET, header=signed(timestamp=NOW + 1), body=BODY, now=NOW)


def test_tolerance_can_be_narrowed():
    with pytest.raises(SignatureError, match="stale"):
        verify_signature(
            secret=SECRET, header=signed(timestamp=NOW - 61), body=BODY, now=NOW, tolerance=60
        )


# --- body -------------------------------------------------------------------------------


def test_body_parses_into_a_dict_with_exact_decimals():
    assert parse_body(b'{"units_per_dose": 0.1, "quantity": 90}') == {
        "units_per_dose": Decimal("0.1"),
        "quantity": 90,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Invalid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"a string"', "must be a JSON object"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"quantity": NaN}', "NaN is not valid JSON"),
        (b'{"quantity": 1, "quantity": 2}', "duplicate key 'quantity'"),
        (b"[" * 100_000, "Invalid JSON"),
    ],
)
def test_invalid_body_is_refused_under_the_body_key(body, message):
    with pytest.raises(IntakeError) as caught:
        parse_body(body)
    assert list(caught.value.errors) == ["body"]
    assert message in caught.value.errors["body"][0]


# --- payload ----------------------------------------------------------------------------

VALID = {
    "prescription_id": "TM-2026-000123",
    "patient": {
        "email": "Ada@Example.com",
        "first_name": " Ada ",
        "last_name": "Lovelace",
        "date_of_birth": "1980-05-17",
    },
    "prescriber": {"name": "Dr. Grace Hopper", "npi": "1234567893", "state_license": "NY-123456"},
    "medication": {"drug": "baclofen", "form": "tablet", "strength": "10 mg"},
    "directions": {
        "text": "Take 1 tablet by mouth three times a day",
        "units_per_dose": 1,
        "doses_per_day": 3,
    },
    "quantity": 90,
    "refills": 2,
    "date_written": "2026-11-20",
}


def payload(**changes) -> dict:
    """VALID with changes; a key "patient__email" sets a nested field, None removes it."""
    result = copy.deepcopy(VALID)
    for key, value in changes.items():
        *parents, leaf = key.split("__")
        target = result
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return result


def errors_of(data: dict) -> dict[str, list[str]]:
    with pytest.raises(IntakeError) as caught:
        parse_prescription(data, today=TODAY)
    return caught.value.errors


def test_valid_example_parses_into_intake_data_with_the_10_mg_tablet(baclofen):
    data = parse_prescription(payload(), today=TODAY)
    tablet_10 = baclofen.formulations.get(form=DosageForm.TABLET, strength_label="10 mg")
    assert data == IntakeData(
        partner_reference="TM-2026-000123",
        patient_email="ada@example.com",
        patient_first_name="Ada",
        patient_last_name="Lovelace",
        patient_date_of_birth=date(1980, 5, 17),
        prescriber_name="Dr. Grace Hopper",
        prescriber_npi="1234567893",
        prescriber_license="NY-123456",
        drug=baclofen,
        formulation=tablet_10,
        directions="Take 1 tablet by mouth three times a day",
        units_per_dose=Decimal("1.00"),
        doses_per_day=3,
        quantity=90,
        refills=2,
        date_written=date(2026, 11, 20),
    )


def test_valid_example_as_a_signed_body_parses(baclofen):
    body = json.dumps(payload(directions__units_per_dose=0.5)).encode()
    data = parse_prescription(parse_body(body), today=TODAY)
    assert data.units_per_dose == Decimal("0.50")


@pytest.mark.parametrize("strength", ["10MG", "10mg", " 10  Mg ", "10 mg"])
def test_strength_matches_ignoring_case_and_spaces(baclofen, strength):
    data = parse_prescription(payload(medication__strength=strength), today=TODAY)
    assert data.formulation.strength_label == "10 mg"


@pytest.mark.parametrize("drug", ["Baclofen", "BACLOFEN"])
def test_drug_matches_by_slug_or_name_ignoring_case(baclofen, drug):
    assert parse_prescription(payload(medication__drug=drug), today=TODAY).drug == baclofen


def test_unpublished_drug_is_unknown(baclofen):
    baclofen.is_published = False
    baclofen.save()
    assert "unknown drug" in errors_of(payload())["medication.drug"][0]


def test_optional_fields_default(baclofen):
    data = parse_prescription(payload(refills=None, prescriber__state_license=None), today=TODAY)
    assert (data.refills, data.prescriber_license) == (0, "")


def test_unlabelled_oral_solution_is_selected_by_an_empty_strength(baclofen):
    data = parse_prescription(
        payload(medication__form="oral_solution", medication__strength=""), today=TODAY
    )
    assert data.formulation.form == DosageForm.ORAL_SOLUTION


def test_intrathecal_is_accepted_here_and_left_to_the_pharmacist_checks(baclofen):
    data = parse_prescription(
        payload(medication__form="intrathecal", medication__strength=""), today=TODAY
    )
    assert data.formulation.form == DosageForm.INTRATHECAL
    assert not data.formulation.sellable


def test_unknown_top_level_keys_are_ignored(baclofen):
    assert parse_prescription(payload(note="extra"), today=TODAY).quantity == 90


def test_date_written_exactly_a_year_ago_is_accepted(baclofen):
    data = parse_prescription(payload(date_written="2025-11-25"), today=TODAY)
    assert data.date_written == date(2025, 11, 25)


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        ({"medication__drug": "aspirin"}, "medication.drug", "unknown drug"),
        (
            {"medication__strength": "15 mg"},
            "medication.strength",
            "unknown strength for baclofen tablet",
        ),
        ({"medication__form": "patch"}, "medication.form", "unknown form 'patch'"),
        ({"medication__strength": None}, "medication.strength", "This field is required."),
        ({"prescriber__npi": "1234567890"}, "prescriber.npi", "fails the NPI check digit"),
        ({"prescriber__npi": "123456789"}, "prescriber.npi", "exactly 10 digits"),
        ({"prescriber__npi": 1234567893}, "prescriber.npi", "Must be a string"),
        ({"quantity": 0}, "quantity", "quantity out of range (1-1000)"),
        ({"quantity": 1001}, "quantity", "quantity out of range (1-1000)"),
        ({"quantity": "90"}, "quantity", "Must be a JSON integer, not a string"),
        ({"quantity": 90.0}, "quantity", "not a number with a decimal point"),
        ({"quantity": Decimal("90.0")}, "quantity", "not a number with a decimal point"),
        ({"quantity": True}, "quantity", "not true/false"),
        ({"refills": True}, "refills", "not true/false"),
        ({"refills": 12}, "refills", "refills out of range (0-11)"),
        ({"directions__doses_per_day": 13}, "directions.doses_per_day", "out of range (1-12)"),
        ({"directions__units_per_dose": 0}, "directions.units_per_dose", "out of range"),
        ({"directions__units_per_dose": 100.5}, "directions.units_per_dose", "out of range"),
        ({"directions__units_per_dose": "1"}, "directions.units_per_dose", "not a string"),
        ({"directions__units_per_dose": 0.125}, "directions.units_per_dose", "2 decimal"),
        ({"date_written": "2026-11-26"}, "date_written", "date_written is in the future"),
        (
            {"date_written": (TODAY - timedelta(days=400)).isoformat()},
            "date_written",
            "the prescription has expired",
        ),
        ({"date_written": "20/11/2026"}, "date_written", "YYYY-MM-DD"),
        ({"date_written": "20261120"}, "date_written", "YYYY-MM-DD"),
        ({"date_written": "2026-02-30"}, "date_written", "not a calendar date"),
        ({"patient__email": None}, "patient.email", "This field is required."),
        ({"patient__email": "not-an-email"}, "patient.email", "valid email address"),
        ({"patient__email": "ada@xn--zz.example.com"}, "patient.email", "not valid IDNA"),
        ({"patient__email": "ada@clinic.test"}, "patient.email", "special-use or reserved"),
        ({"patient__first_name": "Ada\x00"}, "patient.first_name", "NUL"),
        ({"patient__last_name": "   "}, "patient.last_name", "blank"),
        ({"patient__last_name": "x" * 151}, "patient.last_name", "at most 150 characters"),
        ({"prescription_id": "x" * 101}, "prescription_id", "at most 100 characters"),
        ({"directions__text": "x" * 501}, "directions.text", "at most 500 characters"),
        ({"patient__date_of_birth": "2026-11-26"}, "patient.date_of_birth", "in the future"),
        ({"patient__date_of_birth": "1896-01-01"}, "patient.date_of_birth", "130 years"),
        ({"patient": None}, "patient", "This field is required."),
        ({"prescriber": "Dr. Hopper"}, "prescriber", "Must be a JSON object"),
    ],
)
def test_invalid_field_is_refused_and_named(baclofen, changes, path, message):
    errors = errors_of(payload(**changes))
    assert list(errors) == [path]
    assert message in " ".join(errors[path])


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("Ada@Example.COM", "ada@example.com"),
        ("ada@Bücher.example.com", "ada@xn--bcher-kva.example.com"),
        # A dotless i (U+0131) stays apart from the i of the real domain.
        ("dan@cl\u0131nic.example.com", "dan@xn--clnic-o4a.example.com"),
    ],
)
def test_the_patient_address_is_kept_in_its_canonical_form(baclofen, sent, stored):
    data = parse_prescription(payload(patient__email=sent), today=TODAY)
    assert data.patient_email == stored


def test_unknown_strength_lists_the_known_ones(baclofen):
    message = errors_of(payload(medication__strength="15 mg"))["medication.strength"][0]
    assert "'10 mg'" in message
    assert "'20 mg'" in message


def test_form_the_drug_does_not_come_in_is_reported_on_the_form(baclofen):
    baclofen.formulations.filter(form=DosageForm.ORAL_SOLUTION).delete()
    errors = errors_of(payload(medication__form="oral_solution", medication__strength=""))
    assert list(errors) == ["medication.form"]
    assert "unknown strength for baclofen oral_solution" in errors["medication.form"][0]


def test_every_bad_field_is_reported_at_once(baclofen):
    errors = errors_of(
        payload(
            prescriber__npi="1234567890",
            medication__drug="aspirin",
            quantity=0,
            refills=True,
            date_written="2027-01-01",
            patient__email=None,
        )
    )
    assert set(errors) == {
        "prescriber.npi",
        "medication.drug",
        "quantity",
        "refills",
        "date_written",
        "patient.email",
    }


def test_intake_error_message_summarises_every_field(baclofen):
    with pytest.raises(IntakeError, match=r"quantity: quantity out of range.*refills"):
        parse_prescription(payload(quantity=0, refills=-1), today=TODAY)


def test_payload_that_is_not_an_object_is_refused():
    assert errors_of([1, 2]) == {"body": ["The body must be a JSON object, not an array."]}


# --- the example command ----------------------------------------------------------------


def printed_request(output: str) -> tuple[dict[str, str], bytes]:
    """Headers and body from the --print-only output: headers, blank line, body."""
    lines = output.splitlines()
    blank = lines.index("")
    headers = dict(line.split(": ", 1) for line in lines[1:blank])
    return headers, lines[blank + 1].encode()


def test_print_only_prints_a_body_whose_signature_verifies(capsys, baclofen):
    call_command("send_example_prescription", "--print-only", "--secret", SECRET)
    output = capsys.readouterr().out
    headers, body = printed_request(output)
    now = int(headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
    assert verify_signature(secret=SECRET, header=headers[SIGNATURE_HEADER], body=body, now=now)
    assert headers["X-Partner"] == "demo-telehealth"
    assert "curl -sS -X POST http://127.0.0.1:8000/api/telemedicine/prescriptions/" in output
    # The example is itself a valid prescription (written today, valid NPI).
    data = parse_prescription(parse_body(body), today=timezone.localdate())
    assert data.prescriber_npi == "1234567893"
    assert data.patient_email == "patient@example.com"


def test_print_only_takes_the_secret_from_the_partner_row(capsys, db):
    partner = TelemedicinePartner.objects.create(name="Acme Telehealth", slug="acme")
    call_command(
        "send_example_prescription",
        "--print-only",
        "--partner=acme",
        "--prescription-id=TM-1",
        "--npi=1234567890",
    )
    headers, body = printed_request(capsys.readouterr().out)
    header = headers[SIGNATURE_HEADER]
    now = int(header.split(",")[0].removeprefix("t="))
    assert verify_signature(secret=partner.secret, header=header, body=body, now=now)
    sent = json.loads(body)
    assert (sent["prescription_id"], sent["prescriber"]["npi"]) == ("TM-1", "1234567890")


def test_command_without_secret_or_partner_row_fails_clearly(db):
    with pytest.raises(CommandError, match="pass --secret"):
        call_command("send_example_prescription", "--print-only", "--partner=nobody")


@pytest.fixture
def fake_intake(monkeypatch):
    """A local HTTP server that records each request and answers with `reply` (status, body)."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    received: list[dict] = []
    reply = {"status": 201, "body": b'{"status": "accepted"}'}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received.append(
                {"path": self.path, "headers": self.headers, "body": self.rfile.read(length)}
            )
            self.send_response(reply["status"])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(reply["body"])

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "received": received, "reply": reply}
    server.shutdown()
    server.server_close()
    thread.join()


def test_command_posts_a_signed_prescription(capsys, fake_intake):
    call_command("send_example_prescription", "--url", fake_intake["url"], "--secret", SECRET)
    [request] = fake_intake["received"]
    assert request["path"] == "/api/telemedicine/prescriptions/"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Partner"] == "demo-telehealth"
    header = request["headers"][SIGNATURE_HEADER]
    now = int(header.split(",")[0].removeprefix("t="))
    assert verify_signature(secret=SECRET, header=header, body=request["body"], now=now)
    assert json.loads(request["body"])["medication"]["drug"] == "baclofen"
    output = capsys.readouterr().out
    assert "HTTP 201" in output
    assert '{"status": "accepted"}' in output


def test_command_fails_with_the_body_of_a_refusal(fake_intake):
    fake_intake["reply"].update(status=400, body=b'{"errors": {"quantity": ["out of range"]}}')
    with pytest.raises(CommandError, match=r"HTTP 400.*\n.*quantity"):
        call_command("send_example_prescription", "--url", fake_intake["url"], "--secret", SECRET)


def test_command_fails_clearly_when_the_site_is_down():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(CommandError, match="Could not reach"):
        call_command(
            "send_example_prescription", "--url", f"http://127.0.0.1:{port}", "--secret", SECRET
        )

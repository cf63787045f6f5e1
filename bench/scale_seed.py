"""The data of `bench/scale.py`: N prescriptions and N orders, in bulk.

Rows are written with `bulk_create` straight into the site's models (100,000 orders
in a few minutes; the services would take hours), with the values the services would
have written: a status history for every prescription and order, shipments for what
left, a payment event for every payment, the emails sent. The people the pages are
measured as (a pharmacist, the patient with 500 orders and 300 profile edits) are made
through `bench/data.py`, as the other benchmarks make theirs.

What the periodic jobs find due is seeded as a share of N (see `SHARES`), so a job
that costs the same per item costs the same per item at every size.
"""

import json
import random
from dataclasses import asdict, dataclass
from datetime import timedelta
from decimal import Decimal

from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from bench import data
from bench.scale_orders import make_orders
from catalog.models import DosageForm, Drug, Formulation, Package
from dispensing.models import Lot
from orders.models import AutoRefill, AutoRefillChange, AutoRefillStatus, DeliveryAddress
from prescriptions.models import AuditEvent, MedicalProfile, Prescription, StatusChange
from prescriptions.models.prescription import Source, Status

DRUGS = 50  # the catalog: baclofen and 49 more
HEAVY_ORDERS = 500
HEAVY_PROFILE_EDITS = 300
HEAVY_PRESCRIPTIONS = 25
SEARCH_SURNAME = "Whitfield"  # one patient in a hundred, and at least SEARCH_FLOOR
SURNAMES = [SEARCH_SURNAME] + [f"Surname{i:02d}" for i in range(99)]
# A page of each list at every size: at 1k one patient in a hundred is 2 patients and
# 10 matches, a page of 10 rows against a full 100 at 100k, and the ratio between the
# sizes would measure the page's length, not the table (each admin row costs 0.3-0.5 ms
# to render). 45 patients give 1k more than a page of orders and of prescriptions.
SEARCH_FLOOR = 45
# What the jobs find due, as shares of N.
SHARES = {
    "window": 0.02,  # paid in the last two days: reconciliation; half wait for the check
    "refill_due": 0.01,  # delivered five days ago: 30 tablets at 3 a day run out soon
    "expired": 0.002,  # unpaid past their time: expire_unpaid_orders
    "payable": 0.005,  # unpaid, still payable
    "lost": 0.002,  # checked an hour ago, never dispatched: resume_lost_work
    "cancelled": 0.03,
    "unsent": 0.002,  # emails whose task was lost: resume_lost_work
    "unprocessed": 0.003,  # payment events whose task was lost: retry_unprocessed_events
    "auto_refill": 0.002,  # auto-refills to run today
    "lots": 0.01,  # lots received; a tenth of them past their expiry date
}
# At least this many whatever the size, for the same reason as SEARCH_FLOOR: 220 paid in
# the window give more than a page (100) of paid orders and of orders to check.
FLOORS = {"window": 220}
BATCH = 5000
UNITS_PER_ORDER = 30  # 3 boxes of 10 at 1 tablet 3 times a day: 10 days


@dataclass
class Seeded:
    """What the measurements need to find again, stored with the data (`--reuse`)."""

    size: int
    seeded_at: str
    pharmacist: str
    heavy_patient: str
    surname: str
    order_number: str
    heavy_order_number: str
    due_as: int = 0  # what the jobs find due was seeded as at this size (0: at `size`)


def share(n: int, name: str) -> int:
    return max(1, round(n * SHARES[name]), FLOORS.get(name, 0))


def _surname(i: int, patients: int) -> str:
    """One patient in a hundred has the searched surname, and the first ones as well
    until SEARCH_FLOOR have it (none more from 4,500 patients, 22,500 orders, on)."""
    if i <= SEARCH_FLOOR - patients // len(SURNAMES):
        return SEARCH_SURNAME
    return SURNAMES[i % len(SURNAMES)]


def _bulk(model, rows):
    return model.objects.bulk_create(rows, batch_size=BATCH)


def _catalog() -> list[Package]:
    """Baclofen's 10 mg package and one package of each of 49 more drugs."""
    packages = [data.bench_package()]
    for i in range(1, DRUGS):
        drug = Drug.objects.create(name=f"Scalomine {i:02d}", slug=f"scalomine-{i:02d}")
        formulation = Formulation.objects.create(
            drug=drug, form=DosageForm.TABLET, strength_label="10 mg", strength_mg=Decimal(10)
        )
        packages.append(
            Package.objects.create(
                formulation=formulation, pill_count=10, price=Decimal("12.50"), stock=10**6
            )
        )
    Package.objects.filter(pk=packages[0].pk).update(stock=10**6)
    return packages


def _patients(n: int, rng: random.Random):
    """N/5 patients with a verified address and a confirmed profile, the first the
    heavy one; profile history: one row each, 300 edits for the heavy patient and two
    for one patient in ten."""
    User = get_user_model()
    heavy = data.make_patient(
        email="heavy@scale.bench", first_name="Harriet", last_name="Longhistory"
    )
    users = _bulk(
        User,
        [
            User(
                email=f"patient{i}@scale.bench",
                password="!bench",  # unusable: sign-in is by session
                first_name=f"Given{i % 50}",
                last_name=_surname(i, n // 5),
            )
            for i in range(1, max(n // 5, 2))
        ],
    )
    _bulk(
        EmailAddress,
        [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
    )
    _bulk(
        DeliveryAddress,
        [
            DeliveryAddress(
                user=u,
                full_name=f"{u.first_name} {u.last_name}",
                line1=f"{u.pk % 900 + 1} Elm Street",
                city="Springfield",
                state="NY",
                zip_code="10001",
            )
            for u in [heavy, *users]
        ],
    )
    confirmed = timezone.now() - timedelta(days=10)
    fields = {k: v for k, v in data.PROFILE.items() if k != "medication_classes"}
    profiles = _bulk(
        MedicalProfile, [MedicalProfile(user=u, confirmed_at=confirmed, **fields) for u in users]
    )
    History = MedicalProfile.history.model
    heavy_profile = MedicalProfile.objects.get(user=heavy)
    rows = []
    for profile in profiles:
        edits = 3 if rng.random() < 0.1 else 1
        rows += [_history_row(History, profile, confirmed, k) for k in range(edits)]
    rows += [
        _history_row(History, heavy_profile, confirmed, k + 1) for k in range(HEAVY_PROFILE_EDITS)
    ]
    _bulk(History, rows)
    return heavy, users


def _history_row(History, profile: MedicalProfile, when, k: int):
    values = {f.attname: getattr(profile, f.attname) for f in MedicalProfile._meta.concrete_fields}
    values["weight_kg"] = Decimal(60 + k % 30)
    values["other_medications"] = f"vitamin D, edit {k}" if k % 2 else ""
    return History(
        **values,
        history_date=when - timedelta(days=400) + timedelta(hours=k),
        history_type="+" if k == 0 else "~",
        history_user_id=profile.user_id,
    )


def _prescriptions(n, rng, heavy, patients, packages, pharmacist):
    partner = data.make_partner(name="Scale Telehealth", slug="scale-telehealth")
    owners = [heavy] * HEAVY_PRESCRIPTIONS
    owners += [patients[i % len(patients)] for i in range(n - HEAVY_PRESCRIPTIONS)]
    now = timezone.now()
    seen = set()
    rows = []
    for i, patient in enumerate(owners):
        package = packages[i % len(packages)]
        first = patient.pk not in seen  # each patient's first one is verified: they order on it
        seen.add(patient.pk)
        roll = rng.random()
        status = (
            Status.VERIFIED
            if first or roll < 0.7
            else Status.SUBMITTED
            if roll < 0.85
            else Status.NEEDS_INFO
            if roll < 0.9
            else Status.REJECTED
        )
        submitted = now - timedelta(days=rng.randint(1, 360), minutes=rng.randint(0, 1440))
        decided = status in (Status.VERIFIED, Status.REJECTED, Status.NEEDS_INFO)
        rows.append(
            Prescription(
                patient=patient,
                patient_email=patient.email,
                patient_name=f"{patient.first_name} {patient.last_name}",
                patient_date_of_birth=data.DATE_OF_BIRTH,
                source=Source.TELEMEDICINE,
                partner=partner,
                partner_reference=f"SC-{i}",
                status=status,
                prescriber_name="Dr. Grace Hopper",
                prescriber_npi="1234567893",
                prescriber_license="NY-123456",
                drug_id=package.formulation.drug_id,
                formulation_id=package.formulation_id,
                directions="Take 1 tablet three times a day",
                units_per_dose=Decimal(1),
                doses_per_day=3,
                quantity=90,
                refills=11,
                date_written=timezone.localdate(submitted) - timedelta(days=1),
                expiry_date=timezone.localdate(submitted) + timedelta(days=364),
                submitted_at=submitted,
                decided_by=pharmacist if decided else None,
                decided_at=submitted + timedelta(hours=2) if decided else None,
                pharmacist_message="Please send the dose." if status == Status.NEEDS_INFO else "",
            )
        )
    prescriptions = _bulk(Prescription, rows)
    changes = []
    for p in prescriptions:
        changes.append(StatusChange(prescription=p, to_status=Status.SUBMITTED, at=p.submitted_at))
        if p.decided_at:
            changes.append(
                StatusChange(
                    prescription=p,
                    from_status=Status.SUBMITTED,
                    to_status=p.status,
                    actor=pharmacist,
                    at=p.decided_at,
                )
            )
    _bulk(StatusChange, changes)
    audit = []
    for k, p in enumerate(prescriptions):
        for action in (AuditEvent.Action.VIEW_PRESCRIPTION, AuditEvent.Action.VIEW_PROFILE):
            audit.append(
                AuditEvent(
                    actor=pharmacist,
                    action=action,
                    allowed=True,
                    patient_id=p.patient_id,
                    object_repr=f"#{p.pk} for {p.patient_name}"[:200],
                    path=f"/admin/prescriptions/prescription/{p.pk}/change/",
                    ip_address=f"10.0.{k % 250}.{k % 200 + 1}",
                )
            )
    _bulk(AuditEvent, audit)
    # `at` is set on insert and the rows refuse updates: spread them over a year in SQL.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET at = at - (id %% %s) * interval '1 day'",  # noqa: S608
            [365],
        )
    return prescriptions


def _plan(n: int, due: int, rng: random.Random) -> list[str]:
    """Each order's kind, in the order the orders are made (the first 500 are the
    heavy patient's); what is due as at `due` orders."""
    kinds = ["cancelled"] * share(n, "cancelled")
    for name in ("window", "refill_due", "expired", "payable", "lost"):
        kinds += [name] * share(due, name)
    kinds += ["old"] * max(n - len(kinds), 0)
    rng.shuffle(kinds)
    return kinds[:n]


def seed(n: int, *, due_as: int = 0) -> Seeded:
    """N of everything; what the jobs find due as a share of N, or of `due_as` when
    given (the same day's work on a table 100 times larger: a scan of the whole table
    then shows per item)."""
    due = due_as or n
    rng = random.Random(n)
    pharmacist = data.make_pharmacist(email="pharmacist@scale.bench")
    data.licence_state("NY")  # checkout (and so auto-refill) ships only where licensed
    packages = _catalog()
    heavy, patients = _patients(n, rng)
    prescriptions = _prescriptions(n, rng, heavy, patients, packages, pharmacist)
    kinds = _plan(n, due, rng)
    verified = {}
    for p in prescriptions:
        if p.status == Status.VERIFIED:
            verified.setdefault(p.patient_id, []).append(p)
    owners = [heavy.pk] * HEAVY_ORDERS + [patients[i % len(patients)].pk for i in range(n)]
    orders = make_orders(
        kinds=kinds,
        owners=owners[:n],
        verified=verified,
        packages={p.formulation_id: p for p in packages},
        pharmacist=pharmacist,
        rng=rng,
        n=n,
        unsent=share(due, "unsent"),
        unprocessed=share(due, "unprocessed"),
    )
    _auto_refills(due, patients, verified, packages)
    _lots(n, packages, pharmacist)
    heavy_orders = [o for o in orders if o.patient_id == heavy.pk]
    return Seeded(
        size=n,
        seeded_at=timezone.now().isoformat(),
        pharmacist=pharmacist.email,
        heavy_patient=heavy.email,
        surname=SEARCH_SURNAME,
        order_number=orders[len(orders) // 2].number,
        heavy_order_number=max(heavy_orders, key=lambda o: o.created_at).number,
        due_as=due_as,
    )


def _auto_refills(n, patients, verified, packages):
    by_formulation = {p.formulation_id: p for p in packages}
    rows = []
    for patient in patients[-share(n, "auto_refill") :]:
        prescription = verified[patient.pk][0]
        rows.append(
            AutoRefill(
                patient=patient,
                prescription=prescription,
                package=by_formulation[prescription.formulation_id],
                quantity=3,
                status=AutoRefillStatus.ACTIVE,
                card_label="Visa ending 4242",
                next_run_on=timezone.localdate(),
            )
        )
    refills = _bulk(AutoRefill, rows)
    _bulk(
        AutoRefillChange,
        [AutoRefillChange(auto_refill=r, to_status=AutoRefillStatus.ACTIVE) for r in refills],
    )


def _lots(n, packages, pharmacist):
    today = timezone.localdate()
    count = max(len(packages), share(n, "lots"))
    _bulk(
        Lot,
        [
            Lot(
                package=packages[i % len(packages)],
                lot_number=f"SC{i:06d}",
                expiry_date=today - timedelta(days=1)
                if i % 10 == 9
                else today + timedelta(days=400),
                quantity_received=100,
                quantity_on_hand=50,
                supplier="Scale Wholesale",
                invoice_reference=f"INV-{i}",
                received_by=pharmacist,
            )
            for i in range(count)
        ],
    )


def save_meta(seeded: Seeded) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE IF NOT EXISTS bench_scale_meta (id int PRIMARY KEY, value jsonb)"
        )
        cursor.execute("DELETE FROM bench_scale_meta")
        cursor.execute("INSERT INTO bench_scale_meta VALUES (1, %s)", [json.dumps(asdict(seeded))])


def load_meta() -> Seeded | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_scale_meta')")
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute("SELECT value FROM bench_scale_meta WHERE id = 1")
        row = cursor.fetchone()
    if not row:
        return None
    value = row[0]  # Django leaves jsonb undecoded
    return Seeded(**(json.loads(value) if isinstance(value, str) else value))


def items_due(n: int, *, due_as: int = 0) -> dict[str, int]:
    """What each job finds due at size `n`, as seeded (lots follow the size)."""
    items = {name: share(due_as or n, name) for name in SHARES}
    items["expired_lots"] = max(DRUGS, share(n, "lots")) // 10
    return items

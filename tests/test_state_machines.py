"""Each state machine is one table and one move(): exactly the table's moves happen.

Every pair of states (and no state, for a new object) is tried on a real row: an
allowed move changes the status and writes one history row, a refused one raises a
ValidationError naming both states and writes nothing.
"""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from catalog.models import Formulation
from orders.models import ORDER_MACHINE, Order, OrderStatus, OrderStatusChange
from pharmacy.state_machine import MoveRefused, StateMachine
from prescriptions.models import (
    CONSULTATION_MACHINE,
    PRESCRIPTION_MACHINE,
    Consultation,
    ConsultationStatusChange,
    PartnerRequest,
    Prescription,
    Status,
    StatusChange,
)
from tests.factories import make_partner, make_user

# The tables as the README describes them; a change to a table changes this too.
ORDER_MOVES = [
    (None, "pending_payment"),
    ("pending_payment", "authorised"),
    ("pending_payment", "paid"),
    ("pending_payment", "cancelled"),
    ("authorised", "paid"),
    ("authorised", "cancelled"),
    ("paid", "dispatched"),
    ("paid", "refunded"),
    ("dispatched", "delivered"),
]
PRESCRIPTION_MOVES = [
    (None, "submitted"),
    ("submitted", "needs_info"),
    ("submitted", "verified"),
    ("submitted", "rejected"),
    ("needs_info", "submitted"),
]
CONSULTATION_MOVES = [
    (None, "sent"),
    ("sent", "prescribed"),
    ("sent", "declined"),
    ("sent", "not_sent"),
]


def new_order(**fields) -> Order:
    return Order(
        patient=make_user(),
        total=Decimal("12.00"),
        ship_name="Pat Jordan",
        ship_line1="1 Main St",
        ship_city="Springfield",
        ship_state="IL",
        ship_zip="62701",
        payment_due_by=timezone.now() + timedelta(minutes=30),
        **fields,
    )


def new_prescription(**fields) -> Prescription:
    return Prescription(patient_email="pat@example.com", **fields)


def new_consultation(**fields) -> Consultation:
    partner = make_partner(requests_url="http://127.0.0.1:9/requests")
    formulation = Formulation.objects.select_related("drug").filter(sellable=True).first()
    return Consultation(
        patient=make_user(),
        drug=formulation.drug,
        formulation=formulation,
        partner=partner,
        partner_request=PartnerRequest.objects.create(
            partner=partner, kind=PartnerRequest.Kind.CONSULTATION, payload={}
        ),
        answers=[],
        **fields,
    )


MACHINES = {
    "order": (ORDER_MACHINE, new_order, OrderStatusChange, "order", ORDER_MOVES),
    "prescription": (
        PRESCRIPTION_MACHINE,
        new_prescription,
        StatusChange,
        "prescription",
        PRESCRIPTION_MOVES,
    ),
    "consultation": (
        CONSULTATION_MACHINE,
        new_consultation,
        ConsultationStatusChange,
        "consultation",
        CONSULTATION_MOVES,
    ),
}


def pairs():
    for name, (machine, *_) in MACHINES.items():
        for from_state in [None, *machine.choices.values]:
            for to_state in machine.choices.values:
                yield pytest.param(name, from_state, to_state, id=f"{name}-{from_state}-{to_state}")


def object_in(new, from_state):
    """A saved object in `from_state`, or a new one for None."""
    obj = new()
    if from_state is not None:
        obj.status = from_state
        obj.save()
    return obj


def rows(history, fk, obj) -> int:
    return history.objects.filter(**{fk: obj}).count() if obj.pk else 0


@pytest.mark.parametrize("name", MACHINES)
def test_each_machine_has_exactly_the_documented_moves(name):
    machine, _, _, _, moves = MACHINES[name]
    assert machine.moves() == moves


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "from_state", "to_state"), list(pairs()))
def test_move_does_exactly_what_the_table_allows(name, from_state, to_state):
    machine, new, history, fk, moves = MACHINES[name]
    obj = object_in(new, from_state)
    before = rows(history, fk, obj)

    if (from_state, to_state) in moves:
        change = machine.move(obj, to_state)
        assert (change.from_status, change.to_status) == (from_state or "", to_state)
        assert type(obj).objects.get(pk=obj.pk).status == to_state
        assert rows(history, fk, obj) == before + 1
    elif from_state == to_state and machine.repeats:
        assert machine.move(obj, to_state) is None
        assert type(obj).objects.get(pk=obj.pk).status == from_state
        assert rows(history, fk, obj) == before
    else:
        with pytest.raises(MoveRefused) as refused:
            machine.move(obj, to_state)
        assert isinstance(refused.value, ValidationError)
        message = refused.value.messages[0]
        assert machine.label(from_state) in message
        assert machine.choices(to_state).label.lower() in message
        if from_state is None:
            assert obj.pk is None  # nothing was inserted
        else:
            assert type(obj).objects.get(pk=obj.pk).status == from_state
        assert rows(history, fk, obj) == before


def test_orders_repeat_quietly_and_prescriptions_refuse_a_repeat():
    assert ORDER_MACHINE.repeats
    assert not PRESCRIPTION_MACHINE.repeats


@pytest.mark.django_db
@pytest.mark.parametrize("name", MACHINES)
def test_the_first_state_inserts_the_object_with_a_row_from_no_state(name):
    machine, new, history, fk, moves = MACHINES[name]
    first = next(to for frm, to in moves if frm is None)
    actor = make_user()
    obj = new()

    change = machine.move(obj, first, actor=actor)

    assert obj.pk is not None
    assert list(history.objects.filter(**{fk: obj}).values_list("from_status", "to_status")) == [
        ("", first)
    ]
    assert change.actor == actor


@pytest.mark.django_db
@pytest.mark.parametrize("name", MACHINES)
def test_a_status_outside_the_choices_is_refused(name):
    machine, new, history, fk, moves = MACHINES[name]
    obj = new()
    machine.move(obj, moves[0][1])
    with pytest.raises(ValidationError, match="not a state"):
        machine.move(obj, "lost_in_the_post")
    assert rows(history, fk, obj) == 1


@pytest.mark.django_db
def test_a_move_saves_only_the_status_and_the_fields_its_caller_names():
    order = new_order()
    ORDER_MACHINE.move(order, OrderStatus.PENDING_PAYMENT)
    order.total = Decimal("999.00")
    order.stripe_payment_intent = "pi_123"
    order.paid_at = timezone.now()

    ORDER_MACHINE.move(order, OrderStatus.PAID, also_save=["paid_at"])

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_at is not None
    assert order.total == Decimal("12.00")
    assert order.stripe_payment_intent == ""


@pytest.mark.django_db
def test_a_move_keeps_the_history_fields_it_is_given():
    prescription = new_prescription()
    PRESCRIPTION_MACHINE.move(prescription, Status.SUBMITTED)
    change = PRESCRIPTION_MACHINE.move(
        prescription, Status.NEEDS_INFO, message="Which dose?", override_reason="-"
    )
    change.refresh_from_db()
    assert (change.message, change.override_reason) == ("Which dose?", "-")


@pytest.mark.django_db
def test_a_note_writes_a_row_and_leaves_the_status():
    prescription = new_prescription()
    PRESCRIPTION_MACHINE.move(prescription, Status.SUBMITTED)
    actor = make_user()

    change = PRESCRIPTION_MACHINE.note(prescription, actor=actor, override_reason="Identity")

    assert (change.from_status, change.to_status, change.actor) == ("submitted", "submitted", actor)
    assert Prescription.objects.get(pk=prescription.pk).status == Status.SUBMITTED
    assert prescription.status_changes.count() == 2


class Light(models.TextChoices):
    RED = "red", "Red"
    GREEN = "green", "Green"


def test_a_table_must_name_every_state_and_only_states():
    with pytest.raises(ValueError, match="every state"):
        StateMachine(
            choices=Light, table={None: {"red"}, "red": {"green"}}, history="", history_fk=""
        )
    with pytest.raises(ValueError, match="Not states"):
        StateMachine(
            choices=Light,
            table={None: {"red"}, "red": {"blue"}, "green": set()},
            history="",
            history_fk="",
        )


def test_allows_reads_the_table():
    light = StateMachine(
        choices=Light,
        table={None: {"red"}, "red": {"green"}, "green": {"red"}},
        history="x.Y",
        history_fk="light",
    )
    assert light.allows(None, "red")
    assert light.allows("red", "green")
    assert not light.allows(None, "green")
    assert not light.allows("red", "red")
    assert light.moves() == [(None, "red"), ("red", "green"), ("green", "red")]


EMAIL_OPENINGS = {
    (None, "submitted"): "We received your prescription",
    ("submitted", "needs_info"): "Our pharmacist needs more information",
    ("needs_info", "submitted"): "we received your answer",
    ("submitted", "verified"): "Good news: our pharmacist verified",
    ("submitted", "rejected"): "We are sorry: our pharmacist could not accept",
}


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), PRESCRIPTION_MOVES)
def test_each_prescription_move_has_its_own_email(from_state, to_state):
    from prescriptions.emails import status_change_email

    prescription = object_in(lambda: new_prescription(patient=make_user()), from_state)
    change = PRESCRIPTION_MACHINE.move(prescription, to_state, message="Which dose?")
    body = status_change_email(change).body
    for move, opening in EMAIL_OPENINGS.items():
        assert (opening in body) == (move == (from_state, to_state)), opening


@pytest.mark.django_db
def test_the_status_badge_reads_expired_and_on_hold_apart():
    today = timezone.localdate()
    prescription = new_prescription(status=Status.VERIFIED, expiry_date=today)
    assert prescription.status_badge == "verified"
    prescription.expiry_date = today - timedelta(days=1)
    assert prescription.status_badge == "expired"
    prescription.expiry_date, prescription.held_since = today, timezone.now()
    assert prescription.status_badge == "needs_info"
    assert new_prescription(status=Status.REJECTED).status_badge == "rejected"


@pytest.mark.parametrize("name", MACHINES)
def test_the_readme_draws_each_machine_as_its_table_says(name):
    machine = MACHINES[name][0]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    diagram = f"```mermaid\n{machine.mermaid()}\n```"
    assert diagram in readme, f"Put this in the README's State machines section:\n{diagram}"


def test_a_refusal_survives_copying_like_any_validation_error():
    import copy

    refused = MoveRefused("A verified prescription cannot become rejected.", to_state="rejected")
    for again in (copy.copy(refused), copy.deepcopy(refused)):
        assert again.messages == refused.messages
        assert again.code == "move_refused"

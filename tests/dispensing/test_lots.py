"""Stock by lot: receiving, expiry, and the catalog's sellable count kept in step."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone

from catalog.models import Package, StockAdjustment
from dispensing.models import Lot
from dispensing.services.stock import lot_receive, lots_expire
from dispensing.tasks import expire_lots
from tests.dispensing.factories import in_days, receive_lot
from tests.factories import make_package

pytestmark = pytest.mark.django_db


def stock_of(package) -> int:
    return Package.objects.get(pk=package.pk).stock


def test_receiving_a_lot_puts_its_boxes_on_sale_and_records_who(pharmacist):
    package = make_package(stock=0)
    lot = receive_lot(package=package, quantity=12, lot_number=" ab 123 ", received_by=pharmacist)
    assert lot.lot_number == "AB 123"
    assert (lot.quantity_received, lot.quantity_on_hand) == (12, 12)
    assert stock_of(package) == 12
    adjustment = StockAdjustment.objects.get(package=package)
    assert (adjustment.quantity, adjustment.actor) == (12, pharmacist)
    assert "AB 123" in adjustment.reason
    assert lot.history.count() == 1


@pytest.mark.parametrize("days", [0, -1])
def test_an_expired_lot_is_refused_and_nothing_goes_on_sale(pharmacist, days):
    package = make_package(stock=0)
    with pytest.raises(ValidationError) as refused:
        lot_receive(
            package_id=package.pk,
            lot_number="X1",
            expiry_date=in_days(days),
            quantity=5,
            supplier="McKesson",
            invoice_reference="INV-1",
            received_by=pharmacist,
        )
    assert "cannot be put on sale" in str(refused.value)
    assert stock_of(package) == 0
    assert not Lot.objects.exists()


def test_a_receipt_without_supplier_or_invoice_is_refused(pharmacist):
    package = make_package(stock=0)
    with pytest.raises(ValidationError) as refused:
        lot_receive(
            package_id=package.pk,
            lot_number="X1",
            expiry_date=in_days(100),
            quantity=5,
            supplier=" ",
            invoice_reference="",
            received_by=pharmacist,
        )
    assert set(refused.value.message_dict) == {"supplier", "invoice_reference"}


def test_the_expiry_sweep_takes_an_expired_lot_off_sale_once():
    package = make_package(stock=0)
    expiring = receive_lot(package=package, quantity=4, expires_in_days=1)
    receive_lot(package=package, quantity=6, expires_in_days=300)
    assert stock_of(package) == 10
    tomorrow_but_one = timezone.localdate() + timedelta(days=2)
    assert lots_expire(today=tomorrow_but_one) == 1
    assert stock_of(package) == 6
    assert lots_expire(today=tomorrow_but_one) == 0  # twice changes nothing
    assert stock_of(package) == 6
    expiring.refresh_from_db()
    assert expiring.removed_from_sale_at is not None
    assert not expiring.is_sellable


def test_the_sweep_task_leaves_unexpired_lots_on_sale():
    package = make_package(stock=0)
    receive_lot(package=package, quantity=3, expires_in_days=30)
    assert expire_lots.delay().get() == 0
    assert stock_of(package) == 3


def test_a_lot_cannot_be_deleted():
    lot = receive_lot(package=make_package(stock=0))
    with pytest.raises(ProtectedError):
        lot.package.delete()
    assert Lot.objects.filter(pk=lot.pk).exists()


def test_pharmacist_receives_a_lot_in_the_admin(pharmacist_client, pharmacist):
    package = make_package(stock=0)
    response = pharmacist_client.post(
        reverse("admin:dispensing_lot_add"),
        {
            "package": package.pk,
            "lot_number": "BX2207",
            "expiry_date": in_days(200).isoformat(),
            "quantity_received": 8,
            "supplier": "Cardinal Health",
            "invoice_reference": "CH-991",
        },
    )
    assert response.status_code == 302, response.content
    lot = Lot.objects.get(lot_number="BX2207")
    assert (lot.received_by, lot.quantity_on_hand) == (pharmacist, 8)
    assert stock_of(package) == 8


def test_the_admin_refuses_an_expired_lot_with_the_reason(pharmacist_client):
    package = make_package(stock=0)
    response = pharmacist_client.post(
        reverse("admin:dispensing_lot_add"),
        {
            "package": package.pk,
            "lot_number": "OLD1",
            "expiry_date": in_days(-3).isoformat(),
            "quantity_received": 8,
            "supplier": "Cardinal Health",
            "invoice_reference": "CH-991",
        },
    )
    assert response.status_code == 200
    assert "an expired lot cannot be put on sale" in response.content.decode()
    assert stock_of(package) == 0


def test_the_lot_list_filters_what_expires_within_90_days_and_finds_a_lot_number(
    pharmacist_client,
):
    package = make_package(stock=0)
    receive_lot(package=package, lot_number="SOON1", expires_in_days=45)
    receive_lot(package=package, lot_number="LATER1", expires_in_days=400)
    url = reverse("admin:dispensing_lot_changelist")
    soon = pharmacist_client.get(url, {"expiry": "soon"}).content.decode()
    assert "SOON1" in soon
    assert "LATER1" not in soon
    found = pharmacist_client.get(url, {"q": "later1"}).content.decode()
    assert "LATER1" in found
    assert "SOON1" not in found


def test_a_received_lot_cannot_be_changed_or_deleted_in_the_admin(pharmacist_client):
    lot = receive_lot(package=make_package(stock=0), quantity=5)
    change = reverse("admin:dispensing_lot_change", args=[lot.pk])
    pharmacist_client.post(change, {"quantity_on_hand": 50})
    lot.refresh_from_db()
    assert lot.quantity_on_hand == 5
    delete = reverse("admin:dispensing_lot_delete", args=[lot.pk])
    assert pharmacist_client.post(delete, {"post": "yes"}).status_code == 403


def test_the_expiry_sweep_is_on_the_beat_schedule():
    from django.conf import settings

    from pharmacy.celery import app as celery_app

    celery_app.autodiscover_tasks(force=True)
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "dispensing.stock.expire_lots" in scheduled
    assert "dispensing.stock.expire_lots" in celery_app.tasks

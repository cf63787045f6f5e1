"""Staff move stock by a quantity with a reason; orders placed meanwhile keep their boxes."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from catalog.models import Package, StockAdjustment
from catalog.services import stock_adjust
from catalog.stock import take_stock
from tests.factories import make_pharmacist, sign_in_staff


@pytest.fixture
def stocked_package(baclofen):
    stocked_package = (
        Package.objects.filter(formulation__drug=baclofen)
        .order_by("formulation__position", "pill_count")
        .first()
    )
    Package.objects.filter(pk=stocked_package.pk).update(stock=10)
    stocked_package.refresh_from_db()
    return stocked_package


def adjust_url(stocked_package) -> str:
    return reverse("admin:catalog_package_adjust_stock", args=[stocked_package.pk])


def stock_of(stocked_package) -> int:
    return Package.objects.values_list("stock", flat=True).get(pk=stocked_package.pk)


def test_an_adjustment_adds_to_what_a_checkout_left(staff_client, catalog_staff, stocked_package):
    page = staff_client.get(adjust_url(stocked_package))
    assert page.status_code == 200
    assert "10 boxes" in page.content.decode()

    assert take_stock(stocked_package.pk, 3)  # a checkout while the form is open

    response = staff_client.post(
        adjust_url(stocked_package), {"quantity": 5, "reason": "Delivery 4411"}
    )
    assert response.status_code == 302
    assert stock_of(stocked_package) == 12
    adjustment = StockAdjustment.objects.get()
    assert (adjustment.actor, adjustment.quantity, adjustment.stock_after) == (catalog_staff, 5, 12)
    assert adjustment.reason == "Delivery 4411"
    follow = staff_client.get(response["Location"]).content.decode()
    assert "+5 boxes, 12 now on the shelf" in follow


def test_saving_the_package_form_keeps_a_checkouts_decrement(staff_client, stocked_package):
    url = reverse("admin:catalog_package_change", args=[stocked_package.pk])
    assert staff_client.get(url).status_code == 200  # opened at stock 10
    assert take_stock(stocked_package.pk, 3)

    response = staff_client.post(
        url,
        {
            "formulation": stocked_package.formulation_id,
            "pill_count": stocked_package.pill_count,
            "price": "45.00",
            "stock": 10,  # what the form showed; typed-in stock is ignored
            "active": "on",
        },
    )

    assert response.status_code == 302
    stocked_package.refresh_from_db()
    assert (str(stocked_package.price), stocked_package.stock) == ("45.00", 7)


def test_list_editing_cannot_write_stock_back(staff_client, stocked_package):
    url = reverse("admin:catalog_package_changelist")
    page = staff_client.get(url, {"q": stocked_package.formulation.drug.name})
    assert 'name="form-0-stock"' not in page.content.decode()
    assert take_stock(stocked_package.pk, 3)

    rows = list(
        Package.objects.filter(formulation__drug=stocked_package.formulation.drug).order_by(
            "formulation", "pill_count", "pk"
        )
    )
    data = {
        "form-TOTAL_FORMS": len(rows),
        "form-INITIAL_FORMS": len(rows),
        "_save": "Save",
        "q": stocked_package.formulation.drug.name,
    }
    for i, row in enumerate(rows):
        data |= {
            f"form-{i}-id": row.pk,
            f"form-{i}-price": row.price,
            f"form-{i}-stock": 10,
            f"form-{i}-active": "on",
        }
    response = staff_client.post(f"{url}?q={stocked_package.formulation.drug.name}", data)
    assert response.status_code == 302
    assert stock_of(stocked_package) == 7


def test_a_removal_below_zero_is_refused_and_changes_nothing(staff_client, stocked_package):
    response = staff_client.post(
        adjust_url(stocked_package), {"quantity": -11, "reason": "Breakage"}
    )
    assert response.status_code == 200
    assert "Only 10 on the shelf: cannot remove 11." in response.content.decode()
    assert stock_of(stocked_package) == 10
    assert not StockAdjustment.objects.exists()


def test_a_removal_records_what_it_left(staff_client, catalog_staff, stocked_package):
    staff_client.post(adjust_url(stocked_package), {"quantity": -10, "reason": "Recalled batch"})
    assert stock_of(stocked_package) == 0
    assert StockAdjustment.objects.get().stock_after == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"quantity": 5, "reason": ""}, "This field is required."),
        ({"quantity": 0, "reason": "Count"}, "Enter how many boxes to add"),
        ({"quantity": "five", "reason": "Count"}, "Enter a whole number."),
    ],
)
def test_an_adjustment_needs_a_quantity_and_a_reason(staff_client, stocked_package, data, error):
    response = staff_client.post(adjust_url(stocked_package), data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert stock_of(stocked_package) == 10
    assert not StockAdjustment.objects.exists()


def test_the_service_refuses_what_the_form_would(stocked_package, catalog_staff):
    with pytest.raises(ValidationError, match="Say why"):
        stock_adjust(package_id=stocked_package.pk, quantity=3, reason="  ", actor=catalog_staff)
    with pytest.raises(ValidationError, match="cannot remove 11"):
        stock_adjust(
            package_id=stocked_package.pk, quantity=-11, reason="Count", actor=catalog_staff
        )
    assert stock_of(stocked_package) == 10


def test_stock_is_not_a_field_of_the_package_form(staff_client, stocked_package):
    html = staff_client.get(
        reverse("admin:catalog_package_change", args=[stocked_package.pk])
    ).content
    assert b'name="stock"' not in html
    assert adjust_url(stocked_package).encode() in html


def test_adjustments_are_listed_read_only_with_filters_and_search(
    staff_client, catalog_staff, stocked_package
):
    stock_adjust(
        package_id=stocked_package.pk, quantity=4, reason="Delivery 77", actor=catalog_staff
    )
    stock_adjust(
        package_id=stocked_package.pk, quantity=-1, reason="Broken box", actor=catalog_staff
    )
    url = reverse("admin:catalog_stockadjustment_changelist")

    removed = staff_client.get(url, {"direction": "removed"}).content.decode()
    assert "Broken box" in removed
    assert "Delivery 77" not in removed
    found = staff_client.get(url, {"q": "Delivery"}).content.decode()
    assert "Delivery 77" in found
    assert "Broken box" not in found

    adjustment = StockAdjustment.objects.get(reason="Broken box")
    change = reverse("admin:catalog_stockadjustment_change", args=[adjustment.pk])
    assert 'name="_save"' not in staff_client.get(change).content.decode()
    assert staff_client.post(change, {"reason": "Nothing"}).status_code == 403
    assert staff_client.get(reverse("admin:catalog_stockadjustment_add")).status_code == 403
    delete = reverse("admin:catalog_stockadjustment_delete", args=[adjustment.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403


def test_only_catalog_staff_adjust_stock(stocked_package):
    pharmacist = sign_in_staff(Client(), make_pharmacist())
    assert pharmacist.get(adjust_url(stocked_package)).status_code == 403
    assert (
        pharmacist.post(adjust_url(stocked_package), {"quantity": 5, "reason": "x"}).status_code
        == 403
    )
    assert stock_of(stocked_package) == 10
    anonymous = Client().post(adjust_url(stocked_package), {"quantity": 5, "reason": "x"})
    assert anonymous.status_code == 302
    assert stock_of(stocked_package) == 10


def test_catalog_staff_may_add_and_read_adjustments_but_never_rewrite_them(catalog_staff):
    assert catalog_staff.has_perm("catalog.add_stockadjustment")
    assert catalog_staff.has_perm("catalog.view_stockadjustment")
    assert not catalog_staff.has_perm("catalog.change_stockadjustment")
    assert not catalog_staff.has_perm("catalog.delete_stockadjustment")

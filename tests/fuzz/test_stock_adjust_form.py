"""Hostile input into the staff stock adjustment: never a 5xx, never stock below zero,
and the stock moves only by the quantity an adjustment row records."""

from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from catalog.models import Package, StockAdjustment
from tests.factories import make_catalog_staff
from tests.fuzz.conftest import signed_in
from tests.fuzz.hostile import assert_answer, fuzz, hostile_number, hostile_text, rolled_back


@fuzz(40)
@given(quantity=st.one_of(hostile_number, hostile_text), reason=hostile_text)
def test_hostile_adjustments_move_stock_only_as_recorded(package, quantity, reason):
    url = reverse("admin:catalog_package_adjust_stock", args=[package.pk])
    with rolled_back():
        client = signed_in(make_catalog_staff())
        before = Package.objects.values_list("stock", flat=True).get(pk=package.pk)

        assert_answer(client.post(url, {"quantity": quantity, "reason": reason}))

        after = Package.objects.values_list("stock", flat=True).get(pk=package.pk)
        assert after >= 0
        recorded = list(StockAdjustment.objects.values_list("quantity", "stock_after"))
        if recorded:
            assert recorded == [(after - before, after)]
        else:
            assert after == before

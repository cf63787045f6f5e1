"""Prices: Decimal, per-pill derived and rounded half-up, validated, stock never negative."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from catalog.models import Formulation, Package
from tests.factories import make_package


@pytest.mark.parametrize(
    ("price", "count", "per_pill"),
    [
        ("46.53", 10, "4.65"),
        ("41.71", 10, "4.17"),
        ("10.05", 2, "5.03"),  # half-up, where banker's rounding would give 5.02
        ("0.01", 3, "0.00"),
        ("99.99", 1, "99.99"),
    ],
)
def test_per_pill_price_is_rounded_half_up_to_the_cent(price, count, per_pill):
    package = Package(price=Decimal(price), pill_count=count)
    assert package.price_per_pill == Decimal(per_pill)


def test_seed_packages_show_4_65_and_4_17_a_pill(baclofen):
    prices = [
        p.price_per_pill
        for p in Package.objects.filter(formulation__drug=baclofen, pill_count=10).order_by("price")
    ]
    assert prices == [Decimal("4.17"), Decimal("4.65")]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("price", Decimal("-1.00"), "greater than or equal to 0.01"),
        ("price", Decimal("0"), "greater than or equal to 0.01"),
        ("price", Decimal("4.655"), "no more than 2 decimal places"),
        ("stock", -1, "greater than or equal to 0"),
        ("pill_count", 0, "greater than or equal to 1"),
    ],
)
def test_invalid_package_values_are_refused_with_a_clear_message(db, field, value, message):
    package = make_package()
    setattr(package, field, value)
    with pytest.raises(ValidationError) as excinfo:
        package.full_clean()
    assert message in str(excinfo.value.message_dict[field])


def test_database_refuses_negative_stock_even_without_validation(db):
    package = make_package(stock=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Package.objects.filter(pk=package.pk).update(stock=-1)
    package.refresh_from_db()
    assert package.stock == 1


def test_database_refuses_a_sellable_intrathecal_form(baclofen):
    with pytest.raises(IntegrityError), transaction.atomic():
        Formulation.objects.filter(drug=baclofen, form="intrathecal").update(sellable=True)


def test_active_package_for_an_unsellable_form_is_refused(baclofen):
    intrathecal = Formulation.objects.get(drug=baclofen, form="intrathecal")
    package = Package(formulation=intrathecal, pill_count=1, price=Decimal("1.00"), stock=1)
    with pytest.raises(ValidationError) as excinfo:
        package.full_clean()
    assert "not sold online" in str(excinfo.value)

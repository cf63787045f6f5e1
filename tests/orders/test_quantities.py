"""Quantities in the cart: any number of packages up to what the patient's verified
prescriptions still cover, said with the limit; bigger packs for longer supplies."""

from orders.cart import MAX_PACKAGES_PER_LINE
from orders.models import Order
from tests.orders.factories import baclofen_package, make_verified_prescription

CART = "/cart/"
CHECKOUT = "/checkout/"
ADDRESS = {
    "full_name": "Pat Jordan",
    "line1": "1 Main St",
    "city": "Albany",
    "state": "NY",
    "zip_code": "12207",
}


def _post(client, url, package, quantity):
    """What the cart page then says (its messages, each shown once)."""
    response = client.post(url, {"package": package.pk, "quantity": quantity}, follow=True)
    return [str(m) for m in response.context["messages"]]


def _quantity_in_cart(client, package) -> int:
    return client.session.get("cart", {}).get(str(package.pk), 0)


def test_adding_more_than_the_prescription_covers_is_refused_with_the_limit(
    patient_client, package, verified
):
    said = _post(patient_client, "/cart/add/", package, 19)  # 190 tablets, 180 covered
    assert said == [
        "Baclofen 10 mg tablets, 10 pills: your prescription covers 180 more tablets, and 19 "
        "of this package would be 190. You can have at most 18 of this package."
    ]
    assert _quantity_in_cart(patient_client, package) == 0
    assert _post(patient_client, "/cart/add/", package, 18)[0].startswith("Added to your cart")
    assert _quantity_in_cart(patient_client, package) == 18


def test_raising_a_cart_line_past_the_prescription_keeps_it_and_names_the_limit(
    patient_client, package, verified
):
    _post(patient_client, "/cart/add/", package, 5)
    said = _post(patient_client, "/cart/update/", package, 25)
    assert "your prescription covers 180 more tablets" in said[0]
    assert "at most 18" in said[0]
    assert _quantity_in_cart(patient_client, package) == 5
    html = patient_client.get(CART).content.decode()
    assert "Your prescription covers 180 more tablets; this needs 50." in html


def test_a_pack_bigger_than_what_is_left_says_to_choose_a_smaller_one(patient, patient_client):
    make_verified_prescription(patient=patient, quantity=30, refills=0)
    said = _post(patient_client, "/cart/add/", baclofen_package(pill_count=90), 1)
    assert "covers 30 more tablets" in said[0]
    assert "choose a smaller one" in said[0]


def test_without_a_verified_prescription_only_the_abuse_limit_applies(patient_client, package):
    assert _post(patient_client, "/cart/add/", package, MAX_PACKAGES_PER_LINE)[0].startswith(
        "Added"
    )
    said = _post(patient_client, "/cart/add/", package, 1)
    assert said == [f"You can order at most {MAX_PACKAGES_PER_LINE} of one package at a time."]
    assert _quantity_in_cart(patient_client, package) == MAX_PACKAGES_PER_LINE


def test_the_abuse_limit_holds_a_90_day_supply_at_the_highest_daily_dose():
    # 8 tablets a day for 90 days in the smallest pack (10): 72 packages.
    assert MAX_PACKAGES_PER_LINE * 10 >= 8 * 90


def test_a_90_pack_is_ordered_on_a_90_tablet_prescription(
    patient, patient_client, stripe_api, baclofen
):
    make_verified_prescription(patient=patient, quantity=90, refills=0)
    big = baclofen_package(pill_count=90)
    assert _post(patient_client, "/cart/add/", big, 1)[0].startswith("Added")
    html = patient_client.get(CART).content.decode()
    assert "Your prescription covers 90 more tablets; this needs 90." in html
    assert "Covered" in html

    response = patient_client.post(CHECKOUT, ADDRESS)

    assert response.status_code == 302
    order = Order.objects.get(patient=patient)
    line = order.lines.get()
    assert (line.package_id, line.quantity, line.units, line.prescription.units_remaining) == (
        big.pk,
        1,
        90,
        0,
    )
    assert order.total == big.price

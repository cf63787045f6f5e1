"""Every patient-facing form fed hostile input.

The properties: never a server error; an answer that reports an error (4xx, or the
form again with its errors) changes nothing; a success changes exactly what it says;
another patient's ids reveal and change nothing. Each test uses the form itself only
to know which of its inputs are valid, and checks what the view did with them.
"""

from datetime import date
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape
from hypothesis import assume, example, given
from hypothesis import strategies as st

from catalog.models import MedicationClass
from orders.cart import MAX_PACKAGES_PER_LINE
from orders.forms import CartAddForm, CartUpdateForm, DeliveryAddressForm
from orders.models import DeliveryAddress, Order
from prescriptions import services
from prescriptions.checks import ALCOHOL_CLASS
from prescriptions.forms import MedicalProfileForm, PrescriptionUploadForm
from prescriptions.models import MedicalProfile, Prescription, PrescriptionDocument, Status
from prescriptions.uploads import ALLOWED_TYPES
from tests.factories import PASSWORD, clean_document, make_user_with_verified_email
from tests.fuzz.conftest import PAYMENT_PAGE, TINY_PDF, make_needs_info, signed_in
from tests.fuzz.hostile import (
    BIGINT,
    IMG,
    MARKUP,
    ON_SQLITE,
    SCRIPT,
    SQL,
    assert_answer,
    beyond_bigint,
    fuzz,
    hostile_number,
    hostile_text,
    hostile_value,
    markup_text,
    pin,
    printable_text,
    rolled_back,
    snapshot,
    stored_files,
    unicode_text,
)

pytestmark = pytest.mark.django_db

# Stand-ins for ids only known once the fixtures exist; `_resolve` swaps them in.
PURCHASABLE, INACTIVE, DRUG, MED_CLASS = "<purchasable>", "<inactive>", "<drug>", "<class>"


def _resolve(value: str, ids: dict[str, int]) -> str:
    return str(ids[value]) if value in ids else value


def _has_message(body: str, level: str) -> bool:
    return f"message--{level}" in body


# --- the drug search ------------------------------------------------------------------


@fuzz(60)
@given(q=hostile_text)
@example(q=SCRIPT)
@example(q=IMG)
@example(q=SQL)
@example(q="\x00")
@example(q="x" * 101)
def test_drug_search_answers_200_or_400_and_shows_the_query_escaped(baclofen, q):
    response = Client().get("/", {"q": q})
    body = assert_answer(response)
    query = q.strip()
    if "\x00" in query or len(query) > 100:
        assert response.status_code == 400
        assert "field-errors" in body
    else:
        assert response.status_code == 200
        if query:
            assert f"Results for “{escape(query)}”" in body


# --- the cart -------------------------------------------------------------------------


def _seed_cart(client: Client, items: dict[str, int]) -> None:
    session = client.session
    session["cart"] = items
    session["cart_count"] = sum(items.values())
    session.save()


def _cart(client: Client) -> dict[str, int]:
    return dict(client.session.get("cart", {}))


package_values = st.one_of(st.sampled_from([PURCHASABLE, INACTIVE]), hostile_value)
quantities = st.one_of(st.integers(-3, MAX_PACKAGES_PER_LINE + 5).map(str), hostile_value)


@fuzz(40)
@given(package_value=package_values, quantity=quantities, existing=st.integers(0, 20))
@example(package_value=PURCHASABLE, quantity="-1", existing=3)
@example(package_value=PURCHASABLE, quantity=str(10**30), existing=0)
@example(package_value=INACTIVE, quantity="1", existing=0)
def test_cart_add_changes_the_cart_only_when_it_says_so(
    package, inactive_package, package_value, quantity, existing
):
    posted = {
        "package": _resolve(
            package_value, {PURCHASABLE: package.pk, INACTIVE: inactive_package.pk}
        ),
        "quantity": quantity,
    }
    with rolled_back():
        client = Client()
        _seed_cart(client, {str(package.pk): existing} if existing else {})
        before, rows = _cart(client), snapshot()
        body = assert_answer(client.post("/cart/add/", posted, follow=True))
        after = _cart(client)
        form = CartAddForm(posted)
        valid = form.is_valid()
        if valid:
            key = str(form.cleaned_data["package"].pk)
            added = before.get(key, 0) + form.cleaned_data["quantity"]
        if valid and added <= MAX_PACKAGES_PER_LINE:
            assert _has_message(body, "success") and not _has_message(body, "error")
            assert after == {**before, key: added}
        else:  # invalid, or past the limit: said, and nothing added
            assert _has_message(body, "error") and not _has_message(body, "success")
            assert after == before
        assert snapshot() == rows


@fuzz(40)
@given(
    package_value=st.one_of(package_values, st.integers(1, 10**6).map(str)),
    quantity=quantities,
    existing=st.integers(0, 20),
)
@example(package_value=PURCHASABLE, quantity="0", existing=5)
@example(package_value=PURCHASABLE, quantity="21", existing=5)
@example(package_value="-1", quantity="1", existing=5)
def test_cart_update_changes_the_cart_only_when_it_says_so(
    package, inactive_package, package_value, quantity, existing
):
    posted = {
        "package": _resolve(
            package_value, {PURCHASABLE: package.pk, INACTIVE: inactive_package.pk}
        ),
        "quantity": quantity,
    }
    form = CartUpdateForm(posted)
    # Ids no database column holds: pinned by
    # test_cart_update_with_an_id_beyond_bigint_leaves_the_cart_usable.
    assume(not (form.is_valid() and form.cleaned_data["package"] > BIGINT))
    with rolled_back():
        client = Client()
        _seed_cart(client, {str(package.pk): existing} if existing else {})
        before, rows = _cart(client), snapshot()
        body = assert_answer(client.post("/cart/update/", posted, follow=True))
        after = _cart(client)
        if form.is_valid():
            assert _has_message(body, "success") and not _has_message(body, "error")
            key, wanted = str(form.cleaned_data["package"]), form.cleaned_data["quantity"]
            expected = {k: v for k, v in before.items() if k != key}
            if wanted > 0:
                expected[key] = min(wanted, MAX_PACKAGES_PER_LINE)
            assert after == expected
        else:
            assert _has_message(body, "error") and not _has_message(body, "success")
            assert after == before
        assert snapshot() == rows


@pin(5)
@given(package_id=st.integers(BIGINT + 1, 10**40))
def test_cart_update_with_an_id_beyond_bigint_leaves_the_cart_usable(baclofen, package_id):
    with rolled_back():
        client = Client()
        assert_answer(client.post("/cart/update/", {"package": package_id, "quantity": 2}))
        assert client.get("/cart/").status_code == 200


@pin(10)
@given(package_value=st.one_of(st.just(INACTIVE), st.integers(10**6, 10**9).map(str)))
def test_cart_update_refuses_a_package_that_is_not_sold(package, inactive_package, package_value):
    posted = {"package": _resolve(package_value, {INACTIVE: inactive_package.pk}), "quantity": 3}
    with rolled_back():
        client = Client()
        _seed_cart(client, {str(package.pk): 1})
        body = assert_answer(client.post("/cart/update/", posted, follow=True))
        assert _cart(client) == {str(package.pk): 1}
        assert client.session["cart_count"] == 1
        assert _has_message(body, "error")


# --- the medical profile --------------------------------------------------------------

date_values = st.one_of(
    st.dates(min_value=date(1880, 1, 1), max_value=date(2100, 12, 31)).map(str),
    st.sampled_from(
        ["1980-02-30", "0000-00-00", "9999-12-31", "1980-5-7", "05/17/1980", "٢٠٢٠-٠١-٠١"]
    ),
    hostile_value,
)
weight_values = st.one_of(
    st.just(""),
    st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False).map(str),
    hostile_number,
)
checkbox_values = st.one_of(st.sampled_from(["", "on", "true", "false", "0", "1"]), hostile_text)
choice_values = st.one_of(
    st.sampled_from(["none", "chronic", "end_stage", "occasional", "regular"]), hostile_text
)
id_lists = st.lists(st.one_of(st.sampled_from([MED_CLASS, DRUG]), hostile_number), max_size=3)


@st.composite
def profile_posts(draw) -> dict:
    return {
        "date_of_birth": draw(date_values),
        "weight_kg": draw(weight_values),
        "kidney_disease": draw(choice_values),
        "alcohol_use": draw(choice_values),
        "pregnant": draw(checkbox_values),
        "breastfeeding": draw(checkbox_values),
        "active_peptic_ulcer": draw(checkbox_values),
        "epilepsy": draw(checkbox_values),
        "psychiatric_disorder": draw(checkbox_values),
        "medication_classes": draw(id_lists),
        "hypersensitive_to": draw(id_lists),
        "other_medications": draw(hostile_text),
        "allergies": draw(hostile_text),
    }


VALID_PROFILE = {
    "date_of_birth": "1980-05-17",
    "weight_kg": "",
    "kidney_disease": "none",
    "alcohol_use": "none",
    "pregnant": "",
    "breastfeeding": "",
    "active_peptic_ulcer": "",
    "epilepsy": "",
    "psychiatric_disorder": "",
    "medication_classes": [],
    "hypersensitive_to": [],
    "other_medications": SCRIPT,
    "allergies": IMG,
}


@pytest.mark.slow
@fuzz(40)
@given(posted=profile_posts(), existing=st.booleans())
@example(posted=VALID_PROFILE, existing=False)
@example(posted={**VALID_PROFILE, "date_of_birth": "2020-01-01"}, existing=True)
@example(posted={**VALID_PROFILE, "weight_kg": "1e309"}, existing=True)
@example(posted={**VALID_PROFILE, "other_medications": "x\x00y"}, existing=True)
def test_profile_form_saves_exactly_what_it_accepts(
    patient, other_patient, baclofen, posted, existing
):
    med_class = MedicationClass.objects.exclude(slug=ALCOHOL_CLASS).order_by("pk").first()
    ids = {MED_CLASS: med_class.pk, DRUG: baclofen.pk}
    posted = {
        name: [_resolve(v, ids) for v in value] if isinstance(value, list) else value
        for name, value in posted.items()
    }
    # Ids beyond 64 bits crash SQLite: pinned by
    # test_profile_form_with_an_id_beyond_bigint_answers_400.
    assume(
        not (
            ON_SQLITE
            and any(
                beyond_bigint(v) for v in posted["medication_classes"] + posted["hypersensitive_to"]
            )
        )
    )
    # A patient can only ever edit their own profile, whatever ids the form carries.
    posted["user"] = str(other_patient.pk)
    with rolled_back():
        services.profile_update(patient=other_patient, data={"allergies": "Other's allergy"})
        if existing:
            services.profile_update(patient=patient, data={"allergies": "Old allergy"})
        instance = MedicalProfile.objects.filter(user=patient).first()
        form = MedicalProfileForm(posted, instance=instance)
        valid = form.is_valid()
        client = signed_in(patient)
        rows = snapshot()
        history = MedicalProfile.history.filter(user_id=patient.pk).count()
        response = client.post("/account/profile/", posted)
        body = assert_answer(response)
        assert MedicalProfile.objects.get(user=other_patient).allergies == "Other's allergy"
        if not valid:
            assert response.status_code == 400
            assert "Nothing was saved" in body
            assert snapshot() == rows
            return
        assert response.status_code == 302
        profile = MedicalProfile.objects.get(user=patient)
        for name, value in form.cleaned_data.items():
            if name in services.PROFILE_M2M_FIELDS:
                assert set(getattr(profile, name).all()) == set(value)
            else:
                assert getattr(profile, name) == value, name
        assert MedicalProfile.history.filter(user_id=patient.pk).count() == history + 1


@pin(5)
@given(
    field=st.sampled_from(["medication_classes", "hypersensitive_to"]),
    value=st.integers(BIGINT + 1, 10**40) | st.integers(-(10**40), -BIGINT - 2),
)
def test_profile_form_with_an_id_beyond_bigint_answers_400(patient, baclofen, field, value):
    with rolled_back():
        client = signed_in(patient)
        rows = snapshot()
        response = client.post("/account/profile/", {**VALID_PROFILE, field: [str(value)]})
        assert response.status_code == 400
        assert snapshot() == rows


# --- uploading a prescription ---------------------------------------------------------


def _browser_file_name(name: str) -> str:
    """What a browser puts in the multipart header: quotes and line breaks percent-encoded."""
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A") + ".pdf"


file_names = st.one_of(
    st.sampled_from([*MARKUP, "\u202egpj", "😀", "../../etc/passwd", "C:\\x\\rx", "x" * 300]),
    printable_text,
).map(_browser_file_name)
drug_values = st.one_of(st.sampled_from(["", DRUG]), hostile_number)


def _valid_drug(value: str):
    """The drug the form would pick for `value`, or False when it refuses it."""
    from django.core.exceptions import ValidationError

    try:
        return PrescriptionUploadForm.base_fields["drug"].clean(value)
    except ValidationError:
        return False


def _note_is_valid(note: str, max_length: int) -> bool:
    return "\x00" not in note and len(note.strip()) <= max_length


@fuzz(20)
@given(note=hostile_text, drug_value=drug_values, file_name=file_names)
@example(note=SCRIPT, drug_value=DRUG, file_name=_browser_file_name(IMG))
@example(note="x" * 1001, drug_value="", file_name="rx.pdf")
@example(note="\x00", drug_value="", file_name="rx.pdf")
@example(note="", drug_value=str(10**30), file_name="rx.pdf")
def test_upload_form_stores_a_prescription_only_when_it_accepts_it(
    patient, baclofen, private_media, note, drug_value, file_name
):
    drug_value = _resolve(drug_value, {DRUG: baclofen.pk})
    drug = _valid_drug(drug_value)
    valid = drug is not False and _note_is_valid(note, 1000)
    with rolled_back():
        client = signed_in(patient)
        rows, files = snapshot(), stored_files(private_media)
        response = client.post(
            "/account/prescriptions/new/",
            {
                "note": note,
                "drug": drug_value,
                "documents": [SimpleUploadedFile(file_name, TINY_PDF, "application/pdf")],
            },
        )
        assert_answer(response)
        if not valid:
            assert response.status_code == 400
            assert snapshot() == rows
            assert stored_files(private_media) == files
            return
        assert response.status_code == 302
        prescription = Prescription.objects.get(patient=patient)
        assert response["Location"] == prescription.get_absolute_url()
        assert prescription.patient_note == note.strip()
        assert prescription.drug == drug
        document = prescription.documents.get()
        assert document.content_type in ALLOWED_TYPES
        assert 0 < len(document.original_name) <= 100
        assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E for c in document.original_name)
        assert stored_files(private_media) == files + 1


# --- answering a pharmacist's question ------------------------------------------------


@fuzz(20)
@given(note=hostile_text, with_file=st.booleans(), asked=st.booleans())
@example(note=SCRIPT, with_file=False, asked=True)
@example(note="   ", with_file=False, asked=True)
@example(note="x" * 2001, with_file=True, asked=True)
@example(note="Here it is", with_file=True, asked=False)
def test_answer_form_changes_the_prescription_only_when_it_accepts_the_answer(
    patient, pharmacist, needs_info, private_media, note, with_file, asked
):
    with rolled_back():
        if asked:
            prescription = needs_info
        else:  # already back in the queue: nothing to answer
            prescription = services.prescription_submit_upload(
                patient=patient, documents=[clean_document(TINY_PDF)], note="First note"
            )
        client = signed_in(patient)
        rows, files = snapshot(), stored_files(private_media)
        changes = prescription.status_changes.count()
        posted = {"note": note}
        if with_file:
            posted["documents"] = [SimpleUploadedFile("answer.pdf", TINY_PDF, "application/pdf")]
        response = client.post(f"/account/prescriptions/{prescription.pk}/respond/", posted)
        assert_answer(response)
        answered = note.strip() or with_file
        if not (asked and answered and _note_is_valid(note, 2000)):
            assert response.status_code == 400
            assert snapshot() == rows
            assert stored_files(private_media) == files
            return
        assert response.status_code == 302
        prescription.refresh_from_db()
        assert prescription.status == Status.SUBMITTED
        assert prescription.status_changes.count() == changes + 1
        expected_note = "First note" + (f"\n\n{note.strip()}" if note.strip() else "")
        assert prescription.patient_note == expected_note
        assert prescription.documents.count() == 1 + with_file
        assert stored_files(private_media) == files + with_file


# --- checkout -------------------------------------------------------------------------

VALID_ADDRESS = {
    "full_name": "Pat Jordan",
    "line1": "1 Main St",
    "line2": "",
    "city": "Albany",
    "state": "NY",
    "zip_code": "12207",
    "phone": "",
}
ORDER_FIELDS = {
    "full_name": "ship_name",
    "line1": "ship_line1",
    "line2": "ship_line2",
    "city": "ship_city",
    "state": "ship_state",
    "zip_code": "ship_zip",
    "phone": "ship_phone",
}
address_values = st.one_of(
    hostile_value,
    markup_text,
    st.sampled_from(["NY", "ny", "XX", "12207", "12207-1234", "1220", "122071", " 12207 "]),
)


@fuzz(25)
@given(
    changes=st.dictionaries(st.sampled_from(sorted(VALID_ADDRESS)), address_values, max_size=4),
    had_address=st.booleans(),
)
@example(changes={"full_name": SCRIPT, "line1": IMG, "city": SQL}, had_address=False)
@example(changes={"zip_code": "1e309", "state": "<script>"}, had_address=True)
@example(changes={"line2": "x" * 10_240}, had_address=True)
def test_checkout_places_an_order_only_for_an_address_it_accepts(
    patient, verified, package, no_stripe, changes, had_address
):
    posted = {**VALID_ADDRESS, **changes}
    form = DeliveryAddressForm(posted)
    valid = form.is_valid()
    with rolled_back():
        if had_address:
            DeliveryAddress.objects.create(user=patient, **{**VALID_ADDRESS, "city": "Old town"})
        client = signed_in(patient)
        _seed_cart(client, {str(package.pk): 1})
        verified.refresh_from_db()  # the object outlives the rolled-back examples
        rows, units = snapshot(), verified.units_remaining
        response = client.post("/checkout/", posted)
        assert_answer(response)
        if not valid:
            assert response.status_code == 400
            assert snapshot() == rows
            assert _cart(client) == {str(package.pk): 1}
            return
        assert response.status_code == 302
        assert response["Location"] == PAYMENT_PAGE
        order = Order.objects.get(patient=patient)
        assert order.lines.get().quantity == 1
        package.refresh_from_db()
        verified.refresh_from_db()
        assert package.stock == dict(rows["stock"])[package.pk] - 1
        assert verified.units_remaining == units - package.pill_count
        address = DeliveryAddress.objects.get(user=patient)
        for name, value in form.cleaned_data.items():
            assert getattr(address, name) == value
            assert getattr(order, ORDER_FIELDS[name]) == value
        assert _cart(client) == {}


@pin(5)
@given(city=printable_text.map(str.strip).filter(bool))
def test_checkout_refused_for_a_missing_prescription_saves_no_address(
    patient, package, no_stripe, city
):
    with rolled_back():
        client = signed_in(patient)
        _seed_cart(client, {str(package.pk): 1})
        rows = snapshot()
        response = client.post("/checkout/", {**VALID_ADDRESS, "city": city})
        assert_answer(response)
        assert response.status_code == 409
        assert snapshot() == rows


@pin(5)
@given(digits=st.sampled_from(["١٢٢٠٧", "１２２０７", "߁߂߂߀߇", "12207-١٢٣٤"]))
def test_checkout_refuses_zip_codes_that_are_not_ascii_digits(
    patient, verified, package, no_stripe, digits
):
    with rolled_back():
        client = signed_in(patient)
        _seed_cart(client, {str(package.pk): 1})
        rows = snapshot()
        response = client.post("/checkout/", {**VALID_ADDRESS, "zip_code": digits})
        assert response.status_code == 400
        assert snapshot() == rows


# --- sign-up and sign-in --------------------------------------------------------------

STRONG_PASSWORD = "correct-horse-battery-staple-42"
EXISTING = "<existing>"
email_values = st.one_of(
    st.emails(),
    st.just(EXISTING),
    hostile_text,
    st.sampled_from(['"<script>alert(1)</script>"@example.com', "a@b", "a@example.com\x00"]),
)


@fuzz(25)
@given(
    first_name=hostile_text,
    last_name=hostile_text,
    email=email_values,
    password=st.one_of(st.just(STRONG_PASSWORD), hostile_text),
    repeated=st.booleans(),
)
@example(
    first_name=SCRIPT,
    last_name=IMG,
    email="new-patient@example.com",
    password=STRONG_PASSWORD,
    repeated=True,
)
def test_sign_up_creates_an_account_only_when_it_accepts_the_form(
    patient, first_name, last_name, email, password, repeated
):
    email = patient.email if email == EXISTING else email
    posted = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "password1": password,
        "password2": password if repeated else password + "x",
    }
    with rolled_back():
        cache.clear()  # allauth's sign-up rate limit counts in the cache
        rows = snapshot()
        response = Client().post("/accounts/signup/", posted)
        assert_answer(response)
        if response.status_code != 302:
            assert response.status_code in (200, 429)
            assert snapshot() == rows
            return
        assert repeated and "\x00" not in first_name + last_name + email + password
        user = get_user_model().objects.get(email=email.strip().lower())
        if user.pk != patient.pk:  # a new account, not the existing one (no enumeration)
            assert (user.first_name, user.last_name) == (first_name.strip(), last_name.strip())
            assert not user.emailaddress_set.get().verified


@fuzz(25)
@given(
    user_password=st.one_of(
        st.just(PASSWORD), printable_text.filter(bool), st.sampled_from(MARKUP)
    ),
    login=st.one_of(
        st.sampled_from(["<email>", "<EMAIL>", " <email> "]), st.emails(), hostile_text
    ),
    password=st.one_of(st.just("<password>"), hostile_text),
)
@example(user_password=SCRIPT, login="<email>", password="<password>")
@example(user_password=PASSWORD, login=SQL, password=SQL)
def test_sign_in_succeeds_only_with_the_right_email_and_password(user_password, login, password):
    with rolled_back():
        cache.clear()  # allauth's rate limits count in the cache
        user = make_user_with_verified_email(password=user_password)
        login = login.replace("<email>", user.email).replace("<EMAIL>", user.email.upper())
        password = user_password if password == "<password>" else password
        rows = snapshot()
        client = Client()
        response = client.post("/accounts/login/", {"login": login, "password": password})
        assert_answer(response)
        right = login.strip().lower() == user.email and password == user_password
        signed_in_as = client.session.get("_auth_user_id")
        if right:
            assert response.status_code == 302
            assert signed_in_as == str(user.pk)
        else:
            assert response.status_code in (200, 429)
            assert signed_in_as is None
            assert snapshot() == rows


# --- another patient's ids ------------------------------------------------------------


@pytest.fixture
def others_records(other_patient, pharmacist, baclofen):
    """Another patient's prescription (with a document and a secret note) and order."""
    from tests.orders.factories import make_verified_prescription, place_order

    prescription = make_needs_info(patient=other_patient, pharmacist=pharmacist)
    Prescription.objects.filter(pk=prescription.pk).update(patient_note="Olga's secret note")
    make_verified_prescription(patient=other_patient)
    order = place_order(patient=other_patient)
    return prescription, prescription.documents.get(), order


ID_ACTIONS = ("view", "respond", "download", "own_prescription_other_document")
ORDER_ACTIONS = ("view_order", "pay_order", "cancel_order")


@fuzz(30)
@given(
    action=st.sampled_from(ID_ACTIONS + ORDER_ACTIONS),
    shift=st.one_of(st.just(0), st.integers(-3, 3), st.just(10**30)),
    number_change=st.sampled_from(["same", "lower", "padded", "prefix", "hostile"]),
    hostile=printable_text.filter(lambda s: "/" not in s),
)
def test_another_patients_ids_reveal_and_change_nothing(
    patient, needs_info, others_records, action, shift, number_change, hostile
):
    prescription, document, order = others_records
    own = needs_info
    rx, doc = prescription.pk + shift, document.pk + shift
    assume(rx != own.pk and doc != own.documents.get().pk)
    number = {
        "same": order.number,
        "lower": order.number.lower(),
        "padded": f" {order.number} ",
        "prefix": order.number[:5],
        "hostile": hostile,
    }[number_change]
    assume(number.strip() not in {"", ".", ".."})
    with rolled_back():
        client = signed_in(patient)
        rows = snapshot()
        url = f"/orders/{quote(number, safe='')}/"
        response = {
            "view": lambda: client.get(f"/account/prescriptions/{rx}/"),
            "respond": lambda: client.post(
                f"/account/prescriptions/{rx}/respond/", {"note": "Mine now"}
            ),
            "download": lambda: client.get(f"/account/prescriptions/{rx}/documents/{doc}/"),
            "own_prescription_other_document": lambda: client.get(
                f"/account/prescriptions/{own.pk}/documents/{doc}/"
            ),
            "view_order": lambda: client.get(url),
            "pay_order": lambda: client.post(f"{url}pay/"),
            "cancel_order": lambda: client.post(f"{url}cancel/"),
        }[action]()
        body = assert_answer(response)
        assert response.status_code == 404
        assert "Olga" not in body and order.number not in body
        assert snapshot() == rows
        order.refresh_from_db()
        assert order.status == "pending_payment"


# --- NUL characters in URLs (PostgreSQL refuses them in queries) ----------------------


@pin(5)
@given(
    prefix=unicode_text.map(lambda s: s.replace("/", "")),
    action=st.sampled_from(["", "pay/", "cancel/"]),
)
def test_order_urls_with_a_nul_answer_404(patient, prefix, action):
    with rolled_back():
        client = signed_in(patient)
        url = f"/orders/{quote(prefix + chr(0), safe='')}/{action}"
        response = client.post(url) if action else client.get(url)
        assert_answer(response)
        assert response.status_code == 404


@pin(5)
@given(drug=unicode_text.map(lambda s: s + "\x00"))
def test_upload_page_ignores_a_drug_parameter_with_a_nul(patient, baclofen, drug):
    with rolled_back():
        response = signed_in(patient).get("/account/prescriptions/new/", {"drug": drug})
        assert_answer(response)
        assert response.status_code == 200


@pin(5)
@given(first=st.integers(150 - 2, 150), last=st.integers(150 - 2, 150))
def test_upload_by_a_patient_with_the_longest_name_is_stored(baclofen, first, last):
    assume(first + last + 1 > 300)
    with rolled_back():
        user = make_user_with_verified_email(first_name="F" * first, last_name="L" * last)
        response = signed_in(user).post(
            "/account/prescriptions/new/",
            {"documents": [SimpleUploadedFile("rx.pdf", TINY_PDF, "application/pdf")]},
        )
        assert_answer(response)
        assert response.status_code == 302
        assert PrescriptionDocument.objects.count() == 1


# --- object ids in the pharmacist's admin URLs ----------------------------------------

AUDITED_ADMINS = ["prescriptions/prescription", "prescriptions/medicalprofile"]
not_a_number = st.text(st.sampled_from("abcxyz<>'\";-_ .%"), max_size=20).map(lambda s: "x" + s)


@fuzz(10)
@given(object_id=st.one_of(not_a_number, hostile_number, st.just(SCRIPT)))
def test_orders_admin_answers_a_redirect_for_an_order_id_that_does_not_exist(pharmacist, object_id):
    with rolled_back():
        response = signed_in(pharmacist).get(
            f"/admin/orders/order/{quote(object_id, safe='')}/change/"
        )
        assert_answer(response)
        assert response.status_code in (302, 404)


@pin(5)
@given(admin=st.sampled_from(AUDITED_ADMINS), object_id=not_a_number)
def test_audited_admin_pages_answer_a_redirect_for_an_id_that_is_not_a_number(
    pharmacist, admin, object_id
):
    with rolled_back():
        response = signed_in(pharmacist).get(f"/admin/{admin}/{quote(object_id, safe='')}/change/")
        assert response.status_code == 302


@pin(5)
@given(admin=st.sampled_from(AUDITED_ADMINS), object_id=not_a_number)
def test_admin_history_pages_answer_404_for_an_id_that_is_not_a_number(
    pharmacist, admin, object_id
):
    with rolled_back():
        response = signed_in(pharmacist).get(f"/admin/{admin}/{quote(object_id, safe='')}/history/")
        assert response.status_code in (302, 404)

"""The drug-neutral review: profile confirmation, duplicates, early refill, days supply,
directions text and re-screening; for baclofen and for a drug made here."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from catalog.models import DosageForm, DosingGuideline, Drug, Formulation, MedicationClass, Package
from orders import services as order_services
from orders.cart import CartLine
from orders.models import Order
from prescriptions import review, services
from prescriptions.directions import read_directions
from prescriptions.models import MedicalProfile, Prescription
from tests.factories import (
    NOTHING_TO_FLAG,
    make_drug,
    make_e_prescription,
    make_profile,
    sign_in_staff,
)
from tests.orders.factories import baclofen_package, make_address
from tests.prescriptions.test_checks import make_patient as patient_facts

TODAY = date(2026, 3, 10)
SETTINGS = review.ReviewSettings(profile_confirm_days=180)


def facts(**overrides) -> review.ReviewFacts:
    fields = {
        "today": TODAY,
        "settings": SETTINGS,
        "patient": patient_facts(),
        "profile": review.ProfileState(exists=True, confirmed_on=TODAY - timedelta(days=10)),
    }
    return review.ReviewFacts(**{**fields, **overrides})


def codes(results) -> list[str]:
    return [r.code for r in results]


def confirmed_days_ago(patient, days: int) -> None:
    """Confirmed `days` calendar days ago in the pharmacy's time zone, at noon: the rule
    counts local days, and `now - days` in hours lands a day short across a change of
    daylight saving time in the hour after local midnight."""
    day = timezone.localdate() - timedelta(days=days)
    noon = timezone.make_aware(datetime.combine(day, time(12)))
    MedicalProfile.objects.filter(user=patient).update(confirmed_at=noon)


def verify(prescription, pharmacist, **kwargs) -> Prescription:
    return services.prescription_verify(
        prescription_id=prescription.pk,
        pharmacist=pharmacist,
        warnings_acknowledged=True,
        **kwargs,
    )


# 1. Profile missing or not confirmed recently


@pytest.mark.parametrize(("days", "stale"), [(0, False), (179, False), (180, False), (181, True)])
def test_a_profile_confirmed_longer_ago_than_the_setting_blocks(days, stale):
    profile = review.ProfileState(exists=True, confirmed_on=TODAY - timedelta(days=days))
    results = review.run_review(facts(profile=profile))
    assert codes(results) == (["profile_unconfirmed"] if stale else [])
    if stale:
        assert results[0].level == "block"
        assert (TODAY - timedelta(days=days)).isoformat() in results[0].detail


def test_a_missing_or_never_confirmed_profile_blocks():
    missing = review.run_review(facts(profile=review.ProfileState(False, None)))
    never = review.run_review(facts(profile=review.ProfileState(True, None)))
    assert codes(missing) == ["profile_missing"] and missing[0].level == "block"
    assert codes(never) == ["profile_unconfirmed"]


def test_a_patient_without_a_profile_is_not_verified_without_a_written_override(
    patient, pharmacist, baclofen
):
    prescription = make_e_prescription(patient=patient, with_profile=False)
    assert "profile_missing" in codes_of(prescription)
    assert prescription.has_blocking_checks
    with pytest.raises(ValidationError, match="No medical profile"):
        verify(prescription, pharmacist)
    verify(prescription, pharmacist, override_reason="Profile taken by phone, patient to add it")
    assert Prescription.objects.get(pk=prescription.pk).status == "verified"


def codes_of(prescription) -> list[str]:
    prescription.refresh_from_db()
    return [r["code"] for r in prescription.check_results]


def test_saving_the_profile_confirms_it_and_clears_the_finding(patient_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    confirmed_days_ago(patient, 181)
    services.prescription_run_checks(Prescription.objects.get(pk=prescription.pk))
    assert "profile_unconfirmed" in codes_of(prescription)
    response = patient_client.post(
        "/account/profile/",
        {
            "date_of_birth": "1980-05-17",
            **{k: str(v) for k, v in NOTHING_TO_FLAG.items()},
        },
    )
    assert response.status_code == 302
    profile = MedicalProfile.objects.get(user=patient)
    assert timezone.now() - profile.confirmed_at < timedelta(minutes=1)
    assert "profile_unconfirmed" not in codes_of(prescription)


def test_my_profile_is_still_correct_confirms_without_an_edit(patient_client, patient, baclofen):
    prescription = make_e_prescription(patient=patient)
    confirmed_days_ago(patient, 200)
    page = patient_client.get("/account/profile/").content.decode()
    assert "You have not confirmed your medical profile since" in page
    assert "My profile is still correct" in page
    response = patient_client.post("/account/profile/confirm/", {"next": "/cart/"})
    assert response.status_code == 302 and response["Location"] == "/cart/"
    profile = MedicalProfile.objects.get(user=patient)
    assert timezone.now() - profile.confirmed_at < timedelta(minutes=1)
    assert profile.date_of_birth == date(1980, 5, 17)
    assert "profile_unconfirmed" not in codes_of(prescription)
    page = patient_client.get("/account/profile/").content.decode()
    assert "You last confirmed this profile on" in page


def test_confirming_without_a_profile_says_to_fill_it_in(patient_client, patient):
    response = patient_client.post("/account/profile/confirm/", follow=True)
    assert "Fill in your medical profile first" in response.content.decode()
    assert not MedicalProfile.objects.filter(user=patient).exists()


def test_confirm_refuses_an_offsite_next(patient_client, patient):
    make_profile(patient)
    response = patient_client.post("/account/profile/confirm/", {"next": "https://evil.example/"})
    assert response["Location"] == "/account/profile/"


@pytest.fixture
def ordering_patient(patient, pharmacist, baclofen):
    """A patient with a verified baclofen 10 mg prescription, 90 tablets, one refill."""
    verify(make_e_prescription(patient=patient, quantity=90, refills=1), pharmacist)
    return patient


def place(patient, quantity=1, package=None) -> Order:
    return order_services.order_place(
        patient=patient,
        lines=[CartLine(package or baclofen_package(), quantity)],
        address=make_address(patient),
    )


@pytest.mark.parametrize(("days", "refused"), [(179, False), (181, True)])
def test_checkout_refuses_a_stale_profile_and_says_how_to_fix_it(ordering_patient, days, refused):
    confirmed_days_ago(ordering_patient, days)
    if not refused:
        assert place(ordering_patient).lines.count() == 1
        return
    with pytest.raises(order_services.CheckoutError) as excinfo:
        place(ordering_patient)
    [problem] = excinfo.value.problems
    assert problem.kind == "profile" and problem.package is None
    assert "You have not confirmed your medical profile since" in problem.message
    assert not Order.objects.exists()
    assert Prescription.objects.get(patient=ordering_patient).units_used == 0


def test_cart_checkout_and_prescriptions_pages_ask_for_the_confirmation(
    ordering_patient, patient_client
):
    confirmed_days_ago(ordering_patient, 181)
    patient_client.post("/cart/add/", {"package": baclofen_package().pk, "quantity": 1})
    cart = patient_client.get("/cart/").content.decode()
    assert "You have not confirmed your medical profile since" in cart
    assert 'action="/account/profile/confirm/"' in cart
    assert 'href="/checkout/"' not in cart
    assert (
        "You have not confirmed" in patient_client.get("/account/prescriptions/").content.decode()
    )
    response = patient_client.post("/checkout/", ADDRESS)
    assert response.status_code == 409
    html = response.content.decode()
    assert "You have not confirmed your medical profile since" in html
    assert 'href="/account/profile/"' in html
    patient_client.post("/account/profile/confirm/", {"next": "/cart/"})
    assert 'href="/checkout/"' in patient_client.get("/cart/").content.decode()
    assert patient_client.post("/checkout/", ADDRESS).status_code == 302
    assert Order.objects.filter(patient=ordering_patient).count() == 1


ADDRESS = {
    "full_name": "Pat Jordan",
    "line1": "1 Main St",
    "line2": "",
    "city": "Albany",
    "state": "NY",
    "zip_code": "12207",
    "phone": "",
}


# 2. Duplicate therapy and combined daily dose


def make_second_drug(*, medication_class=None, name="Tizanol") -> tuple[Drug, Formulation]:
    """A drug made here, not baclofen: 4 mg tablets, adults up to 36 mg/day."""
    drug = make_drug(name=name, medication_class=medication_class)
    DosingGuideline.objects.create(
        drug=drug,
        patient_group="Adults",
        initial_dose="2 mg three times daily",
        titration="by 2 mg every 4 days",
        maximum="36 mg/day",
        min_age_years=18,
        initial_dose_mg=2,
        initial_doses_per_day=3,
        max_daily_mg=36,
    )
    tablet = Formulation.objects.create(
        drug=drug, form=DosageForm.TABLET, strength_label="4 mg", strength_mg=Decimal(4)
    )
    Package.objects.create(formulation=tablet, pill_count=30, price=Decimal("9.00"), stock=50)
    return drug, tablet


def of_drug(drug, formulation, units: int, doses: int, **overrides) -> dict:
    words = {1: "once a day", 2: "twice a day", 3: "three times a day", 4: "four times a day"}
    directions = (
        f"Take {units} tablet{'s' if units > 1 else ''} {words.get(doses, f'{doses} times a day')}"
    )
    return {
        "drug": drug,
        "formulation": formulation,
        "units_per_dose": Decimal(units),
        "doses_per_day": doses,
        "directions": directions,
        **overrides,
    }


def baclofen_tablet(strength: str) -> dict:
    formulation = Formulation.objects.select_related("drug").get(
        drug__slug="baclofen", form="tablet", strength_label=strength
    )
    return {"drug": formulation.drug, "formulation": formulation}


def finding(prescription, code: str) -> dict:
    prescription.refresh_from_db()
    [result] = [r for r in prescription.check_results if r["code"] == code]
    return result


def test_two_active_baclofen_prescriptions_over_the_maximum_together_are_blocked(
    patient, pharmacist, baclofen
):
    """The review's case: 10 mg 1x3 and 20 mg 1x4, 110 mg/day between them."""
    first = verify(
        make_e_prescription(
            patient=patient, **of_drug(**baclofen_tablet("10 mg"), units=1, doses=3)
        ),
        pharmacist,
    )
    second = make_e_prescription(
        patient=patient, **of_drug(**baclofen_tablet("20 mg"), units=1, doses=4)
    )
    duplicate = finding(second, "duplicate_therapy")
    assert duplicate["level"] == "warn"
    assert f"#{first.pk} Baclofen 10 mg tablet: 1 × 3 a day (30 mg/day)" in duplicate["detail"]
    combined = finding(second, "combined_daily_dose")
    assert combined["level"] == "block"
    assert combined["detail"] == (
        f"110 mg/day in total (this prescription 80 + #{first.pk} Baclofen 10 mg tablet 30 mg/day); "
        "the maximum for Adults (oral), ages 18+ is 80 mg/day."
    )
    assert "maximum 80 mg/day" in combined["source"]
    with pytest.raises(ValidationError, match="Combined daily dose"):
        verify(second, pharmacist)


@pytest.mark.parametrize(("doses", "blocked"), [(5, False), (6, True)])
def test_combined_baclofen_dose_at_the_maximum_passes_and_over_it_blocks(
    patient, pharmacist, baclofen, doses, blocked
):
    verify(
        make_e_prescription(
            patient=patient, **of_drug(**baclofen_tablet("10 mg"), units=1, doses=3)
        ),
        pharmacist,
    )
    second = make_e_prescription(
        patient=patient, **of_drug(**baclofen_tablet("10 mg"), units=1, doses=doses)
    )
    found = codes_of(second)
    assert "duplicate_therapy" in found
    assert ("combined_daily_dose" in found) is blocked


@pytest.mark.parametrize(("units", "blocked"), [(2, False), (3, True)])
def test_combined_dose_of_a_second_drug_uses_its_own_maximum(patient, pharmacist, units, blocked):
    drug, tablet = make_second_drug()
    verify(
        make_e_prescription(patient=patient, **of_drug(drug, tablet, units=1, doses=3)), pharmacist
    )
    # 12 mg/day already; 2 x 4 mg x 3 = 24 more makes 36 (the maximum), 3 x 4 x 3 makes 48
    second = make_e_prescription(patient=patient, **of_drug(drug, tablet, units=units, doses=3))
    assert ("combined_daily_dose" in codes_of(second)) is blocked
    if blocked:
        assert (
            "the maximum for Adults, ages 18+ is 36 mg/day"
            in finding(second, "combined_daily_dose")["detail"]
        )


def test_another_drug_of_the_same_class_is_duplicate_therapy_without_a_combined_dose(
    patient, pharmacist
):
    relaxants = MedicationClass.objects.create(name="Test relaxants", slug="test-relaxants")
    drug, tablet = make_second_drug(medication_class=relaxants)
    other, other_tablet = make_second_drug(medication_class=relaxants, name="Relaxodone")
    first = verify(
        make_e_prescription(patient=patient, **of_drug(drug, tablet, units=3, doses=3)), pharmacist
    )
    second = make_e_prescription(patient=patient, **of_drug(other, other_tablet, units=3, doses=3))
    duplicate = finding(second, "duplicate_therapy")
    assert duplicate["title"] == "Duplicate therapy: another active Test relaxants prescription"
    assert f"#{first.pk} Tizanol 4 mg tablet" in duplicate["detail"]
    assert "combined_daily_dose" not in codes_of(second)
    unrelated, unrelated_tablet = make_second_drug(name="Lonely")
    alone = make_e_prescription(
        patient=patient, **of_drug(unrelated, unrelated_tablet, units=1, doses=3)
    )
    assert "duplicate_therapy" not in codes_of(alone)


def test_only_active_prescriptions_count_as_duplicates(patient, pharmacist, baclofen):
    used_up = verify(make_e_prescription(patient=patient, quantity=90, refills=0), pharmacist)
    Prescription.objects.filter(pk=used_up.pk).update(units_used=90)
    expired = verify(make_e_prescription(patient=patient), pharmacist)
    Prescription.objects.filter(pk=expired.pk).update(
        expiry_date=timezone.localdate() - timedelta(days=1)
    )
    make_e_prescription(patient=patient)  # in the queue, not verified
    new = make_e_prescription(patient=patient)
    assert "duplicate_therapy" not in codes_of(new)


def test_the_older_prescription_is_not_flagged_again_for_the_newer_one(
    patient, pharmacist, baclofen
):
    first = verify(make_e_prescription(patient=patient), pharmacist)
    second = verify(make_e_prescription(patient=patient), pharmacist)
    services.prescription_run_checks(Prescription.objects.get(pk=first.pk))
    assert "duplicate_therapy" not in codes_of(first)
    services.prescription_run_checks(Prescription.objects.get(pk=second.pk))
    assert "duplicate_therapy" in codes_of(second)


def test_the_therapeutic_class_is_set_in_the_drug_admin(client, catalog_staff, baclofen):
    sign_in_staff(client, catalog_staff)
    page = client.get(f"/admin/catalog/drug/{baclofen.pk}/change/").content.decode()
    assert 'name="medication_class"' in page


# 6 and 7. Re-screening after verification, and at checkout


def add_to_profile(patient, slug: str) -> None:
    profile = MedicalProfile.objects.get(user=patient)
    classes = [*profile.medication_classes.all(), MedicationClass.objects.get(slug=slug)]
    services.profile_update(patient=patient, data={"medication_classes": classes})


def test_opioids_added_after_verification_hold_ordering_until_a_pharmacist_looks_again(
    ordering_patient, patient_client, pharmacist, client
):
    """The review's case: the profile changed after verification, the next order went
    through because only open prescriptions were checked again."""
    prescription = Prescription.objects.get(patient=ordering_patient)
    add_to_profile(ordering_patient, "opioids")
    prescription.refresh_from_db()
    assert prescription.is_held
    assert "Major interaction with CNS depressants" in prescription.hold_reason
    package = baclofen_package()
    with pytest.raises(order_services.CheckoutError) as excinfo:
        place(ordering_patient)
    [problem] = excinfo.value.problems
    assert problem.kind == "held"
    assert f"prescription #{prescription.pk} is on hold" in problem.message
    assert "CNS depressants" in problem.message
    assert (Package.objects.get(pk=package.pk).stock, prescription.units_used) == (100, 0)
    # The patient sees why, on the cart and the prescriptions pages.
    patient_client.post("/cart/add/", {"package": package.pk, "quantity": 1})
    assert "On hold" in patient_client.get("/cart/").content.decode()
    listing = patient_client.get("/account/prescriptions/").content.decode()
    assert "On hold" in listing and "Major interaction with CNS depressants" in listing
    detail = patient_client.get(f"/account/prescriptions/{prescription.pk}/").content.decode()
    assert "a pharmacist reviews it again before you can order" in detail
    # The pharmacist looks again and records why ordering may go on.
    sign_in_staff(client, pharmacist)
    page = client.get(f"/admin/prescriptions/prescription/{prescription.pk}/change/")
    assert "Ordering held since" in page.content.decode()
    response = client.post(
        f"/admin/prescriptions/prescription/{prescription.pk}/review/",
        {"action": "review_again", "reason": "Spoke to the prescriber: opioid stopped next week"},
    )
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert not prescription.is_held and prescription.hold_reason == ""
    [decision] = prescription.clinical_reviews.all()
    assert (decision.pharmacist, decision.kind) == (pharmacist, "reviewed_again")
    assert decision.reason == "Spoke to the prescriber: opioid stopped next week"
    assert any(f["code"].startswith("interaction_cns") for f in decision.findings)
    assert place(ordering_patient).lines.get().prescription_id == prescription.pk
    # Answered now: another profile edit does not hold it again for the same finding.
    add_to_profile(ordering_patient, "nsaids")
    assert not Prescription.objects.get(pk=prescription.pk).is_held


def test_a_finding_overridden_at_verification_does_not_hold(patient, pharmacist, baclofen):
    make_profile(patient)
    add_to_profile(patient, "opioids")
    prescription = verify(
        make_e_prescription(patient=patient), pharmacist, override_reason="Prescriber aware"
    )
    add_to_profile(patient, "nsaids")  # a new warning, not a block
    prescription.refresh_from_db()
    assert not prescription.is_held
    assert "interaction_nsaids" in codes_of(prescription)


def test_the_hold_stays_when_the_finding_goes_until_a_pharmacist_looks(ordering_patient):
    add_to_profile(ordering_patient, "opioids")
    services.profile_update(patient=ordering_patient, data={"medication_classes": []})
    prescription = Prescription.objects.get(patient=ordering_patient)
    assert prescription.is_held
    assert not any(c.startswith("interaction_cns") for c in codes_of(prescription))


def test_a_stale_profile_stops_ordering_but_holds_nothing(ordering_patient):
    confirmed_days_ago(ordering_patient, 181)
    prescription = Prescription.objects.get(patient=ordering_patient)
    services.prescription_recheck(prescription_id=prescription.pk)
    prescription.refresh_from_db()
    assert "profile_unconfirmed" in codes_of(prescription)
    assert not prescription.is_held


def test_used_up_or_expired_prescriptions_are_not_held(patient, pharmacist, baclofen):
    used_up = verify(make_e_prescription(patient=patient, quantity=90, refills=0), pharmacist)
    Prescription.objects.filter(pk=used_up.pk).update(units_used=90)
    add_to_profile(patient, "opioids")
    assert not Prescription.objects.get(pk=used_up.pk).is_held


def test_checkout_runs_the_review_again_and_keeps_the_hold_it_finds(
    ordering_patient, patient_client, baclofen
):
    """No profile change: a rule edited since verification (the adult maximum lowered
    below this 30 mg/day) is found by checkout itself, before any stock is taken."""
    DosingGuideline.objects.filter(drug=baclofen, min_age_years=18).update(max_daily_mg=20)
    package = baclofen_package()
    patient_client.post("/cart/add/", {"package": package.pk, "quantity": 1})
    response = patient_client.post("/checkout/", ADDRESS)
    assert response.status_code == 409
    assert "is on hold until a pharmacist reviews it again" in response.content.decode()
    assert "Daily dose above the maximum" in response.content.decode()
    prescription = Prescription.objects.get(patient=ordering_patient)
    assert prescription.is_held  # kept, although the refused order rolled back
    assert (prescription.units_used, Package.objects.get(pk=package.pk).stock) == (0, 100)
    assert not Order.objects.exists()


def test_checkout_uses_another_prescription_when_one_is_held(
    ordering_patient, pharmacist, baclofen
):
    first = Prescription.objects.get(patient=ordering_patient)
    Prescription.objects.filter(pk=first.pk).update(held_since=timezone.now(), hold_reason="x.")
    second = verify(make_e_prescription(patient=ordering_patient), pharmacist)
    assert place(ordering_patient).lines.get().prescription_id == second.pk


def test_a_new_interaction_of_a_second_drug_holds_it_too(patient, pharmacist):
    from catalog.models import Interaction

    drug, tablet = make_second_drug()
    interaction = Interaction.objects.create(
        drug=drug, name="Opioids", effect="Added sedation.", severity="major"
    )
    interaction.medication_classes.add(MedicationClass.objects.get(slug="opioids"))
    prescription = verify(
        make_e_prescription(patient=patient, **of_drug(drug, tablet, units=1, doses=3)), pharmacist
    )
    assert not prescription.is_held
    add_to_profile(patient, "opioids")
    prescription.refresh_from_db()
    assert prescription.is_held and "Major interaction with Opioids" in prescription.hold_reason


def test_reviewing_again_needs_a_reason_a_verified_prescription_and_a_pharmacist(
    patient, pharmacist, catalog_staff, client, baclofen
):
    open_one = make_e_prescription(patient=patient)
    with pytest.raises(ValidationError, match="Give the reason"):
        services.prescription_review_again(
            prescription_id=open_one.pk, pharmacist=pharmacist, reason=" "
        )
    with pytest.raises(ValidationError, match="Only a verified prescription"):
        services.prescription_review_again(
            prescription_id=open_one.pk, pharmacist=pharmacist, reason="Looked"
        )
    verified = verify(make_e_prescription(patient=patient), pharmacist)
    sign_in_staff(client, catalog_staff)
    url = f"/admin/prescriptions/prescription/{verified.pk}/review/"
    assert client.post(url, {"action": "review_again", "reason": "x"}).status_code == 403
    assert not verified.clinical_reviews.exists()


# 3. Early refill


def bought(days_ago: int, units: int = 100, daily: str = "1") -> review.Purchase:
    return review.Purchase(TODAY - timedelta(days=days_ago), units, Decimal(daily))


@pytest.mark.parametrize(("days_ago", "early"), [(0, True), (74, True), (75, False), (76, False)])
def test_an_order_before_three_quarters_of_the_supply_is_used_is_early(days_ago, early):
    results = review.run_review(facts(drug_name="Baclofen", purchases=(bought(days_ago),)))
    assert ("early_refill" in codes(results)) is early
    supply = review.supply_on_hand((bought(days_ago),), share=Decimal("0.75"))
    assert supply.refill_from == TODAY - timedelta(days=days_ago) + timedelta(days=75)
    assert supply.runs_out == TODAY - timedelta(days=days_ago) + timedelta(days=100)


def test_supply_bought_early_is_used_after_what_is_on_hand():
    # two 30-day supplies bought today: the second starts in 30 days
    supply = review.supply_on_hand((bought(0, 90, "3"), bought(0, 90, "3")), share=Decimal("0.75"))
    assert supply.runs_out == TODAY + timedelta(days=60)
    assert supply.refill_from == TODAY + timedelta(days=30 + 23)


def test_orders_without_directions_or_none_at_all_say_nothing():
    assert review.supply_on_hand((), share=Decimal("0.75")) is None
    no_directions = review.Purchase(TODAY, 100, None)
    assert review.supply_on_hand((no_directions,), share=Decimal("0.75")) is None


def pay_now(order, days_ago: int = 0) -> Order:
    order_services.order_mark_paid(order_id=order.pk, payment_intent=f"pi_{order.pk}")
    Order.objects.filter(pk=order.pk).update(paid_at=timezone.now() - timedelta(days=days_ago))
    return order


def test_three_months_bought_in_one_afternoon_is_refused_with_the_date(
    patient, pharmacist, baclofen
):
    """The review's case: 90 tablets with 2 refills, three orders of 90 paid the same day."""
    prescription = verify(make_e_prescription(patient=patient, quantity=90, refills=2), pharmacist)
    pay_now(place(patient, quantity=9))
    with pytest.raises(order_services.CheckoutError) as excinfo:
        place(patient, quantity=9)
    [problem] = excinfo.value.problems
    assert problem.kind == "early_refill"
    due = review.long_date(timezone.localdate() + timedelta(days=23))  # 75% of 30 days
    assert f"You may order it again from {due}." in problem.message
    assert Prescription.objects.get(pk=prescription.pk).units_used == 90
    assert Order.objects.count() == 1


@pytest.mark.parametrize(("days_ago", "refused"), [(74, True), (76, False)])
def test_checkout_refuses_before_75_percent_of_the_supply_is_used(
    patient, pharmacist, baclofen, days_ago, refused
):
    verify(
        make_e_prescription(
            patient=patient, quantity=100, refills=2, doses_per_day=1, directions="1 tablet daily"
        ),
        pharmacist,
    )
    pay_now(place(patient, quantity=10), days_ago=days_ago)  # 100 tablets, one a day
    if refused:
        with pytest.raises(order_services.CheckoutError, match="You may order it again from"):
            place(patient, quantity=10)
    else:
        assert place(patient, quantity=10).lines.get().units == 100


def test_an_order_waiting_for_payment_counts_and_a_cancelled_one_does_not(
    patient, pharmacist, baclofen
):
    verify(make_e_prescription(patient=patient, quantity=90, refills=2), pharmacist)
    waiting = place(patient, quantity=9)
    with pytest.raises(order_services.CheckoutError, match="You may order it again"):
        place(patient, quantity=9)
    order_services.order_cancel(order_id=waiting.pk, actor=patient)
    assert place(patient, quantity=9).lines.get().units == 90


def test_a_pharmacist_allows_one_early_refill_with_a_reason(
    patient, pharmacist, baclofen, client, patient_client
):
    prescription = verify(make_e_prescription(patient=patient, quantity=90, refills=2), pharmacist)
    pay_now(place(patient, quantity=9))
    patient_client.post("/cart/add/", {"package": baclofen_package().pk, "quantity": 9})
    response = patient_client.post("/checkout/", ADDRESS)
    assert response.status_code == 409
    assert "You may order it again from" in response.content.decode()
    sign_in_staff(client, pharmacist)
    page = client.get(f"/admin/prescriptions/prescription/{prescription.pk}/change/")
    due = (timezone.localdate() + timedelta(days=23)).isoformat()
    assert f"the next order is due from {due}" in page.content.decode()
    url = f"/admin/prescriptions/prescription/{prescription.pk}/review/"
    assert client.post(url, {"action": "allow_early_refill", "reason": ""}).status_code == 302
    assert not Prescription.objects.get(pk=prescription.pk).early_refill_allowed
    client.post(url, {"action": "allow_early_refill", "reason": "Travelling abroad for 2 months"})
    [decision] = Prescription.objects.get(pk=prescription.pk).clinical_reviews.all()
    assert (decision.kind, decision.pharmacist) == ("early_refill", pharmacist)
    assert decision.reason == "Travelling abroad for 2 months"
    assert place(patient, quantity=9).lines.get().prescription_id == prescription.pk
    assert not Prescription.objects.get(pk=prescription.pk).early_refill_allowed  # used
    with pytest.raises(order_services.CheckoutError, match="You may order it again"):
        place(patient, quantity=9)


def test_a_pharmacist_allows_an_early_refill_on_a_prescription_not_yet_verified(
    patient, pharmacist, baclofen, client
):
    verify(make_e_prescription(patient=patient, quantity=90, refills=2), pharmacist)
    pay_now(place(patient, quantity=9))
    waiting = make_e_prescription(patient=patient, quantity=90)  # submitted
    sign_in_staff(client, pharmacist)
    page = client.get(f"/admin/prescriptions/prescription/{waiting.pk}/change/").content.decode()
    assert 'id="early-refill-h"' in page
    due = (timezone.localdate() + timedelta(days=23)).isoformat()
    assert f"the next order is due from {due}" in page

    url = f"/admin/prescriptions/prescription/{waiting.pk}/review/"
    client.post(url, {"action": "allow_early_refill", "reason": "Going abroad on Friday"})

    waiting.refresh_from_db()
    assert waiting.early_refill_allowed and waiting.status == "submitted"
    [decision] = waiting.clinical_reviews.all()
    assert (decision.kind, decision.reason) == ("early_refill", "Going abroad on Friday")


def test_a_new_prescription_while_supply_is_on_hand_is_flagged_for_the_pharmacist(
    patient, pharmacist
):
    drug, tablet = make_second_drug()
    verify(
        make_e_prescription(patient=patient, **of_drug(drug, tablet, units=2, doses=3)), pharmacist
    )
    pay_now(place(patient, quantity=1, package=tablet.packages.get()))  # 30 tablets, 5 days
    again = make_e_prescription(patient=patient, **of_drug(drug, tablet, units=2, doses=3))
    early = finding(again, "early_refill")
    assert early["level"] == "warn"
    assert (timezone.localdate() + timedelta(days=4)).isoformat() in early["detail"]  # ceil 3.75
    with pytest.raises(order_services.CheckoutError, match="You may order it again"):
        place(patient, quantity=1, package=tablet.packages.get())


# 5. Directions text against the structured fields


@pytest.mark.parametrize(
    ("text", "units", "doses"),
    [
        ("Take 1 tablet three times a day", "1", 3),
        ("2 tablets four times daily", "2", 4),
        ("Take one tablet twice daily", "1", 2),
        ("Take two tablets once daily", "2", 1),
        ("1/2 tablet every 8 hours", "0.5", 3),
        ("½ tablet tid", "0.5", 3),
        ("take half a tablet b.i.d.", "0.5", 2),
        ("Take 1 1/2 tablets q6h", "1.5", 4),
        ("one tablet qid", "1", 4),
        ("Take 1 tablet(s) by mouth 3 times a day", "1", 3),
        ("Take one three times a day", "1", 3),
        ("Take 10 mg three times a day", None, 3),  # mg is not a count of tablets
        ("Take 2 tablets a day", None, None),  # perhaps the daily total
        ("Take 1 to 2 tablets every 4-6 hours", None, None),
        ("Take 1 tablet three times a day, then increase to 2", None, None),
        ("Take 1 tablet every 5 hours", "1", None),
        ("As directed by your doctor", None, None),
    ],
)
def test_directions_text_is_read_for_units_and_doses_only_when_unambiguous(text, units, doses):
    read = read_directions(text)
    assert read.units_per_dose == (Decimal(units) if units else None)
    assert read.doses_per_day == doses


def test_millilitres_count_for_a_liquid_and_not_for_a_tablet():
    assert read_directions("10 mL three times a day", liquid=True).units_per_dose == 10
    assert read_directions("10 mL three times a day").units_per_dose is None


def regimen(units: str, doses: int) -> review.RegimenFacts:
    return review.RegimenFacts(
        pk=1,
        label="#1",
        strength_mg=Decimal(10),
        units_per_dose=Decimal(units),
        doses_per_day=doses,
    )


@pytest.mark.parametrize(
    ("text", "units", "doses", "mismatch"),
    [
        ("Take 1 tablet three times a day", "1", 3, False),
        ("Take 2 tablets four times daily", "1", 3, True),
        ("Take 1 tablet four times daily", "1", 3, True),
        ("Take 2 tablets three times a day", "1", 3, True),
        ("Take as directed", "1", 3, False),  # cannot be read: silent
        ("Take 1 tablet every 5 hours", "1", 3, False),  # only the count is read, and agrees
        ("", "1", 3, False),
    ],
)
def test_directions_that_state_another_dose_block(text, units, doses, mismatch):
    results = review.run_review(
        facts(regimen=regimen(units, doses), directions=text, form="tablet")
    )
    assert ("directions_mismatch" in codes(results)) is mismatch
    if mismatch:
        [result] = results
        assert result.level == "block"
        assert result.detail.startswith(f"The directions “{text}” say ")


def test_a_mismatch_names_both_regimens(patient, pharmacist, baclofen):
    """The review's case: "2 tablets four times daily" against 1 x 3 was not flagged."""
    prescription = make_e_prescription(
        patient=patient, directions="Take 2 tablets four times daily"
    )
    result = finding(prescription, "directions_mismatch")
    assert result["detail"] == (
        "The directions “Take 2 tablets four times daily” say 2 per dose, 4 times a day; "
        "the structured fields say 1 per dose, 3 times a day."
    )
    with pytest.raises(ValidationError, match="Directions text differs"):
        verify(prescription, pharmacist)


def test_directions_of_a_second_drug_are_read_the_same_way(patient):
    drug, tablet = make_second_drug()
    agrees = make_e_prescription(patient=patient, **of_drug(drug, tablet, units=2, doses=3))
    assert "directions_mismatch" not in codes_of(agrees)
    differs = make_e_prescription(
        patient=patient,
        **of_drug(drug, tablet, units=2, doses=3, directions="Take 1 tablet every 6 hours"),
    )
    assert "1 per dose, 4 times a day" in finding(differs, "directions_mismatch")["detail"]


@pytest.mark.parametrize(("units", "mismatch"), [("10", False), ("5", True)])
def test_a_liquid_dose_in_millilitres_is_compared_in_millilitres(units, mismatch):
    results = review.run_review(
        facts(regimen=regimen(units, 3), directions="10 mL three times a day", form="oral_solution")
    )
    assert ("directions_mismatch" in codes(results)) is mismatch


# 4. Days supply


def supply_facts(quantity: int, refills: int, *, valid_days: int, units="1", doses=1):
    return facts(
        regimen=regimen(units, doses),
        quantity=quantity,
        refills=refills,
        date_written=TODAY,
        expiry_date=TODAY + timedelta(days=valid_days),
    )


@pytest.mark.parametrize(("quantity", "beyond"), [(180, False), (181, True)])
def test_a_supply_outlasting_the_prescription_is_a_warning(quantity, beyond):
    results = review.run_review(supply_facts(quantity, 0, valid_days=180))
    assert codes(results) == (["days_supply_beyond_expiry"] if beyond else [])
    if beyond:
        assert results[0].level == "warn"
        assert results[0].detail == (
            "181 × (1 + 0) = 181 units at 1 a day last 181 days; the prescription is valid "
            f"for 180 days (until {(TODAY + timedelta(days=180)).isoformat()})."
        )


@pytest.mark.parametrize(("quantity", "over"), [(365, False), (366, True)])
def test_a_supply_for_more_than_a_year_is_a_warning(quantity, over):
    results = review.run_review(supply_facts(quantity, 0, valid_days=500))
    assert codes(results) == (["days_supply_over_limit"] if over else [])


def test_refills_and_the_directions_count_in_the_days_supply():
    # 90 x (1 + 3) = 360 tablets at 1 x 3 a day: 120 days
    assert review.run_review(supply_facts(90, 3, valid_days=120, doses=3)) == []
    assert codes(review.run_review(supply_facts(90, 3, valid_days=119, doses=3))) == [
        "days_supply_beyond_expiry"
    ]


def test_a_thousand_tablets_with_eleven_refills_at_one_a_day_is_flagged(patient, baclofen):
    """The review's case: 1000 units with 11 refills at one a day was let through."""
    prescription = make_e_prescription(
        patient=patient,
        quantity=1000,
        refills=11,
        doses_per_day=1,
        directions="Take 1 tablet once daily",
    )
    assert {"days_supply_beyond_expiry", "days_supply_over_limit"} <= set(codes_of(prescription))
    assert (
        "12000 units at 1 a day last 12000 days"
        in finding(prescription, "days_supply_over_limit")["detail"]
    )


def test_a_second_drugs_supply_follows_its_own_directions(patient):
    drug, tablet = make_second_drug()
    # 90 tablets x 2 at 2 x 3 a day: 30 days
    ok = make_e_prescription(patient=patient, **of_drug(drug, tablet, units=2, doses=3), refills=1)
    assert not [c for c in codes_of(ok) if c.startswith("days_supply")]


# The facts are gathered in a fixed number of queries


def test_the_review_reads_a_fixed_number_of_queries_however_much_history(
    patient, pharmacist, baclofen
):
    def queries_for(prescription) -> int:
        locked = Prescription.objects.select_related("drug", "formulation").get(pk=prescription.pk)
        with CaptureQueriesContext(connection) as captured:
            services.prescription_run_checks(locked)
        return len(captured)

    first = verify(make_e_prescription(patient=patient, quantity=90, refills=5), pharmacist)
    alone = queries_for(first)
    for _ in range(3):
        verify(make_e_prescription(patient=patient), pharmacist, override_reason="Test")
    with override_settings(REFILL_TOO_EARLY_SHARE="0"):
        for _ in range(3):
            pay_now(place(patient, quantity=1))
    assert queries_for(make_e_prescription(patient=patient)) == alone

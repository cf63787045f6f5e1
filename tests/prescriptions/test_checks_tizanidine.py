"""The same rules on a second drug whose monograph ships with the tests (tizanidine).

Every number here comes from rows the loader read from
tests/catalog/data/tizanidine-monograph.txt; none of baclofen's rules leak in.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.models import Formulation, Severity
from prescriptions.checks import Level
from tests.factories import (
    make_e_prescription,
    make_pharmacist,
    make_user_with_verified_email,
    sign_in_staff,
)
from tests.prescriptions.test_checks import TODAY, codes, make_patient, make_prescription, only
from tests.prescriptions.test_checks import check as check_drug


def tabs(mg, units, doses, **overrides):
    fields = {"strength_mg": Decimal(mg), "units_per_dose": Decimal(units), "doses_per_day": doses}
    return make_prescription(**{**fields, **overrides})


def check(drug, patient=None, prescription=None):
    """As test_checks.check, with tizanidine's starting dose (2 mg three times a day)."""
    return check_drug(drug, patient, prescription or tabs(2, 1, 3))


def on_it(**overrides):
    """An adult already on tizanidine, so the starting-dose rule stays out of the way."""
    return make_patient(has_earlier_prescription=True, **overrides)


def test_a_clean_adult_on_the_starting_dose_has_no_findings(tizanidine):
    assert check(tizanidine, make_patient(), tabs(2, 1, 3)) == []


# Daily maximum and doses a day


def test_36_mg_a_day_passes_and_40_mg_is_blocked(tizanidine):
    assert check(tizanidine, on_it(), tabs(4, 3, 3)) == []  # 12 mg three times
    result = only(check(tizanidine, on_it(), tabs(4, 5, 2)), "max_daily_dose")
    assert result.level == Level.BLOCK
    assert "40 mg/day prescribed" in result.detail
    assert "is 36 mg/day" in result.detail
    assert result.source == (
        "Adults (oral): maximum 36 mg/day (no more than three doses in 24 hours)"
    )


def test_three_doses_a_day_pass_and_four_are_blocked(tizanidine):
    assert check(tizanidine, on_it(), tabs(2, 1, 3)) == []
    result = only(check(tizanidine, on_it(), tabs(2, 1, 4)), "max_doses_per_day")
    assert result.level == Level.BLOCK
    assert result.detail == (
        "4 doses a day prescribed; the monograph allows no more than 3 for Adults (oral)."
    )


def test_the_starting_dose_is_tizanidines_own(tizanidine):
    assert check(tizanidine, make_patient(), tabs(4, 1, 3)) == []  # 12 = 2 x 6 mg/day
    result = only(
        check(tizanidine, make_patient(), tabs(4, 1, 3, units_per_dose=Decimal(2))),
        "starting_dose_high",
    )
    assert "the start for ages 18+ is 6 mg/day (2 mg up to three times daily)" in result.detail


# Not established under 18


def test_a_15_year_old_is_blocked_quoting_the_not_established_sentence(tizanidine):
    result = only(check(tizanidine, on_it(age_years=15), tabs(2, 1, 3)), "not_established")
    assert result.level == Level.BLOCK
    assert result.title == "Not established for under 18"
    assert result.source == (
        "Special Populations: “Children: Safety and effectiveness in patients under 18 years "
        "have not been established.”"
    )


def test_17_is_blocked_and_18_is_not(tizanidine):
    assert "not_established" in codes(check(tizanidine, on_it(age_years=17), tabs(2, 1, 3)))
    assert check(tizanidine, on_it(age_years=18), tabs(2, 1, 3)) == []


# Interactions


@pytest.mark.parametrize("ticked", ["fluvoxamine", "ciprofloxacin"])
def test_cyp1a2_inhibitors_ticked_are_contraindicated(tizanidine, ticked):
    result = only(
        check(tizanidine, make_patient(medication_classes=frozenset({ticked}))),
        "interaction_cyp1a2_inhibitors",
    )
    assert result.level == Level.BLOCK
    assert result.title == "Contraindicated with CYP1A2 inhibitors"
    assert result.source.startswith("CYP1A2 inhibitors: Contraindicated. Tizanidine levels")


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("Fluvoxamine 100 mg at night", "“Fluvoxamine” (Fluvoxamine)"),
        ("ciprofloxacin 500mg for 7 days", "“Ciprofloxacin” (Ciprofloxacin)"),
    ],
)
def test_cyp1a2_inhibitors_typed_in_free_text_are_contraindicated(tizanidine, typed, found):
    result = only(
        check(tizanidine, make_patient(other_medications=typed)), "interaction_cyp1a2_inhibitors"
    )
    assert result.level == Level.BLOCK
    assert found in result.detail


def test_oxycodone_typed_is_a_cns_depressant_finding_for_tizanidine_too(tizanidine):
    result = only(
        check(tizanidine, make_patient(other_medications="oxycodone 10 mg")),
        "interaction_cns_depressants",
    )
    assert result.level == Level.WARN  # the monograph does not grade it: moderate
    assert "“oxycodone” (Opioids)" in result.detail


def test_baclofens_nsaid_and_tricyclic_interactions_are_not_tizanidines(tizanidine):
    patient = make_patient(medication_classes=frozenset({"nsaids", "tricyclic-antidepressants"}))
    assert check(tizanidine, patient) == []


# Conditions


def test_hepatic_impairment_is_blocked_for_tizanidine(tizanidine):
    result = only(check(tizanidine, make_patient(hepatic_impairment=True)), "hepatic_impairment")
    assert result.level == Level.BLOCK
    assert result.source.startswith("Special Populations: “Hepatic impairment: Tizanidine is")
    assert check(tizanidine, make_patient(hepatic_impairment=False)) == []


@pytest.mark.parametrize("flag", ["active_peptic_ulcer", "epilepsy", "psychiatric_disorder"])
def test_baclofens_condition_rules_are_not_applied_to_tizanidine(tizanidine, baclofen, flag):
    patient = make_patient(**{flag: True})
    assert check(tizanidine, patient) == []
    assert check_drug(baclofen, patient) != []


def test_hypersensitivity_pregnancy_and_65_plus_are_tizanidines_own_rows(tizanidine):
    assert only(
        check(tizanidine, make_patient(hypersensitive_to_drug=True)), "hypersensitivity"
    ).source.startswith("Contraindications: “Tizanidine is contraindicated")
    assert codes(check(tizanidine, make_patient(pregnant=True))) == ["pregnancy"]
    assert codes(check(tizanidine, make_patient(age_years=65))) == ["elderly"]
    assert check(tizanidine, make_patient(age_years=64)) == []


# Kidneys: creatinine clearance below 25 mL/min


def test_creatinine_clearance_24_is_a_finding_26_and_25_are_not(tizanidine):
    result = only(
        check(tizanidine, make_patient(creatinine_clearance=Decimal(24))), "renal_function"
    )
    assert result.level == Level.WARN
    assert result.title == "Kidney function below 25 mL/min: reduce the dose"
    assert "creatinine clearance below 25 mL/min, reduce the dose" in result.source
    assert check(tizanidine, make_patient(creatinine_clearance=Decimal(25))) == []
    assert check(tizanidine, make_patient(creatinine_clearance=Decimal(26))) == []


def test_kidney_disease_without_a_number_still_warns(tizanidine):
    result = only(check(tizanidine, make_patient(kidney_disease="chronic")), "kidney_chronic")
    assert result.level == Level.WARN
    # End-stage is not "avoid" in this monograph, unlike baclofen's.
    assert (
        only(check(tizanidine, make_patient(kidney_disease="end_stage")), "kidney_end_stage").level
        == Level.WARN
    )


# Titration: 2 mg to 4 mg per dose every 1 to 4 days


def test_titration_allows_4_mg_a_dose_a_day_and_no_faster(tizanidine):
    patient = on_it(previous_daily_mg=Decimal(6), previous_date_written=TODAY - timedelta(days=2))
    # 6 -> 30 mg/day in 2 days: +24 = 2 steps x 4 mg x 3 doses
    assert check(tizanidine, patient, tabs(10, 1, 3, date_written=TODAY)) == []
    assert codes(check(tizanidine, patient, tabs(12, 1, 3, date_written=TODAY))) == [
        "titration_too_fast"
    ]


# The loaded rows and the pages


def test_the_loader_made_tizanidines_rows(tizanidine):
    forms = [(f.form, f.strength_label) for f in tizanidine.formulations.all()]
    assert forms == [
        ("tablet", "2 mg"),
        ("tablet", "4 mg"),
        ("capsule", "2 mg"),
        ("capsule", "4 mg"),
        ("capsule", "6 mg"),
    ]
    assert tizanidine.must_not_stop_suddenly
    assert tizanidine.stop_suddenly_warning.startswith("Do not stop taking tizanidine suddenly.")
    grades = dict(tizanidine.interactions.values_list("name", "severity"))
    assert grades["CYP1A2 inhibitors"] == Severity.CONTRAINDICATED
    threshold = tizanidine.renal_thresholds.get()
    assert (threshold.measure, threshold.below) == ("crcl", Decimal(25))


def test_the_drug_page_calls_out_the_stop_suddenly_warning(client, tizanidine):
    html = client.get(tizanidine.get_absolute_url()).content.decode()
    assert 'id="stop-suddenly"' in html
    assert "Do not stop taking tizanidine suddenly." in html
    assert "4 mg capsules" not in html  # no price table for capsules: not offered


def test_the_pharmacist_page_shows_each_finding_with_its_monograph_sentence(client, tizanidine):
    patient = make_user_with_verified_email(email="tiz@example.com")
    four_mg = Formulation.objects.get(drug=tizanidine, form="tablet", strength_label="4 mg")
    prescription = make_e_prescription(
        patient=patient,
        drug=tizanidine,
        formulation=four_mg,
        units_per_dose=Decimal(3),
        doses_per_day=4,
    )
    found = {r["code"]: r for r in prescription.check_results}
    assert {"max_daily_dose", "max_doses_per_day"} <= set(found)
    sign_in_staff(client, make_pharmacist())
    html = client.get(
        reverse("admin:prescriptions_prescription_change", args=[prescription.pk])
    ).content.decode()
    for code in ("max_daily_dose", "max_doses_per_day"):
        assert found[code]["title"] in html
        assert found[code]["source"] in html

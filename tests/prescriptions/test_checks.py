"""The clinical checks against the baclofen rows loaded by the catalog migration."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from catalog.models import (
    DosageForm,
    MedicationClass,
    ProfileFact,
    RenalMeasure,
    RenalThreshold,
    Route,
    Severity,
)
from prescriptions.checks import (
    CheckResult,
    Level,
    PatientFacts,
    PrescriptionFacts,
    daily_dose_mg,
    run_checks,
)
from prescriptions.models import Prescription

TODAY = date(2026, 3, 10)
VALID_NPI = "1234567893"


def make_patient(**overrides) -> PatientFacts:
    """A 40-year-old adult with nothing on file that any check flags."""
    fields = {
        "age_years": 40,
        "weight_kg": Decimal(70),
        "kidney_disease": "none",
        "pregnant": False,
        "breastfeeding": False,
        "medication_classes": frozenset(),
        "other_medications": "",
        "alcohol_use": "none",
        "active_peptic_ulcer": False,
        "epilepsy": False,
        "psychiatric_disorder": False,
        "hypersensitive_to_drug": False,
        "has_earlier_prescription": False,
    }
    return PatientFacts(**{**fields, **overrides})


def make_prescription(**overrides) -> PrescriptionFacts:
    """10 mg tablets, one three times a day (30 mg/day), written three days ago."""
    fields = {
        "form": DosageForm.TABLET,
        "strength_mg": Decimal(10),
        "units_per_dose": Decimal(1),
        "doses_per_day": 3,
        "prescriber_npi": VALID_NPI,
        "date_written": TODAY - timedelta(days=3),
        "expiry_date": TODAY + timedelta(days=180),
    }
    return PrescriptionFacts(**{**fields, **overrides})


def mg_per_day(mg, **overrides) -> PrescriptionFacts:
    """A prescription of `mg` a day in five doses, so that no dose reaches a per-dose
    maximum (adults: 20 mg) below 100 mg/day: only the daily total is tested."""
    return make_prescription(
        strength_mg=Decimal(mg) / 5, units_per_dose=Decimal(1), doses_per_day=5, **overrides
    )


def check(drug, patient=None, prescription=None) -> list[CheckResult]:
    return run_checks(
        drug=drug,
        patient=patient or make_patient(),
        prescription=prescription or make_prescription(),
        today=TODAY,
    )


def codes(results: list[CheckResult]) -> list[str]:
    return [r.code for r in results]


def only(results: list[CheckResult], code: str) -> CheckResult:
    [result] = [r for r in results if r.code == code]
    return result


def established(**overrides) -> PatientFacts:
    """A patient already on baclofen, so the starting-dose rule stays out of dose tests."""
    return make_patient(has_earlier_prescription=True, **overrides)


# A clean profile


def test_clean_adult_profile_with_a_normal_starting_dose_has_no_results(baclofen):
    assert check(baclofen) == []


# Daily dose by age group


def test_adult_daily_dose_of_80_mg_passes(baclofen):
    assert check(baclofen, established(), mg_per_day(80)) == []


def test_adult_daily_dose_above_80_mg_is_blocked(baclofen):
    result = only(check(baclofen, established(), mg_per_day(85)), "max_daily_dose")
    assert result.level == Level.BLOCK
    assert result.title == "Daily dose above the maximum for ages 18+"
    assert (
        result.detail == "85 mg/day prescribed; maximum for Adults (oral), ages 18+, is 80 mg/day."
    )
    assert result.source == "Adults (oral): maximum 80 mg/day (20 mg four times daily)"


def test_daily_dose_multiplies_units_strength_and_doses():
    rx = make_prescription(strength_mg=Decimal(20), units_per_dose=Decimal(2), doses_per_day=2)
    assert daily_dose_mg(rx) == Decimal(80)
    half = make_prescription(units_per_dose=Decimal("0.5"))
    assert daily_dose_mg(half) == Decimal(15)


def test_adult_dose_over_the_maximum_is_caught_from_tablets_per_dose(baclofen):
    rx = make_prescription(strength_mg=Decimal(20), units_per_dose=Decimal(2), doses_per_day=3)
    # 40 mg a dose is also over the 20 mg the monograph gives per dose.
    assert codes(check(baclofen, established(), rx)) == ["max_daily_dose", "max_single_dose"]


def test_daily_dose_of_60_mg_passes_for_a_15_year_old(baclofen):
    assert check(baclofen, established(age_years=15), mg_per_day(60)) == []


def test_daily_dose_above_60_mg_is_blocked_for_a_15_year_old(baclofen):
    result = only(check(baclofen, established(age_years=15), mg_per_day(65)), "max_daily_dose")
    assert result.level == Level.BLOCK
    assert "65 mg/day prescribed" in result.detail
    assert "ages 12–17, is 60 mg/day" in result.detail
    assert result.source == "Children (≥12 years): maximum 60 mg/day"


def test_a_17_year_old_is_held_to_the_60_mg_limit(baclofen):
    assert codes(check(baclofen, established(age_years=17), mg_per_day(65))) == ["max_daily_dose"]


def test_an_18_year_old_is_held_to_the_80_mg_limit(baclofen):
    assert check(baclofen, established(age_years=18), mg_per_day(65)) == []
    assert codes(check(baclofen, established(age_years=18), mg_per_day(85))) == ["max_daily_dose"]


def test_staff_edit_of_the_adult_maximum_changes_the_check(baclofen):
    assert check(baclofen, established(), mg_per_day(75)) == []
    adults = baclofen.dosing_guidelines.get(route=Route.ORAL, min_age_years=18)
    adults.max_daily_mg = Decimal(70)
    adults.save()

    assert check(baclofen, established(), mg_per_day(70)) == []
    result = only(check(baclofen, established(), mg_per_day(75)), "max_daily_dose")
    assert "is 70 mg/day" in result.detail


def test_dose_that_cannot_be_computed_is_a_warning(baclofen):
    result = only(
        check(baclofen, prescription=make_prescription(strength_mg=None)), "daily_dose_unknown"
    )
    assert result.level == Level.WARN
    assert "dosage depends on the patient’s age" in result.source


@pytest.mark.parametrize(
    "overrides",
    [
        {"units_per_dose": None},
        {"doses_per_day": None},
        {"form": DosageForm.ORAL_SOLUTION, "strength_mg": None},
    ],
)
def test_missing_dose_numbers_give_the_could_not_compute_warning(baclofen, overrides):
    results = check(baclofen, prescription=make_prescription(**overrides))
    assert codes(results) == ["daily_dose_unknown"]


# Per dose and doses a day


def test_one_80_mg_dose_a_day_is_over_the_20_mg_per_dose_of_the_monograph(baclofen):
    rx = make_prescription(strength_mg=Decimal(20), units_per_dose=Decimal(4), doses_per_day=1)
    result = only(check(baclofen, established(), rx), "max_single_dose")
    assert result.level == Level.BLOCK
    assert result.detail == (
        "80 mg per dose prescribed; the most in one dose for Adults (oral) is 20 mg."
    )
    assert result.source == "Adults (oral): maximum 80 mg/day (20 mg four times daily)"


def test_20_mg_four_times_a_day_is_within_both_limits(baclofen):
    rx = make_prescription(strength_mg=Decimal(20), units_per_dose=Decimal(1), doses_per_day=4)
    assert check(baclofen, established(), rx) == []


def test_doses_per_day_limit_staff_set_applies_above_it_not_at_it(baclofen):
    baclofen.dosing_guidelines.filter(min_age_years=18).update(max_doses_per_day=4)
    four = make_prescription(strength_mg=Decimal(10), doses_per_day=4)
    assert check(baclofen, established(), four) == []
    five = make_prescription(strength_mg=Decimal(10), doses_per_day=5)
    result = only(check(baclofen, established(), five), "max_doses_per_day")
    assert result.level == Level.BLOCK
    assert result.title == "More than 4 doses a day"


def test_a_band_staff_mark_not_established_blocks_quoting_its_sentence(baclofen):
    assert check(baclofen, established(age_years=15), mg_per_day(30)) == []
    baclofen.dosing_guidelines.filter(min_age_years=12).update(
        not_established=True, source="Special Populations: “Not established under 18.”"
    )
    result = only(check(baclofen, established(age_years=15), mg_per_day(30)), "not_established")
    assert result.level == Level.BLOCK
    assert result.source == "Special Populations: “Not established under 18.”"


# Liquids: mL through the concentration


def solution(ml, doses_per_day, **overrides) -> PrescriptionFacts:
    """Baclofen oral solution, 5 mg/5 mL as the migration records it."""
    fields = {"form": DosageForm.ORAL_SOLUTION, "strength_mg": None, "mg_per_ml": Decimal(1)}
    return make_prescription(
        **{**fields, **overrides}, units_per_dose=Decimal(ml), doses_per_day=doses_per_day
    )


def test_the_baclofen_solution_has_its_concentration(baclofen):
    row = baclofen.formulations.get(form=DosageForm.ORAL_SOLUTION)
    assert row.concentration_mg_per_ml == Decimal(1)
    assert row.mg_per_unit == Decimal(1)


def test_10_ml_twelve_times_a_day_is_120_mg_over_the_adult_maximum(baclofen):
    result = only(check(baclofen, established(), solution(10, 12)), "max_daily_dose")
    assert result.level == Level.BLOCK
    assert result.detail == (
        "120 mg/day prescribed (10 mL at 1 mg/mL × 12 a day); maximum for Adults (oral), "
        "ages 18+, is 80 mg/day."
    )


def test_10_ml_eight_times_a_day_is_80_mg_and_passes(baclofen):
    assert check(baclofen, established(), solution(10, 8)) == []


def test_a_20_ml_dose_is_judged_in_mg_and_passes(baclofen):
    assert check(baclofen, established(), solution(20, 4)) == []
    Prescription._meta.get_field("units_per_dose").clean(Decimal(20), None)


def test_a_25_ml_dose_is_25_mg_over_the_per_dose_maximum(baclofen):
    result = only(check(baclofen, established(), solution(25, 2)), "max_single_dose")
    assert result.detail.startswith("25 mg per dose prescribed (25 mL at 1 mg/mL)")


def test_a_liquid_without_a_concentration_cannot_be_checked(baclofen):
    rx = solution(10, 12, mg_per_ml=None)
    assert codes(check(baclofen, established(), rx)) == ["daily_dose_unknown"]


# Under 12: off-label, by weight


def test_child_under_12_is_always_flagged_as_off_label(baclofen):
    result = only(
        check(baclofen, established(age_years=8, weight_kg=Decimal(20)), mg_per_day(20)),
        "off_label_pediatric",
    )
    assert result.level == Level.WARN
    assert "generally off-label" in result.source
    assert result.source.startswith("Special Populations: “Children:")


def test_20_kg_child_on_40_mg_a_day_passes_the_weight_limit(baclofen):
    child = established(age_years=8, weight_kg=Decimal(20))
    assert codes(check(baclofen, child, mg_per_day(40))) == ["off_label_pediatric"]


def test_20_kg_child_on_45_mg_a_day_is_blocked(baclofen):
    child = established(age_years=8, weight_kg=Decimal(20))
    results = check(baclofen, child, mg_per_day(45))
    assert codes(results) == ["max_daily_dose_by_weight", "off_label_pediatric"]
    detail = only(results, "max_daily_dose_by_weight").detail
    assert detail == "45 mg/day prescribed; maximum is 2 mg/kg/day × 20 kg = 40 mg/day."


def test_child_dose_below_the_weight_minimum_is_not_flagged(baclofen):
    child = established(age_years=8, weight_kg=Decimal(20))
    assert codes(check(baclofen, child, mg_per_day(5))) == ["off_label_pediatric"]


def test_child_under_12_without_a_weight_is_blocked(baclofen):
    results = check(baclofen, established(age_years=11, weight_kg=None), mg_per_day(20))
    assert codes(results) == ["weight_required", "off_label_pediatric"]
    assert "mg/kg/day" in only(results, "weight_required").source


def test_weight_is_not_required_from_12(baclofen):
    assert check(baclofen, established(age_years=12, weight_kg=None), mg_per_day(30)) == []


# Age unknown


def test_patient_without_a_date_of_birth_is_blocked(baclofen):
    results = check(baclofen, make_patient(age_years=None), mg_per_day(500))
    assert codes(results) == ["age_unknown"]
    assert results[0].level == Level.BLOCK
    assert results[0].title == "Age unknown: date of birth required"


def test_age_unknown_is_blocked_whatever_the_form(baclofen):
    rx = make_prescription(form=DosageForm.INTRATHECAL, strength_mg=None)
    results = check(baclofen, make_patient(age_years=None), rx)
    assert codes(results) == ["form_not_sold", "age_unknown"]


# Starting dose


def test_first_prescription_at_twice_the_titration_start_passes(baclofen):
    assert check(baclofen, make_patient(), mg_per_day(30)) == []


def test_first_prescription_above_twice_the_titration_start_is_a_warning(baclofen):
    result = only(check(baclofen, make_patient(), mg_per_day(35)), "starting_dose_high")
    assert result.level == Level.WARN
    assert "35 mg/day prescribed" in result.detail
    assert "15 mg/day (5 mg three times daily)" in result.detail
    assert "Increase by 5 mg every 3 days" in result.detail
    assert result.source == (
        "Adults (oral): initial 5 mg three times daily; titration Increase by 5 mg every 3 days"
    )


def test_starting_dose_is_not_checked_once_a_prescription_was_verified_before(baclofen):
    assert check(baclofen, established(), mg_per_day(35)) == []


# Titration against the previous prescription


def titrating(previous_mg, days_ago, **overrides) -> PatientFacts:
    return established(
        previous_daily_mg=Decimal(previous_mg),
        previous_date_written=TODAY - timedelta(days=days_ago),
        **overrides,
    )


def tid(mg_per_dose) -> PrescriptionFacts:
    """`mg_per_dose` three times a day, written today."""
    return make_prescription(strength_mg=Decimal(mg_per_dose), doses_per_day=3, date_written=TODAY)


def test_15_to_80_mg_a_day_in_a_week_is_too_fast(baclofen):
    rx = make_prescription(strength_mg=Decimal(20), doses_per_day=4, date_written=TODAY)
    result = only(check(baclofen, titrating(15, 7), rx), "titration_too_fast")
    assert result.level == Level.WARN
    assert result.detail == (
        f"15 mg/day on the prescription of {(TODAY - timedelta(days=7)).isoformat()}, "
        "80 mg/day now, 7 days later: up 65 mg/day. The titration allows 5 mg more per dose "
        "every 3 days: at most 40 mg/day more (2 steps × 5 mg × 4 doses)."
    )
    assert result.source == "Adults (oral): titration Increase by 5 mg every 3 days"


def test_one_step_per_interval_passes_and_a_bit_more_does_not(baclofen):
    assert check(baclofen, titrating(15, 3), tid(10)) == []  # 5 -> 10 mg a dose
    assert codes(check(baclofen, titrating(15, 2), tid(10))) == ["titration_too_fast"]
    assert codes(check(baclofen, titrating(15, 3), tid(11))) == ["titration_too_fast"]


def test_a_lower_or_equal_dose_is_no_titration_finding(baclofen):
    assert check(baclofen, titrating(60, 1), tid(10)) == []
    assert check(baclofen, titrating(30, 0), tid(10)) == []


def test_no_previous_prescription_means_no_titration_check(baclofen):
    assert check(baclofen, established(), tid(20)) == []


def test_staff_edit_of_the_titration_step_changes_the_check(baclofen):
    assert codes(check(baclofen, titrating(15, 3), tid(15))) == ["titration_too_fast"]
    baclofen.dosing_guidelines.filter(min_age_years=18).update(titration_step_mg=10)
    assert check(baclofen, titrating(15, 3), tid(15)) == []


def test_titration_reads_the_previous_verified_prescription(baclofen):
    from datetime import date as date_

    from django.utils import timezone

    from prescriptions.services import prescription_verify
    from tests.factories import make_e_prescription, make_pharmacist, make_user_with_verified_email

    patient = make_user_with_verified_email(email="titrate@example.com")
    today = timezone.localdate()
    first = make_e_prescription(
        patient=patient,
        directions="Take half a tablet three times a day",
        units_per_dose=Decimal("0.5"),
        doses_per_day=3,
        date_written=today - timedelta(days=7),
        patient_date_of_birth=date_(1980, 5, 17),
    )
    prescription_verify(
        prescription_id=first.pk, pharmacist=make_pharmacist(), warnings_acknowledged=True
    )
    now = make_e_prescription(
        patient=patient,
        strength="20 mg",
        directions="Take 1 tablet four times a day",
        units_per_dose=Decimal(1),
        doses_per_day=4,
        date_written=today,
    )
    assert "titration_too_fast" in [r["code"] for r in now.check_results]


# Kidney disease


def test_chronic_kidney_disease_is_a_warning_quoting_the_monograph(baclofen):
    result = only(check(baclofen, make_patient(kidney_disease="chronic")), "kidney_chronic")
    assert result.level == Level.WARN
    assert result.source.startswith("Special Populations: “Kidney disease: Baclofen is primarily")
    assert "Dose reduction is essential" in result.source


def test_end_stage_kidney_disease_is_blocked(baclofen):
    result = only(check(baclofen, make_patient(kidney_disease="end_stage")), "kidney_end_stage")
    assert result.level == Level.BLOCK
    assert "end-stage renal disease" in result.source


def test_kidney_finding_quotes_the_sentence_staff_recorded_on_the_row(baclofen):
    row = baclofen.conditions.get(fact=ProfileFact.KIDNEY_CHRONIC)
    row.source = "Special Populations: “Reduce the dose in kidney disease.”"
    row.message = "Halve the dose."
    row.save()
    result = only(check(baclofen, make_patient(kidney_disease="chronic")), "kidney_chronic")
    assert result.source == "Special Populations: “Reduce the dose in kidney disease.”"
    assert result.detail == "On the patient's profile: chronic kidney disease. Halve the dose."


@pytest.fixture
def baclofen_threshold(baclofen):
    """A creatinine clearance threshold staff added to baclofen: below 30, reduce."""
    return RenalThreshold.objects.create(
        drug=baclofen,
        measure=RenalMeasure.CREATININE_CLEARANCE,
        below=Decimal(30),
        action="Reduce the dose",
        severity=Severity.MODERATE,
        source="Special Populations: “Reduce the dose below 30 mL/min.”",
    )


def test_renal_threshold_applies_below_its_number_not_at_it(baclofen, baclofen_threshold):
    assert check(baclofen, make_patient(creatinine_clearance=Decimal(30))) == []
    result = only(
        check(baclofen, make_patient(creatinine_clearance=Decimal("29.9"))), "renal_function"
    )
    assert result.level == Level.WARN
    assert result.title == "Kidney function below 30 mL/min: reduce the dose"
    assert result.source == "Special Populations: “Reduce the dose below 30 mL/min.”"


def test_a_known_number_decides_over_the_yes_no_kidney_answer(baclofen, baclofen_threshold):
    patient = make_patient(kidney_disease="chronic", creatinine_clearance=Decimal(60))
    assert check(baclofen, patient) == []


def test_egfr_stands_in_for_a_creatinine_clearance_threshold(baclofen, baclofen_threshold):
    result = only(check(baclofen, make_patient(egfr=Decimal(20))), "renal_function")
    assert "eGFR (mL/min/1.73 m²): 20 on the profile (standing in for Creatinine" in (result.detail)


def test_without_a_number_the_yes_no_kidney_answer_still_works(baclofen, baclofen_threshold):
    assert codes(check(baclofen, make_patient(kidney_disease="chronic"))) == ["kidney_chronic"]
    baclofen.conditions.filter(fact__startswith="kidney").delete()
    result = only(
        check(baclofen, make_patient(kidney_disease="end_stage")), "renal_function_unknown"
    )
    assert "30 mL/min (Reduce the dose)" in result.detail


def test_a_number_without_thresholds_leaves_the_yes_no_rows_in_charge(baclofen):
    patient = make_patient(kidney_disease="end_stage", egfr=Decimal(10))
    assert codes(check(baclofen, patient)) == ["kidney_end_stage"]


# Interactions


@pytest.mark.parametrize(
    ("medication_class", "code", "level"),
    [
        ("opioids", "interaction_cns_depressants", Level.BLOCK),
        ("benzodiazepines", "interaction_cns_depressants", Level.BLOCK),
        ("other-muscle-relaxants", "interaction_cns_depressants", Level.BLOCK),
        ("antihypertensives", "interaction_antihypertensives", Level.WARN),
        ("tricyclic-antidepressants", "interaction_tricyclic_antidepressants", Level.WARN),
        ("nsaids", "interaction_nsaids", Level.WARN),
    ],
)
def test_each_interaction_is_graded_by_its_catalog_severity(
    baclofen, medication_class, code, level
):
    results = check(baclofen, make_patient(medication_classes=frozenset({medication_class})))
    assert codes(results) == [code]
    assert results[0].level == level


def test_interaction_names_the_medications_and_quotes_the_effect(baclofen):
    patient = make_patient(medication_classes=frozenset({"opioids", "benzodiazepines"}))
    result = only(check(baclofen, patient), "interaction_cns_depressants")
    assert result.title == "Major interaction with CNS depressants"
    assert result.detail == "On the patient's profile: Benzodiazepines, Opioids."
    assert result.source.startswith("CNS depressants: These combinations increase the risk")


def test_nsaid_interaction_asks_for_renal_monitoring(baclofen):
    patient = make_patient(medication_classes=frozenset({"nsaids"}))
    result = only(check(baclofen, patient), "interaction_nsaids")
    assert result.title == "NSAIDs: monitoring required"
    assert "monitoring of renal function" in result.source


@pytest.mark.parametrize("alcohol_use", ["occasional", "regular"])
def test_alcohol_use_triggers_the_cns_depressant_interaction(baclofen, alcohol_use):
    result = only(
        check(baclofen, make_patient(alcohol_use=alcohol_use)), "interaction_cns_depressants"
    )
    assert result.level == Level.BLOCK
    assert result.detail == f"On the patient's profile: Alcohol ({alcohol_use} use)."


def test_no_alcohol_use_and_unrelated_medications_trigger_nothing(baclofen):
    patient = make_patient(alcohol_use="none", medication_classes=frozenset({"antibiotics"}))
    assert check(baclofen, patient) == []


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("oxycodone 10 mg", "“oxycodone” (Opioids)"),
        ("Takes OXYCODONE at night", "“oxycodone” (Opioids)"),
        ("diazepam 5 mg; vitamin D", "“diazepam” (Benzodiazepines)"),
        ("some opioids after surgery", "“Opioids” (Opioids)"),
    ],
)
def test_free_text_medicines_naming_a_class_substance_trigger_its_interaction(
    baclofen, typed, found
):
    result = only(
        check(baclofen, make_patient(other_medications=typed)), "interaction_cns_depressants"
    )
    assert result.level == Level.BLOCK
    assert result.detail == f"In the other medicines the patient wrote: {found}."


@pytest.mark.parametrize(
    "typed",
    ["oxycodonex", "hydroxycodone", "vitamin D, fish oil", "", "I never drink alcohol"],
)
def test_free_text_matches_whole_words_only(baclofen, typed):
    assert check(baclofen, make_patient(other_medications=typed)) == []


def test_free_text_matching_reads_the_substances_staff_edit(baclofen):
    patient = make_patient(other_medications="kratom tea every day")
    assert check(baclofen, patient) == []
    opioids = MedicationClass.objects.get(slug="opioids")
    opioids.substances += ", kratom"
    opioids.save()
    assert codes(check(baclofen, patient)) == ["interaction_cns_depressants"]


def test_a_ticked_class_is_not_repeated_from_the_free_text(baclofen):
    patient = make_patient(
        medication_classes=frozenset({"opioids"}), other_medications="oxycodone 10 mg"
    )
    result = only(check(baclofen, patient), "interaction_cns_depressants")
    assert result.detail == "On the patient's profile: Opioids."


def test_staff_grading_an_interaction_contraindicated_blocks_the_next_check(baclofen):
    patient = make_patient(medication_classes=frozenset({"antihypertensives"}))
    assert only(check(baclofen, patient), "interaction_antihypertensives").level == Level.WARN
    baclofen.interactions.filter(name="Antihypertensives").update(severity=Severity.CONTRAINDICATED)
    result = only(check(baclofen, patient), "interaction_antihypertensives")
    assert result.level == Level.BLOCK
    assert result.title == "Contraindicated with Antihypertensives"


def test_staff_regrading_an_interaction_changes_its_level(baclofen):
    cns = baclofen.interactions.get(name="CNS depressants")
    cns.severity = Severity.MODERATE
    cns.save()
    result = only(
        check(baclofen, make_patient(alcohol_use="regular")), "interaction_cns_depressants"
    )
    assert result.level == Level.WARN


# Contraindications and special populations


@pytest.mark.parametrize(
    ("flag", "code", "level", "sentence"),
    [
        (
            "hypersensitive_to_drug",
            "hypersensitivity",
            Level.BLOCK,
            "Baclofen is contraindicated in patients with hypersensitivity to the drug.",
        ),
        (
            "active_peptic_ulcer",
            "peptic_ulcer",
            Level.BLOCK,
            "It should also be avoided in individuals with active peptic ulcer disease.",
        ),
        (
            "epilepsy",
            "epilepsy",
            Level.WARN,
            "Conditions such as epilepsy and psychiatric disorders do not preclude use",
        ),
        (
            "psychiatric_disorder",
            "psychiatric_disorder",
            Level.WARN,
            "Conditions such as epilepsy and psychiatric disorders do not preclude use",
        ),
    ],
)
def test_contraindication_flags_quote_the_contraindications_section(
    baclofen, flag, code, level, sentence
):
    results = check(baclofen, make_patient(**{flag: True}))
    assert codes(results) == [code]
    assert results[0].level == level
    assert results[0].source.startswith(f"Contraindications: “{sentence}")


def test_pregnancy_is_a_warning(baclofen):
    results = check(baclofen, make_patient(pregnant=True))
    assert codes(results) == ["pregnancy"]
    assert results[0].level == Level.WARN
    assert "Use during pregnancy is only recommended" in results[0].source


def test_breastfeeding_is_a_warning(baclofen):
    results = check(baclofen, make_patient(breastfeeding=True))
    assert codes(results) == ["breastfeeding"]
    assert "breast milk" in results[0].source


def test_hepatic_impairment_is_not_a_baclofen_rule(baclofen):
    assert check(baclofen, make_patient(hepatic_impairment=True)) == []


def test_staff_grading_a_condition_changes_the_next_check(baclofen):
    patient = make_patient(epilepsy=True)
    assert only(check(baclofen, patient), "epilepsy").level == Level.WARN
    baclofen.conditions.filter(fact=ProfileFact.EPILEPSY).update(severity=Severity.CONTRAINDICATED)
    result = only(check(baclofen, patient), "epilepsy")
    assert result.level == Level.BLOCK
    assert result.title == "Epilepsy or seizures: contraindicated"


def test_a_condition_staff_remove_is_no_finding_for_the_drug(baclofen):
    baclofen.conditions.filter(fact=ProfileFact.PEPTIC_ULCER).delete()
    assert check(baclofen, make_patient(active_peptic_ulcer=True)) == []


def test_hypersensitivity_blocks_even_without_a_row(baclofen):
    baclofen.conditions.filter(fact=ProfileFact.HYPERSENSITIVITY).delete()
    result = only(check(baclofen, make_patient(hypersensitive_to_drug=True)), "hypersensitivity")
    assert result.level == Level.BLOCK


def test_patient_aged_64_is_not_flagged_as_elderly(baclofen):
    assert check(baclofen, make_patient(age_years=64)) == []


def test_patient_aged_65_is_flagged_as_elderly(baclofen):
    results = check(baclofen, make_patient(age_years=65))
    assert codes(results) == ["elderly"]
    assert results[0].level == Level.WARN
    assert "risk of falls" in results[0].source


# Form, prescriber, dates


def test_intrathecal_form_is_blocked(baclofen):
    rx = make_prescription(
        form=DosageForm.INTRATHECAL, strength_mg=None, units_per_dose=None, doses_per_day=None
    )
    results = check(baclofen, prescription=rx)
    assert codes(results) == ["form_not_sold"]
    assert results[0].level == Level.BLOCK
    assert results[0].title == "Intrathecal injection is never dispensed online"
    assert results[0].source.startswith("Available Forms: “Intrathecal baclofen (ITB)")


def test_a_form_staff_mark_as_not_sold_is_blocked_and_sold_again_passes(baclofen):
    rx = make_prescription(form=DosageForm.ORAL_SOLUTION, strength_mg=None)
    assert "form_not_sold" not in codes(check(baclofen, prescription=rx))
    baclofen.formulations.filter(form=DosageForm.ORAL_SOLUTION).update(sellable=False)
    result = only(check(baclofen, prescription=rx), "form_not_sold")
    assert result.level == Level.BLOCK
    assert result.source.startswith("Available Forms: “Oral solution:")


@pytest.mark.parametrize("npi", ["1234567890", "123456789", "12345678a3", ""])
def test_prescriber_npi_failing_its_check_is_blocked(baclofen, npi):
    results = check(baclofen, prescription=make_prescription(prescriber_npi=npi))
    assert codes(results) == ["prescriber_npi"]
    assert results[0].level == Level.BLOCK


def test_prescription_written_today_passes(baclofen):
    assert check(baclofen, prescription=make_prescription(date_written=TODAY)) == []


def test_prescription_dated_in_the_future_is_blocked(baclofen):
    rx = make_prescription(date_written=TODAY + timedelta(days=1))
    assert codes(check(baclofen, prescription=rx)) == ["date_written_future"]


def test_prescription_expiring_today_passes(baclofen):
    assert check(baclofen, prescription=make_prescription(expiry_date=TODAY)) == []


def test_prescription_expired_yesterday_is_blocked(baclofen):
    rx = make_prescription(expiry_date=TODAY - timedelta(days=1))
    results = check(baclofen, prescription=rx)
    assert codes(results) == ["prescription_expired"]
    assert results[0].level == Level.BLOCK


# Order and cost


def test_blocks_come_before_warnings_in_rule_order(baclofen):
    patient = make_patient(
        pregnant=True, epilepsy=True, hypersensitive_to_drug=True, kidney_disease="end_stage"
    )
    results = check(baclofen, patient)
    assert codes(results) == ["kidney_end_stage", "hypersensitivity", "epilepsy", "pregnancy"]
    assert [r.level for r in results] == ["block", "block", "warn", "warn"]


def test_query_count_stays_fixed_however_many_rules_fire(baclofen, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        assert check(baclofen) == []
    everything = make_patient(
        age_years=70,
        kidney_disease="end_stage",
        pregnant=True,
        breastfeeding=True,
        medication_classes=frozenset(
            {"opioids", "antihypertensives", "nsaids", "tricyclic-antidepressants"}
        ),
        alcohol_use="regular",
        active_peptic_ulcer=True,
        epilepsy=True,
        psychiatric_disorder=True,
        hypersensitive_to_drug=True,
    )
    rx = mg_per_day(200, prescriber_npi="1", expiry_date=TODAY - timedelta(days=1))
    with django_assert_max_num_queries(7):
        results = check(baclofen, everything, rx)
    assert len(results) >= 14


# Through the stored prescription


def test_a_stored_oral_solution_prescription_is_judged_in_mg(baclofen):
    from catalog.models import Formulation
    from tests.factories import make_e_prescription, make_user_with_verified_email

    patient = make_user_with_verified_email(email="liquid@example.com")
    solution = Formulation.objects.get(drug=baclofen, form=DosageForm.ORAL_SOLUTION)
    over = make_e_prescription(
        patient=patient, formulation=solution, units_per_dose=Decimal(10), doses_per_day=12
    )
    assert "max_daily_dose" in [r["code"] for r in over.check_results]
    big_dose = make_e_prescription(
        patient=patient, formulation=solution, units_per_dose=Decimal(20), doses_per_day=4
    )
    assert not {"max_daily_dose", "max_single_dose", "daily_dose_unknown"} & {
        r["code"] for r in big_dose.check_results
    }

"""An unanswered profile question stays unanswered, and the review knows it is unknown."""

import re

from prescriptions.models import MedicalProfile, Prescription
from prescriptions.selectors import profile_notice
from prescriptions.services import prescription_run_checks
from tests.factories import NOTHING_TO_FLAG, make_e_prescription, make_profile
from tests.prescriptions.test_checks import check, codes, make_patient, only

PROFILE = "/account/profile/"
QUESTIONS = MedicalProfile.QUESTIONS


def checked_inputs(html: str, name: str) -> list[str]:
    return re.findall(rf'<input[^>]*name="{name}"[^>]*checked[^>]*>', html)


def test_a_new_profile_preselects_no_answer(patient_client):
    html = patient_client.get(PROFILE).content.decode()
    for name in QUESTIONS:
        assert f'name="{name}"' in html, name
        assert checked_inputs(html, name) == [], name
    assert "checked" not in html.split('name="kidney_disease"')[1].split("</fieldset>")[0]


def test_saving_without_answers_asks_for_them_and_saves_nothing(patient_client, patient):
    response = patient_client.post(PROFILE, {"date_of_birth": "1980-05-17", "weight_kg": "70"})

    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("Please answer this question.") == len(QUESTIONS)
    assert not MedicalProfile.objects.filter(user=patient).exists()


def test_yes_and_no_are_both_saved_as_answers(patient_client, patient):
    answers = {k: str(v) for k, v in NOTHING_TO_FLAG.items()}
    answers["epilepsy"] = "True"
    response = patient_client.post(PROFILE, {"date_of_birth": "1980-05-17", **answers})
    assert response.status_code == 302
    profile = MedicalProfile.objects.get(user=patient)
    assert profile.epilepsy is True
    assert profile.pregnant is False
    assert profile.unanswered == []
    html = patient_client.get(PROFILE).content.decode()
    [epilepsy_checked] = checked_inputs(html, "epilepsy")
    assert 'value="True"' in epilepsy_checked


def test_an_unanswered_question_makes_the_profile_incomplete_and_is_named(patient_client, patient):
    make_profile(patient, kidney_disease=None, alcohol_use=None)

    notice = profile_notice(patient=patient)

    assert notice["can_confirm"] is False
    assert "kidney disease" in notice["message"]
    assert "alcohol use" in notice["message"]
    page = patient_client.get("/account/prescriptions/").content.decode()
    assert "questions you have not answered yet: kidney disease, alcohol use" in page
    profile_page = patient_client.get(PROFILE).content.decode()
    assert "My profile is still correct" not in profile_page


def test_a_fully_answered_confirmed_profile_has_no_notice(patient):
    make_profile(patient)
    assert profile_notice(patient=patient) is None


def test_unknown_kidney_function_is_a_finding_not_a_pass(baclofen):
    results = check(baclofen, make_patient(kidney_disease=None))

    finding = only(results, "kidney_function_unknown")
    assert finding.level == "warn"
    assert finding.title == "Kidney function not known"
    assert "has not answered “kidney disease”" in finding.detail
    assert "end-stage kidney disease" in finding.detail
    assert "kidney_function_unknown" not in codes(check(baclofen, make_patient()))


def test_each_unanswered_condition_the_drug_has_a_row_for_is_named(baclofen):
    results = check(baclofen, make_patient(pregnant=None, epilepsy=None, alcohol_use=None))

    assert only(results, "pregnancy_unknown").title == "Pregnancy not known"
    assert only(results, "epilepsy_unknown").title == "Epilepsy or seizures not known"
    assert only(results, "alcohol_use_unknown").title == "Alcohol use not known"
    assert not [c for c in codes(results) if c.startswith("interaction_")]


def test_an_unanswered_fact_no_row_depends_on_is_no_finding(tizanidine):
    """Tizanidine has no peptic-ulcer row, so not knowing about an ulcer changes nothing."""
    results = check(tizanidine, make_patient(active_peptic_ulcer=None))
    assert "peptic_ulcer_unknown" not in codes(results)
    assert results == check(tizanidine, make_patient())


def test_the_pharmacist_sees_what_the_patient_left_unanswered(patient, baclofen):
    make_profile(patient, kidney_disease=None)
    prescription = make_e_prescription(patient=patient)

    results = prescription_run_checks(Prescription.objects.get(pk=prescription.pk))

    assert "kidney_function_unknown" in codes(results)
    assert not prescription.has_blocking_checks


def test_a_prescription_without_a_profile_reads_every_answer_as_unknown(baclofen):
    prescription = make_e_prescription(patient=None)
    found = codes(prescription_run_checks(Prescription.objects.get(pk=prescription.pk)))
    assert "kidney_function_unknown" in found
    assert "pregnancy_unknown" in found

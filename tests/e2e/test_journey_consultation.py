"""A patient without a prescription gets one online, in a browser, on the production
stack: "Get a prescription online" on the drug page, the questionnaire (the medical
profile and the drug's own questions staff wrote), a telemedicine service chosen; the
worker delivers the request to the local partner stand-in, whose clinician page shows
it with the answers; the clinician clicks Approve, the prescription comes back through
the signed intake, linked to the consultation, and the patient sees it and is emailed.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from devtools import processes
from prescriptions.models import Consultation, ConsultationQuestion
from tests.e2e.conftest import Stack, both_sizes, latest_email, sign_in
from tests.factories import make_partner, make_user_with_verified_email

PROFILE_QUESTIONS = (
    "Pregnant or planning a pregnancy",
    "Breastfeeding",
    "Liver disease or reduced liver function (hepatic impairment)",
    "Active stomach or duodenal (peptic) ulcer",
    "Epilepsy or seizures",
    "A psychiatric condition",
)


def test_a_patient_gets_a_prescription_online_from_the_partner(
    page: Page, new_page, stack: Stack, partner_standin, baclofen
):
    make_partner(
        name="Riverside Telehealth",
        slug=partner_standin.slug,
        secret=partner_standin.secret,
        requests_url=partner_standin.requests_url,
    )
    ConsultationQuestion.objects.create(
        drug=baclofen, text="Do your muscles spasm or feel stiff most days?", position=1
    )
    patient = make_user_with_verified_email(first_name="Robin", last_name="Hale")
    sign_in(page, stack, patient)

    page.goto(f"{stack.url}/medicines/baclofen/")
    page.get_by_role("link", name="Get a prescription online").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Get a prescription for baclofen online"
    )
    page.get_by_label("Date of birth").fill("1979-09-02")
    page.get_by_label("No kidney disease").check()
    page.get_by_label("I do not drink alcohol").check()
    for question in PROFILE_QUESTIONS:
        page.get_by_role("group", name=question).get_by_label("No", exact=True).check()
    page.get_by_role("group", name="Do your muscles spasm or feel stiff most days?").get_by_label(
        "Yes", exact=True
    ).check()
    page.get_by_label("Baclofen 10 mg tablet").check()
    page.get_by_label("Riverside Telehealth").check()
    both_sizes(page, "consultation-questionnaire")
    page.get_by_role("button", name="Send to the clinician").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Consultation for baclofen")
    consultation = Consultation.objects.get(patient=patient)
    latest_email(stack, to=patient.email, subject_contains="We sent your consultation request")
    processes.wait_for(
        lambda: partner_standin.received, timeout=20, message="the request at the partner"
    )
    page.reload()
    expect(
        page.get_by_role("heading", name="With a clinician at Riverside Telehealth")
    ).to_be_visible()

    clinician = new_page()
    clinician.goto(partner_standin.url + "/")
    request = clinician.get_by_role("listitem").filter(has_text="consultation_request")
    request.get_by_text("The patient's answers").click()
    expect(request).to_contain_text("Do your muscles spasm or feel stiff most days?")
    request.get_by_role("button", name="Approve").click()
    expect(clinician.get_by_role("listitem").filter(has_text="approved")).to_have_count(1)

    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.PRESCRIBED
    prescription = consultation.prescription
    assert prescription.patient == patient
    mail = latest_email(stack, to=patient.email, subject_contains="prescribed Baclofen for you")
    assert f"prescription #{prescription.pk}" in mail.body

    page.goto(f"{stack.url}/account/prescriptions/")
    row = page.locator("table.consultations tbody tr").filter(has_text="Riverside Telehealth")
    expect(row).to_contain_text("Prescribed")
    row.get_by_role("link", name=f"prescription #{prescription.pk}").click()
    expect(page).to_have_url(re.compile(rf"/prescriptions/{prescription.pk}/$"))
    both_sizes(page, "consultation-prescribed")

"""Helpers of the consultation tests: the questionnaire as the browser posts it."""

from django.urls import reverse

from tests.prescriptions.test_profile import profile_data


def form_data(partner, formulation, questions, **overrides) -> dict:
    """Every question answered (the profile's under its prefix); None drops a field."""
    data = {f"profile-{k}": v for k, v in profile_data().items()}
    data |= {
        "formulation": formulation.pk,
        "partner": partner.pk,
        f"question_{questions[0].pk}": "True",
        f"question_{questions[1].pk}": "Stretching and physiotherapy.",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def ask(capture, client, drug, data):
    """Post the questionnaire, running what it queues (the delivery, the email)."""
    with capture(execute=True):
        return client.post(reverse("prescriptions:consultation_new", args=[drug.slug]), data)

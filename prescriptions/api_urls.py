from django.urls import path

from . import api

app_name = "prescriptions_api"

urlpatterns = [
    path("telemedicine/prescriptions/", api.telemedicine_prescriptions, name="telemedicine"),
    # FHIR's create interaction: POST [base]/MedicationRequest
    path(
        "telemedicine/fhir/MedicationRequest",
        api.telemedicine_fhir_medication_request,
        name="telemedicine_fhir",
    ),
    path(
        "telemedicine/requests/<uuid:request_id>/decline/",
        api.telemedicine_request_decline,
        name="telemedicine_decline",
    ),
]

from django.urls import path

from . import api

app_name = "prescriptions_api"

urlpatterns = [
    path("telemedicine/prescriptions/", api.telemedicine_prescriptions, name="telemedicine"),
]

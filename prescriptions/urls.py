from django.urls import path

from . import views

app_name = "prescriptions"

urlpatterns = [
    path("profile/", views.profile_edit, name="profile"),
    path("profile/export.json", views.profile_export, name="profile_export"),
]

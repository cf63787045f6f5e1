from django.urls import path

from . import consultation_views, views

app_name = "prescriptions"

urlpatterns = [
    path("profile/", views.profile_edit, name="profile"),
    path("profile/confirm/", views.profile_confirm, name="profile_confirm"),
    path("profile/export.json", views.profile_export, name="profile_export"),
    path("prescriptions/", views.prescription_list, name="list"),
    path("prescriptions/new/", views.prescription_new, name="new"),
    path("prescriptions/<int:pk>/", views.prescription_detail, name="detail"),
    path("prescriptions/<int:pk>/respond/", views.prescription_respond, name="respond"),
    path("prescriptions/<int:pk>/renewal/", views.prescription_renewal, name="renewal"),
    path(
        "prescriptions/consultation/<slug:slug>/",
        consultation_views.consultation_new,
        name="consultation_new",
    ),
    path(
        "prescriptions/consultations/<int:pk>/",
        consultation_views.consultation_detail,
        name="consultation",
    ),
    path(
        "prescriptions/<int:pk>/documents/<int:document_pk>/",
        views.document_download,
        name="document",
    ),
]

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.drug_list, name="drug_list"),
    path("medicines/<slug:slug>/", views.drug_detail, name="drug_detail"),
]

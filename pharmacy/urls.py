from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "Pharmacy administration"
admin.site.site_title = "Pharmacy admin"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", include("catalog.urls")),
]

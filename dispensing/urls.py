from django.urls import path

from . import views

app_name = "dispensing"

urlpatterns = [
    path("orders/<str:number>/leaflet/<int:line_id>/", views.leaflet, name="leaflet"),
    path("orders/<str:number>/pharmacist/", views.conversation, name="conversation"),
]

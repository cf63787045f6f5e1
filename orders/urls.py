from django.urls import path

from . import refill_views, tracking_views, views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart_view, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="list"),
    path("orders/<str:number>/", views.order_detail, name="detail"),
    path("orders/<str:number>/pay/", views.order_pay, name="pay"),
    path("orders/<str:number>/cancel/", views.order_cancel, name="cancel"),
    path("auto-refills/<int:prescription_id>/", refill_views.auto_refill_page, name="auto_refill"),
    path(
        "auto-refills/<int:prescription_id>/card/",
        refill_views.auto_refill_card,
        name="auto_refill_card",
    ),
    path(
        "auto-refills/<int:prescription_id>/skip/",
        refill_views.auto_refill_skip_view,
        name="auto_refill_skip",
    ),
    path(
        "auto-refills/<int:prescription_id>/stop/",
        refill_views.auto_refill_stop_view,
        name="auto_refill_stop",
    ),
    path("orders/<str:number>/reorder/", views.order_reorder, name="reorder"),
    path("track/<str:tracking_number>/", tracking_views.track_parcel, name="track"),
]

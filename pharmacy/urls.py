from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from orders.webhooks import stripe_webhook

from . import views

admin.site.site_header = "Pharmacy administration"
admin.site.site_title = "Pharmacy admin"
# The admin signs in through allauth, so its rate limits and MFA apply there too.
admin.site.login = secure_admin_login(admin.site.login)

handler400 = "pharmacy.views.bad_request"
handler500 = "pharmacy.views.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("prescriptions.api_urls")),
    path("payments/stripe/webhook/", stripe_webhook, name="stripe-webhook"),
    path("account/", include("accounts.urls")),
    path("account/", include("prescriptions.urls")),
    path("", include("about.urls")),
    path("", include("orders.urls")),
    path("", include("dispensing.urls")),
    path("", include("catalog.urls")),
]

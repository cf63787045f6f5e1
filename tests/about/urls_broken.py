"""The site's URLs plus one view with a bug, to see the 500 page."""

from django.urls import path

from pharmacy.urls import handler400, handler500
from pharmacy.urls import urlpatterns as site_urlpatterns

__all__ = ["handler400", "handler500", "urlpatterns"]


def broken(request):
    raise RuntimeError("a bug")


urlpatterns = [path("broken/", broken), *site_urlpatterns]

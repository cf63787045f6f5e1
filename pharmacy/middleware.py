"""HTTP headers that hold for the whole site rather than for one view."""

from django.http import Http404
from django.utils.cache import patch_vary_headers
from django.views.defaults import page_not_found

PRIVATE = "private, no-store"


class PrivatePagesMiddleware:
    """`Cache-Control: private, no-store` on every answer to a visitor with a session.

    A signed-in page may show a medical profile, a prescription, an order or an
    address, and an anonymous visitor's cart names medicines: none of it may stay in a
    shared cache, nor in the browser's cache for the next person at a shared computer.
    Listing the private pages one by one would miss the next one written, so the rule
    goes the other way: only answers to a visitor without any session (the catalog
    pages most first visits get) stay cacheable. A view that sets its own
    Cache-Control (the admin's never_cache, document downloads) keeps it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.has_header("Cache-Control"):
            return response
        # A signed-in visitor always has a session; asking the session, not the user,
        # costs no query on the pages that never looked at either.
        if not request.session.is_empty():
            response["Cache-Control"] = PRIVATE
            patch_vary_headers(response, ("Cookie",))
        return response


# Django's technical 404 page (DEBUG on) has this title; the site's own does not.
TECHNICAL_404_TITLE = b"<title>Page not found at "
TECHNICAL_404_PARAMETER = "technical-404"


class SiteNotFoundPageMiddleware:
    """With DEBUG on, an unknown address gets the site's 404 page, as in production.

    Django answers a 404 with its technical page while DEBUG is on (every URL pattern,
    no way back to the site), so development would not show what a patient sees. This
    middleware, loaded only with DEBUG on, puts the site's page in its place; the
    technical page stays one query parameter away (`?technical-404`).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and not response.streaming
            and TECHNICAL_404_TITLE in response.content
            and TECHNICAL_404_PARAMETER not in request.GET
        ):
            return page_not_found(request, Http404())
        return response

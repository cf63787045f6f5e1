"""HTTP headers that hold for the whole site rather than for one view."""

from django.utils.cache import patch_vary_headers

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

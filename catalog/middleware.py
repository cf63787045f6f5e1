"""Anonymous catalog pages from the process's own copy, before most of the middleware.

A visitor without cookies gets the very same bytes as everybody (catalog.caching), so
once this process has served a page at an address it can answer the next such
request at once. The middleware above this one still run (HTTPS redirect, security
headers, Content-Security-Policy, X-Frame-Options); the ones below would find nothing
to do for a visitor without a session: no session to load or save, no CSRF token on
the page, no user, no messages. The host is still checked, as CommonMiddleware does.
"""

from django.utils.cache import patch_vary_headers

from . import caching


class AnonymousCopyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = caching.copy_for_address(request)
        if response is None:
            return self.get_response(request)
        request.get_host()  # refuses a host outside ALLOWED_HOSTS, as on every page
        response["Content-Length"] = str(len(response.content))
        # A signed-in visitor gets another page at this address: shared caches must
        # tell them apart (SessionMiddleware says the same of the page it built).
        patch_vary_headers(response, ("Cookie",))
        return response

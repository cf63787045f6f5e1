import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template import loader
from django.templatetags.static import static
from django.views.decorators.http import require_safe
from django.views.defaults import bad_request as django_bad_request
from django.views.defaults import server_error as django_server_error
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# A backing service that is down or unreachable, as opposed to a bug.
OUTAGES = (RedisConnectionError, RedisTimeoutError, OperationalError, InterfaceError)


def healthz(request):
    """Liveness probe for load balancers; also the benchmark's trivial baseline view."""
    return HttpResponse("ok", content_type="text/plain")


def _outage_response() -> HttpResponse:
    response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = "30"
    return response


def _caused_by_outage(exc: BaseException | None) -> bool:
    """True if `exc` or an exception it was raised from or while handling is an outage."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OUTAGES):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def bad_request(request, exception):
    """400 for bad requests; 503 when the "bad request" is a session the database lost.

    Django reports any database error while saving a session as SessionInterrupted (a
    400, meant for a session deleted by a concurrent sign-out), so a database outage
    at the end of a request would tell the visitor their request was wrong.
    """
    if _caused_by_outage(exception):
        return _outage_response()
    return django_bad_request(request, exception)


def server_error(request):
    """500 for bugs; 503 with Retry-After when the database or Redis is unreachable.

    Django calls this for any unhandled exception, in a view or in a middleware (a
    session that cannot be loaded, a rate limit that cannot be counted), so an
    outage always ends here. The request's transaction has rolled back by then, so
    the page can honestly say nothing was changed. The template needs neither the
    database nor the cache.
    """
    exc = sys.exc_info()[1]
    if isinstance(exc, OUTAGES):
        return _outage_response()
    return django_server_error(request)


@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico on every page, the admin's included."""
    return redirect(static("img/favicon.svg"), permanent=True)

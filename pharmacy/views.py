from django.http import HttpResponse


def healthz(request):
    """Liveness probe for load balancers; also the benchmark's trivial baseline view."""
    return HttpResponse("ok", content_type="text/plain")

"""Middleware of our own."""

from django.http import HttpRequest, HttpResponse
from django.urls import resolve


class StatelessPathsMiddleware:
    """The gateways' webhooks skip the middleware after this one.

    Sessions, language, messages, login and the admin's MFA check mean nothing to a payment
    gateway, and with 50 deliveries arriving at once each one's CPU adds up to the last
    one's wait (docs/performance.md, "Webhook acknowledgement"). What still applies to
    these paths runs before this middleware (SecurityMiddleware) or here: the Host header
    is checked against ALLOWED_HOSTS as CommonMiddleware would. Their views are exempt
    from CSRF, so skipping CsrfViewMiddleware changes nothing.
    """

    prefixes = ("/webhooks/",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        request.get_host()
        match = resolve(request.path_info)
        request.resolver_match = match
        return match.func(request, *match.args, **match.kwargs)

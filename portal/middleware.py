"""Middleware of our own."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import resolve
from django.utils import translation
from django.utils.cache import patch_vary_headers

if TYPE_CHECKING:
    from accounts.models import Provider


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


class ProviderLanguageMiddleware:
    """Each ISP's portal speaks its ISP's language unless the person chose another.

    The language of a request: the one chosen in the footer's selector (Django's language
    cookie) first; else the default of the ISP (`Provider.locale`: es_AR speaks usted
    through the es-ar catalogue, es_MX tú, the msgids) whose portal this is, or of the
    signed-in person's ISP on the bare routes; else what LocaleMiddleware read from
    Accept-Language, or LANGUAGE_CODE. It runs after ProviderPortalMiddleware, which sets
    `request.portal`; LocaleMiddleware, before it, still writes Content-Language (the
    language active when the response leaves) and Vary.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _language_chosen(request):
            provider = _provider_of(request)
            language = provider.language if provider is not None else None
            if language is not None:
                translation.activate(language)
                request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        # The cookie decides the language whatever else the request says.
        patch_vary_headers(response, ("Cookie",))
        return response


def _language_chosen(request: HttpRequest) -> bool:
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if not chosen:
        return False
    try:
        translation.get_supported_language_variant(chosen)
    except LookupError:
        return False
    return True


def _provider_of(request: HttpRequest) -> "Provider | None":
    portal = getattr(request, "portal", None)
    if portal is not None:
        return portal
    user = request.user
    if not user.is_authenticated or user.provider_id is None:
        return None
    # The login's ISP (its contracts are all of it), which ProviderPortalMiddleware took
    # from the cached map of ISPs: the language costs no query of its own.
    return user.provider

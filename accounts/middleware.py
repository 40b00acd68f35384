import re

from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import get_script_prefix, reverse, set_script_prefix
from django.utils.translation import gettext as _

from .selectors import provider_for_code, provider_for_host, provider_for_id


class AdminRequiresMFAMiddleware:
    """Staff reach /admin/ only with TOTP set up and used to sign in (ADMIN_REQUIRE_MFA)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            settings.ADMIN_REQUIRE_MFA
            and request.path.startswith("/admin/")
            and request.user.is_authenticated
            and request.user.is_staff
        ):
            has_totp = Authenticator.objects.filter(
                user=request.user, type=Authenticator.Type.TOTP
            ).exists()
            if not has_totp:
                messages.warning(
                    request,
                    _("Para entrar a la administración activa la verificación en dos pasos."),
                )
                return redirect(reverse("mfa_activate_totp") + "?next=/admin/")
            used_mfa = any(
                record.get("method") == "mfa"
                for record in get_authentication_records(request, request.user)
            )
            if not used_mfa:
                logout(request)
                messages.info(request, _("Ingresa de nuevo con tu código de verificación."))
                return redirect_to_login(request.get_full_path())
        return self.get_response(request)


PORTAL_PREFIX = re.compile(r"^/p/(?P<code>\d{2,12})(?P<rest>/.*)$")
# What an ISP's portal is not: the admin (its MFA rule reads the path), the gateways'
# webhooks, the API, the health check and the static files keep their one address.
NOT_UNDER_A_PORTAL = ("/admin/", "/webhooks/", "/api/", "/healthz", "/static/")


class ProviderPortalMiddleware:
    """Each ISP's own portal: its host (`Provider.portal_host`, or `<handle domain>.
    <ANTENA_DOMAIN>`) or the path prefix `/p/<code>/`, for deployments without DNS.

    Under the prefix the rest of the path is resolved as the bare routes are, and every
    URL reversed while answering carries the prefix (it is the script prefix, as a
    SCRIPT_NAME would be). `request.portal` is the ISP (None on the bare routes, which
    keep working for a single-ISP install). A session belongs to one ISP: on another
    ISP's portal the person is not signed in, and that portal shows its own sign-in.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = PORTAL_PREFIX.match(request.path_info)
        if match is None:
            request.portal = (
                None
                if request.path_info.startswith(NOT_UNDER_A_PORTAL)
                else provider_for_host(host=request.get_host())
            )
            self._session_scoped(request)
            return self.get_response(request)
        request.portal = provider_for_code(code=match["code"])
        if request.portal is None or match["rest"].startswith(NOT_UNDER_A_PORTAL):
            raise Http404
        request.path_info = match["rest"]
        self._session_scoped(request)
        bare_prefix = get_script_prefix()
        set_script_prefix(f"{bare_prefix}p/{match['code']}/")
        try:
            return self.get_response(request)
        finally:
            set_script_prefix(bare_prefix)

    @staticmethod
    def _session_scoped(request: HttpRequest) -> None:
        portal = request.portal
        user = request.user
        if not user.is_authenticated or user.provider_id is None:
            return
        if portal is not None and user.provider_id != portal.pk:
            request.user = AnonymousUser()
            return
        # The login's ISP without a query for it later (its contracts, its pages): the
        # portal's, or on the bare routes the same cached map's.
        provider = portal or provider_for_id(provider_id=user.provider_id)
        if provider is not None:
            user.provider = provider

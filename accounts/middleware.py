from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _


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

from allauth.account.adapter import DefaultAccountAdapter
from django.utils.translation import gettext_lazy as _


class AccountAdapter(DefaultAccountAdapter):
    # allauth's messages in the portal's words and voice; a wrong login never says which
    # part was wrong.
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "username_password_mismatch": _("La cuenta o la contraseña no son correctas."),
        "email_password_mismatch": _("La cuenta o la contraseña no son correctas."),
        "enter_current_password": _("Escribe tu contraseña actual."),
        "too_many_login_attempts": _(
            "Demasiados intentos fallidos. Espera unos minutos y vuelve a intentarlo."
        ),
        "rate_limited": _("Vas muy rápido: espera un momento y vuelve a intentarlo."),
        "same_as_current": _("La nueva contraseña debe ser distinta de la actual."),
        "invalid_password_reset": _("El enlace para cambiar tu contraseña venció o ya se usó."),
    }

    def is_open_for_signup(self, request) -> bool:
        # Subscribers get a login by claiming their contract ("Crear una cuenta").
        return False

    def authenticate(self, request, **credentials):
        """On an ISP's portal only its own subscribers sign in: another ISP's login is
        refused with the answer a wrong password gets."""
        user = super().authenticate(request, **credentials)
        portal = getattr(request, "portal", None)
        if user is not None and portal is not None and user.provider_id != portal.pk:
            self.authentication_failed(request, **credentials)
            return None
        return user

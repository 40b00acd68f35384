import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

SPECIAL_CHARACTERS = set(string.punctuation) | set("¡¿°¬´¨")


class ProviderSpecialCharacterValidator:
    """Seed 001: "la contraseña debe poseer al menos un caracter especial", per ISP."""

    def validate(self, password: str, user=None) -> None:
        provider = getattr(user, "provider", None)
        if provider is None or not provider.require_special_character:
            return
        if not any(character in SPECIAL_CHARACTERS for character in password):
            raise ValidationError(
                _("La contraseña debe tener al menos un caracter especial, como .!#$%&/=?¿-+*"),
                code="password_no_special_character",
            )

    def get_help_text(self) -> str:
        return _("Algunos proveedores piden al menos un caracter especial.")

import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from core.colors import HEX_COLOUR, contrast_ratio

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


def brand_color_validator(value: str) -> None:
    """The ISP's colour carries white text (buttons, the top bar): a #rrggbb colour with
    at least WCAG AA's 4.5:1 contrast against white."""
    if not HEX_COLOUR.match(value or ""):
        raise ValidationError(_("Escribe el color como #rrggbb, p. ej. #d2232a."))
    ratio = contrast_ratio(value, "#ffffff")
    if ratio < 4.5:
        raise ValidationError(
            _(
                "Con este color el texto blanco no se lee bien (contraste %(ratio).1f:1; "
                "hace falta al menos 4.5:1): elige un tono más oscuro."
            ),
            params={"ratio": ratio},
        )

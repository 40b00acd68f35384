import re

import phonenumbers
from allauth.account.forms import ChangePasswordForm as AllauthChangePasswordForm
from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import ResetPasswordKeyForm as AllauthResetPasswordKeyForm
from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from core.phones import phone_normalize

from .models import Provider

HANDLE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,29}$")


class LoginForm(AllauthLoginForm):
    """ "Bienvenida": Cuenta (handle or e-mail), Contraseña, Recordarme."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["login"].label = _("Cuenta")
        self.fields["login"].widget.attrs.update(
            {"placeholder": _("juan@kona o tu correo"), "autocapitalize": "none"}
        )
        self.fields["password"].label = _("Contraseña")
        self.fields["password"].help_text = ""
        if "remember" in self.fields:
            self.fields["remember"].label = _("Recordarme")


CONTRACT_NUMBER_PATTERN = re.compile(r"^(?=.*[0-9])[0-9A-Za-z/-]{1,32}$")


class ContractNamedForm(forms.Form):
    """Código + Contrato (and how to reach the holder), checked for their form only: an
    ISP's code is printed on its contracts, so naming an unknown one tells a stranger
    nothing; whether the contract and the phone or e-mail match is never told (the same
    answer either way)."""

    provider_code = forms.CharField(
        label=_("Código"),
        max_length=12,
        help_text=_("El código de tu proveedor viene en tu contrato."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    number = forms.CharField(
        label=_("Contrato"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, portal: Provider | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # On an ISP's portal the ISP is known: its code is not asked.
        self.provider: Provider | None = portal
        if portal is not None:
            del self.fields["provider_code"]

    def clean_provider_code(self) -> str:
        code = self.cleaned_data["provider_code"].strip()
        self.provider = Provider.objects.filter(code=code, is_active=True).first()
        if self.provider is None:
            raise forms.ValidationError(
                _("No hay un proveedor con el código %(code)s: revisa el de tu contrato."),
                params={"code": code[:12]},
            )
        return code

    def clean_number(self) -> str:
        number = self.cleaned_data["number"].strip()
        if not CONTRACT_NUMBER_PATTERN.match(number):
            raise forms.ValidationError(
                _("Escribe el número de contrato como viene en tu contrato, p. ej. 1001.")
            )
        return number


class ClaimStartForm(ContractNamedForm):
    """Crear una cuenta: Código + Contrato + Número (the phone on the contract)."""

    phone = forms.CharField(
        label=_("Número"),
        max_length=24,
        help_text=_("El celular que registraste al contratar."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def clean(self):
        data = super().clean()
        phone = data.get("phone")
        if self.provider and phone and not phone_normalize(phone, country=self.provider.country):
            example = phonenumbers.format_number(
                phonenumbers.example_number_for_type(
                    self.provider.country, phonenumbers.PhoneNumberType.MOBILE
                ),
                phonenumbers.PhoneNumberFormat.NATIONAL,
            )
            self.add_error(
                "phone", _("Escribe un celular válido, p. ej. %(example)s.") % {"example": example}
            )
        return data


class ClaimByEmailForm(ContractNamedForm):
    """Primer ingreso: Código + Contrato + the e-mail on the contract."""

    email = forms.EmailField(
        label=_("Correo electrónico"),
        max_length=254,
        help_text=_("El correo que registraste al contratar."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autocapitalize": "none"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Código"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"}
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise forms.ValidationError(_("El código tiene 6 dígitos."))
        return code


def password_rules(*, provider: Provider | None) -> str:
    """What every password validator asks, in words, for the help under the field."""
    rules = _(
        "Al menos %(length)s caracteres; no solo números, ni una contraseña común, ni "
        "parecida a tu cuenta o tu nombre."
    ) % {"length": settings.PASSWORD_MIN_LENGTH}
    if provider is not None and provider.require_special_character:
        rules += " " + _("Con al menos un caracter especial, como .!#$%&/=?¿-+*")
    return rules


class _AllauthNewPasswordMixin:
    """allauth's new-password forms in the portal's words: the rules shown first, the new
    passwords kept after an error, two different ones told as the rest of the portal tells
    it (allauth says it in Spain's usted)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password1"].label = _("Nueva contraseña")
        self.fields["password1"].help_text = password_rules(
            provider=getattr(self.user, "provider", None)
        )
        self.fields["password2"].label = _("Confirmar nueva contraseña")
        for name in ("password1", "password2"):
            self.fields[name].widget.render_value = True

    def clean(self):
        password1 = self.cleaned_data.get("password1")
        password2 = self.cleaned_data.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("Las contraseñas no coinciden."))
            return self.cleaned_data
        return super().clean()


class ChangePasswordForm(_AllauthNewPasswordMixin, AllauthChangePasswordForm):
    """Ajustes → cambiar contraseña."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["oldpassword"].label = _("Contraseña actual")
        self.fields["oldpassword"].help_text = ""  # the page links Olvidé mi contraseña


class ResetPasswordKeyForm(_AllauthNewPasswordMixin, AllauthResetPasswordKeyForm):
    """The new password from an e-mailed link."""


class SetPasswordMixin(forms.Form):
    """Contraseña + Confirmar contraseña, checked by every validator for `self.user`."""

    # Kept in the form after an error in another field (the page is never stored: no-store),
    # so that a subscriber does not type both again.
    password1 = forms.CharField(
        label=_("Contraseña"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=True),
    )
    password2 = forms.CharField(
        label=_("Confirmar contraseña"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=True),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The rules before the first try, not only after a refusal.
        self.fields["password1"].help_text = password_rules(
            provider=getattr(self.password_user(), "provider", None)
        )

    def password_user(self):
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("Las contraseñas no coinciden."))
        elif password1:
            try:
                password_validation.validate_password(password1, self.password_user())
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class NewAccountForm(SetPasswordMixin):
    """ "Nueva cuenta": the name before the @, and a password."""

    field_order = ["name", "password1", "password2"]

    name = forms.CharField(
        label=_("Cuenta"),
        max_length=30,
        help_text=_("Minúsculas, números, punto o guion; de 3 a 30 caracteres."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "autocomplete": "username", "data-handle-input": ""}
        ),
    )

    def __init__(self, *args, contract, **kwargs):
        self.contract = contract
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip().lower()
        domain = "@" + self.contract.provider.handle_domain
        if name.endswith(domain):
            name = name[: -len(domain)]
        if not HANDLE_NAME_PATTERN.match(name):
            raise forms.ValidationError(
                _("Usa de 3 a 30 minúsculas, números, punto, guion o guion bajo.")
            )
        return name

    def password_user(self):
        from .models import User

        return User(
            username=f"{getattr(self, 'cleaned_data', {}).get('name', '')}"
            f"@{self.contract.provider.handle_domain}",
            first_name=self.contract.holder_name,
            email=self.contract.email,
            provider=self.contract.provider,
        )


class NewPasswordForm(SetPasswordMixin):
    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def password_user(self):
        return self.user


class PasswordResetRequestForm(forms.Form):
    login = forms.CharField(
        label=_("Cuenta"),
        max_length=254,
        help_text=_("Tu cuenta (juan@kona) o tu correo."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "autocomplete": "username", "data-handle-input": ""}
        ),
    )


class CheckboxValueInput(forms.CheckboxInput):
    """A checkbox that hands its field the value as sent, so that a forged one is refused
    instead of read as "on" (Django's reads any unknown text as checked)."""

    def value_from_datadict(self, data, files, name):
        return data.get(name) if name in data else False

    def format_value(self, value):
        # Re-shown after a refused value, the box still sends the browser's own "on".
        return None


class ChannelField(forms.BooleanField):
    """On or off, as a browser sends a checkbox: "on" (or true/1), or nothing."""

    widget = CheckboxValueInput
    CHECKED = frozenset({"on", "true", "1"})
    UNCHECKED = frozenset({"", "off", "false", "0"})

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)

    def to_python(self, value) -> bool:
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        text = str(value).strip().lower()
        if text in self.CHECKED:
            return True
        if text in self.UNCHECKED:
            return False
        raise forms.ValidationError(_("Marca la casilla o déjala vacía."), code="invalid")


class NoticeChannelsForm(forms.Form):
    """ "Avisos" in Mi cuenta: the channels that carry notices and reminders. Correo only
    when there is an address to write to; WhatsApp only when the install offers it. A
    channel not offered is not in the form, so the stored choice for it stays."""

    sms = ChannelField(label=_("SMS"))
    email = ChannelField(label=_("Correo electrónico"))
    whatsapp = ChannelField(label=_("WhatsApp"))

    def __init__(
        self,
        *args,
        masked_phone: str,
        email_address: str,
        offer_email: bool,
        offer_whatsapp: bool,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.offers_email = offer_email
        # _form.html shows help texts as HTML: what comes from data is escaped here.
        to_phone = (
            _("Al número registrado de tu contrato, %(phone)s.") % {"phone": escape(masked_phone)}
            if masked_phone
            else _("Al número registrado de tu contrato.")
        )
        self.fields["sms"].help_text = to_phone
        if not offer_email:
            del self.fields["email"]
        elif email_address:
            self.fields["email"].help_text = _("A %(email)s.") % {"email": escape(email_address)}
        else:
            self.fields["email"].help_text = _("Al correo registrado de tu contrato.")
        if offer_whatsapp:
            self.fields["whatsapp"].help_text = _(
                "Al número registrado de tu contrato, por WhatsApp."
            )
        else:
            del self.fields["whatsapp"]

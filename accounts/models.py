import datetime
import zoneinfo
from decimal import Decimal

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.cache import cache
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from .validators import brand_color_validator

handle_domain_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{1,30}$",
    _("Solo minúsculas, números y guiones (2 a 31 caracteres)."),
)


# The active ISPs by host, handle domain and code (accounts.selectors._portals).
PORTALS_CACHE_KEY = "providers:portals:3"


class Provider(models.Model):
    """An ISP: the tenant every other row belongs to."""

    code = models.CharField(
        _("código"),
        max_length=12,
        unique=True,
        validators=[RegexValidator(r"^\d{2,12}$", _("El código es numérico."))],
        help_text=_("Lo teclea el abonado en «Crear una cuenta», p. ej. 111."),
    )
    name = models.CharField(_("nombre"), max_length=120)
    handle_domain = models.CharField(
        _("dominio de cuentas"),
        max_length=31,
        unique=True,
        validators=[handle_domain_validator],
        help_text=_("Se agrega a las cuentas: juan → juan@kona."),
    )
    country = models.CharField(_("país"), max_length=2, help_text=_("ISO 3166, p. ej. MX, AR."))
    currency = models.CharField(_("moneda"), max_length=3, help_text=_("ISO 4217, p. ej. MXN."))
    locale = models.CharField(_("formato regional"), max_length=10, default="es_MX")
    time_zone = models.CharField(_("zona horaria"), max_length=64, default="America/Mexico_City")
    require_special_character = models.BooleanField(
        _("contraseña con caracter especial"),
        default=False,
        help_text=_("Exige al menos un caracter especial en las contraseñas de sus abonados."),
    )
    support_phone = models.CharField(_("teléfono de atención"), max_length=32, blank=True)
    portal_host = models.CharField(
        _("dirección del portal"),
        max_length=253,
        blank=True,
        validators=[
            RegexValidator(
                r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                _("Un nombre de dominio en minúsculas, sin https:// ni /, p. ej. portal.kona.mx."),
            )
        ],
        help_text=_(
            "El dominio propio del portal de sus abonados (p. ej. portal.kona.mx), que debe "
            "apuntar a este servidor. Sin él, el portal está en /p/<código>/ y, si se "
            "configuró ANTENA_DOMAIN, en <dominio de cuentas>.<ANTENA_DOMAIN>."
        ),
    )
    claim_by_email = models.BooleanField(
        _("primer ingreso por correo"),
        default=False,
        help_text=_(
            "Además del SMS, un contrato con correo registrado puede recibir un enlace para "
            "crear su cuenta."
        ),
    )
    privacy_notice = models.TextField(
        _("aviso de privacidad"),
        blank=True,
        help_text=_(
            "El aviso que sus abonados leen en el portal (LFPDPPP en México, Ley 25.326 en "
            "Argentina). Vacío: uno básico con su razón social y domicilio fiscal."
        ),
    )
    tagline = models.CharField(
        _("lema"),
        max_length=120,
        blank=True,
        help_text=_("Se muestra bajo el nombre en el portal, p. ej. «Somos de Calamuchita»."),
    )
    brand_color = models.CharField(
        _("color de marca"),
        max_length=7,
        default="#0b5fff",
        validators=[brand_color_validator],
        help_text=_("#rrggbb; lleva texto blanco encima, así que debe contrastar con el blanco."),
    )
    legal_name = models.CharField(_("razón social"), max_length=200, blank=True)
    tax_id = models.CharField(_("identificación fiscal"), max_length=32, blank=True)
    tax_address = models.CharField(_("domicilio fiscal"), max_length=300, blank=True)
    logo = models.FileField(_("logo"), upload_to="providers/logos/", blank=True)
    currency_format = models.CharField(
        _("formato de importes"),
        max_length=32,
        blank=True,
        help_text=_(
            "Patrón de Babel/CLDR; vacío usa el del formato regional. "
            "Ej. «¤ #,##0.00» muestra $ 2.590,00 en es_AR."
        ),
    )
    promise_days = models.PositiveSmallIntegerField(_("días de una promesa de pago"), default=3)
    promises_per_period = models.PositiveSmallIntegerField(
        _("promesas por periodo"), default=1, help_text=_("0 desactiva las promesas de pago.")
    )
    billing_day = models.PositiveSmallIntegerField(
        _("día de facturación"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text=_(
            "Pospago: el día del mes en que se emite la factura (29 a 31: el último día "
            "en los meses más cortos)."
        ),
    )
    invoice_due_days = models.PositiveSmallIntegerField(
        _("días para pagar"), default=10, help_text=_("Del día de emisión al vencimiento.")
    )
    second_due_days = models.PositiveSmallIntegerField(
        _("días del segundo vencimiento"),
        default=0,
        help_text=_("Después del primero; 0: sin segundo vencimiento."),
    )
    second_due_surcharge = models.DecimalField(
        _("recargo del segundo vencimiento (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
    )
    suspend_after_days = models.PositiveSmallIntegerField(
        _("suspender tras el vencimiento"),
        default=10,
        help_text=_("Pospago: días después del vencimiento de una factura impaga."),
    )
    grace_days = models.PositiveSmallIntegerField(
        _("días de gracia"),
        default=0,
        help_text=_("Días de servicio tras la vigencia antes de suspender por falta de pago."),
    )
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("proveedor")
        verbose_name_plural = _("proveedores")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["portal_host"],
                condition=~models.Q(portal_host=""),
                name="one_provider_per_portal_host",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # A host added, changed or switched off answers for the right ISP at once.
        cache.delete(PORTALS_CACHE_KEY)

    def portal_url(self, path: str = "/") -> str:
        """The absolute address of `path` (a bare route) on this ISP's portal: its own
        host, its handle domain under ANTENA_DOMAIN, or PORTAL_BASE_URL + /p/<code>."""
        if self.portal_host:
            return f"https://{self.portal_host}{path}"
        if settings.ANTENA_DOMAIN:
            return f"https://{self.handle_domain}.{settings.ANTENA_DOMAIN}{path}"
        return f"{settings.PORTAL_BASE_URL.rstrip('/')}/p/{self.code}{path}"

    @property
    def language(self) -> str | None:
        """The language of LANGUAGES its `locale` speaks: es_AR → es-ar (usted), es_MX →
        es (tú); None when none fits."""
        try:
            return translation.get_supported_language_variant(translation.to_language(self.locale))
        except LookupError:
            return None

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self) -> datetime.date:
        """The calendar date right now where the ISP is."""
        return timezone.localdate(timezone=self.tzinfo)


class User(AbstractUser):
    """A login. Subscribers belong to one provider; staff may belong to none."""

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("proveedor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    phone = PhoneNumberField(_("celular"), max_length=20, blank=True)

    class Meta(AbstractUser.Meta):
        verbose_name = _("usuario")
        verbose_name_plural = _("usuarios")


class Contract(models.Model):
    class BillingMode(models.TextChoices):
        PREPAID = "prepaid", _("prepago")
        POSTPAID = "postpaid", _("pospago")

    class Status(models.TextChoices):
        ACTIVE = "active", _("activo")
        SUSPENDED = "suspended", _("suspendido")
        CANCELLED = "cancelled", _("cancelado")

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="contracts"
    )
    number = models.CharField(_("contrato"), max_length=32)
    holder_name = models.CharField(_("titular"), max_length=200)
    installation_address = models.CharField(_("dirección de instalación"), max_length=300)
    # Stored E.164; typed and shown in the ISP's national format (the admin forms take
    # the ISP's country as the region).
    phone = PhoneNumberField(_("número"), max_length=20, help_text=_("Celular registrado."))
    email = models.EmailField(_("correo electrónico"), blank=True)
    zone = models.ForeignKey(
        "plans.Zone", verbose_name=_("zona"), on_delete=models.PROTECT, related_name="contracts"
    )
    plan = models.ForeignKey(
        "plans.Plan", verbose_name=_("plan"), on_delete=models.PROTECT, related_name="contracts"
    )
    billing_mode = models.CharField(
        _("modalidad"), max_length=10, choices=BillingMode.choices, default=BillingMode.PREPAID
    )
    paid_until = models.DateField(_("vigencia"), null=True, blank=True)
    # Derived, like paid_until and plan: the recompute (billing.recompute) writes them from
    # service periods, promises and staff holds; nobody else does, cancellation aside.
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.ACTIVE
    )
    billing_day = models.PositiveSmallIntegerField(
        _("día de facturación"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(31)],
        help_text=_("Vacío: el del proveedor."),
    )
    ip_address = models.GenericIPAddressField(
        _("dirección IP"),
        null=True,
        blank=True,
        help_text=_("La que el ISP asigna al abonado: la que se suspende y limita en la red."),
    )
    user = models.ForeignKey(
        User,
        verbose_name=_("cuenta"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contracts",
    )
    promise_until = models.DateField(
        _("promesa de pago hasta"),
        null=True,
        blank=True,
        help_text=_("Servicio extendido por una promesa de pago, sin pago aún."),
    )
    claimed_at = models.DateTimeField(_("reclamado el"), null=True, blank=True)
    # The last invitation to create an account (its number and the ISP's portal by SMS).
    invited_at = models.DateTimeField(_("invitado el"), null=True, blank=True)
    created_at = models.DateTimeField(_("creado el"), auto_now_add=True)
    updated_at = models.DateTimeField(_("actualizado el"), auto_now=True)

    class Meta:
        verbose_name = _("contrato")
        verbose_name_plural = _("contratos")
        ordering = ["provider", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "number"], name="contract_number_unique_per_provider"
            ),
        ]
        indexes = [models.Index(fields=["provider", "phone"])]

    def __str__(self) -> str:
        return f"{self.number} · {self.holder_name}"

    def credit_days(self, *, today: datetime.date | None = None) -> int:
        """Días de crédito restantes: days from today (ISP time zone) to vigencia, never < 0."""
        if self.paid_until is None:
            return 0
        today = today or self.provider.today()
        return max(0, (self.paid_until - today).days)


class VerificationCode(models.Model):
    """A 6-digit code sent by SMS. Only its keyed hash is stored."""

    class Purpose(models.TextChoices):
        CLAIM = "claim", _("reclamo de contrato")
        PASSWORD_RESET = "password_reset", _("recuperar contraseña")

    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    token = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64)
    contract = models.ForeignKey(
        Contract, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("código de verificación")
        verbose_name_plural = _("códigos de verificación")

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} #{self.pk}"


class SecondFactor(Authenticator):
    """A staff login's second factor (allauth's Authenticator), as the admin names it."""

    class Meta:
        proxy = True
        verbose_name = _("segundo factor")
        verbose_name_plural = _("segundos factores")

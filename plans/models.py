from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider


class Zone(models.Model):
    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="zones"
    )
    name = models.CharField(_("nombre"), max_length=100)

    class Meta:
        verbose_name = _("zona")
        verbose_name_plural = _("zonas")
        ordering = ["provider", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name"], name="zone_name_unique_per_provider"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Plan(models.Model):
    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="plans"
    )
    name = models.CharField(_("nombre"), max_length=100)
    download_mbps = models.PositiveIntegerField(_("bajada (Mb)"))
    upload_mbps = models.PositiveIntegerField(_("subida (Mb)"))
    price = models.DecimalField(
        _("precio"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.00"))],
    )
    period_days = models.PositiveIntegerField(_("periodo (días)"), default=30)
    billing_mode = models.CharField(
        _("modalidad"),
        max_length=10,
        choices=Contract.BillingMode.choices,
        default=Contract.BillingMode.PREPAID,
    )
    zones = models.ManyToManyField(Zone, verbose_name=_("zonas"), related_name="plans", blank=True)
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("planes")
        ordering = ["provider", "price", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "name"], name="plan_name_unique_per_provider"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Promotion(models.Model):
    """An offer shown on Inicio and Planes prepago; its effect applies at purchase (#4)."""

    class Effect(models.TextChoices):
        NONE = "none", _("solo aviso")
        BONUS_DAYS = "bonus_days", _("días de regalo")
        DISCOUNT = "discount", _("descuento (%)")

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="promotions"
    )
    title = models.CharField(_("título"), max_length=120)
    text = models.TextField(_("texto"), blank=True)
    image = models.FileField(_("imagen"), upload_to="promotions/", blank=True)
    zones = models.ManyToManyField(
        Zone,
        verbose_name=_("zonas"),
        blank=True,
        related_name="promotions",
        help_text=_("Vacío: todas las zonas."),
    )
    plans = models.ManyToManyField(
        Plan,
        verbose_name=_("planes"),
        blank=True,
        related_name="promotions",
        help_text=_("Vacío: todos los planes."),
    )
    starts_on = models.DateField(_("desde"))
    ends_on = models.DateField(_("hasta"))
    effect = models.CharField(_("efecto"), max_length=12, choices=Effect.choices, default="none")
    bonus_days = models.PositiveIntegerField(_("días de regalo"), default=0)
    discount_percent = models.DecimalField(
        _("descuento (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0.00")), MaxValueValidator(Decimal("100.00"))],
    )
    is_active = models.BooleanField(_("activa"), default=True)

    class Meta:
        verbose_name = _("promoción")
        verbose_name_plural = _("promociones")
        ordering = ["-starts_on", "title"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="promotion_dates_in_order",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.effect == self.Effect.BONUS_DAYS and not self.bonus_days:
            raise ValidationError({"bonus_days": _("Indica cuántos días de regalo da.")})
        if self.effect == self.Effect.DISCOUNT and not self.discount_percent:
            raise ValidationError({"discount_percent": _("Indica el porcentaje de descuento.")})

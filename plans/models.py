from decimal import Decimal

from django.core.validators import MinValueValidator
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

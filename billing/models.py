"""The append-only ledger, invoices with gapless numbers, and prepaid service periods."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider
from core.models import AppendOnlyModel
from plans.models import Plan


class LedgerEntry(AppendOnlyModel):
    """One movement of the contract's current account. Balance = sum of amounts.

    Positive amounts are in the subscriber's favour (payments); charges are negative,
    so a negative balance is what the subscriber owes ("Balance C/C $-2590.00").
    """

    class Kind(models.TextChoices):
        CHARGE = "charge", _("cargo")
        PAYMENT = "payment", _("pago")
        ADJUSTMENT = "adjustment", _("ajuste")
        REVERSAL = "reversal", _("reversión")

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    contract = models.ForeignKey(
        Contract, verbose_name=_("contrato"), on_delete=models.PROTECT, related_name="ledger"
    )
    kind = models.CharField(_("tipo"), max_length=12, choices=Kind.choices)
    amount = models.DecimalField(_("importe"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("moneda"), max_length=3)
    occurred_on = models.DateField(_("fecha"))
    description = models.CharField(_("concepto"), max_length=200)
    reason = models.CharField(_("motivo"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrado por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        verbose_name=_("factura"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
    )
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("revierte a"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
    )
    created_at = models.DateTimeField(_("registrado el"), auto_now_add=True)

    class Meta:
        verbose_name = _("movimiento")
        verbose_name_plural = _("movimientos")
        ordering = ["-occurred_on", "-pk"]
        indexes = [models.Index(fields=["contract", "occurred_on", "id"])]

    def __str__(self) -> str:
        return f"{self.occurred_on} {self.description} {self.amount}"


class InvoiceCounter(models.Model):
    """The next invoice number of one provider, taken under a row lock: no gaps, no repeats."""

    provider = models.OneToOneField(Provider, on_delete=models.PROTECT, related_name="+")
    next_number = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.provider_id}: {self.next_number}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("emitida")
        VOID = "void", _("anulada")

    class Display(models.TextChoices):
        PAID = "paid", _("PAGADA")
        OPEN = "open", _("IMPAGA")
        OVERDUE = "overdue", _("VENCIDA")
        VOID = "void", _("ANULADA")

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="invoices"
    )
    contract = models.ForeignKey(
        Contract, verbose_name=_("contrato"), on_delete=models.PROTECT, related_name="invoices"
    )
    number = models.PositiveBigIntegerField(_("factura Nº"))
    issue_date = models.DateField(_("fecha de emisión"))
    due_date = models.DateField(_("fecha de vencimiento"))
    period_start = models.DateField(_("periodo desde"), null=True, blank=True)
    period_end = models.DateField(_("periodo hasta"), null=True, blank=True)
    total = models.DecimalField(_("monto total"), max_digits=14, decimal_places=2)
    amount_paid = models.DecimalField(
        _("monto pagado"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("moneda"), max_length=3)
    status = models.CharField(
        _("estado"), max_length=8, choices=Status.choices, default=Status.ISSUED
    )
    void_reason = models.CharField(_("motivo de anulación"), max_length=300, blank=True)
    voided_at = models.DateTimeField(_("anulada el"), null=True, blank=True)
    pdf = models.FileField(_("PDF"), upload_to="invoices/%Y/%m/", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("emitida por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("creada el"), auto_now_add=True)

    class Meta:
        verbose_name = _("factura")
        verbose_name_plural = _("facturas")
        ordering = ["-issue_date", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "number"], name="invoice_number_unique_per_provider"
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="invoice_number_positive"
            ),
        ]
        indexes = [models.Index(fields=["contract", "-issue_date", "-number"])]

    def __str__(self) -> str:
        return f"Factura Nº {self.number}"

    @property
    def amount_due(self) -> Decimal:
        """ "Monto a pagar": what is still owed (0 once paid or voided)."""
        if self.status == self.Status.VOID:
            return Decimal("0.00")
        return max(Decimal("0.00"), self.total - self.amount_paid)

    def display_status(self, *, today: datetime.date | None = None) -> str:
        if self.status == self.Status.VOID:
            return self.Display.VOID
        if self.amount_due == 0:
            return self.Display.PAID
        today = today or self.provider.today()
        return self.Display.OVERDUE if self.due_date < today else self.Display.OPEN

    @property
    def display_status_label(self) -> str:
        return self.Display(self.display_status()).label


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(
        Invoice, verbose_name=_("factura"), on_delete=models.CASCADE, related_name="lines"
    )
    description = models.CharField(_("detalle"), max_length=200)
    amount = models.DecimalField(_("importe"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("línea de factura")
        verbose_name_plural = _("líneas de factura")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.description


class ServicePeriod(models.Model):
    """A stretch of prepaid service. `Contract.paid_until` is the end of the last one."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contrato"), on_delete=models.PROTECT, related_name="periods"
    )
    plan = models.ForeignKey(Plan, verbose_name=_("plan"), on_delete=models.PROTECT)
    starts_on = models.DateField(_("desde"))
    ends_on = models.DateField(_("hasta"))
    paid_by = models.ForeignKey(
        LedgerEntry,
        verbose_name=_("pagado con"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    description = models.CharField(_("concepto"), max_length=200)
    created_at = models.DateTimeField(_("registrado el"), auto_now_add=True)

    class Meta:
        verbose_name = _("periodo de servicio")
        verbose_name_plural = _("periodos de servicio")
        ordering = ["-ends_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="service_period_not_empty",
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_on} – {self.ends_on}"

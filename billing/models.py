"""The append-only ledger, invoices with gapless numbers, and prepaid service periods."""

import datetime
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider
from core.crypto import secrets_decrypt, secrets_encrypt
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
    second_due_date = models.DateField(_("segundo vencimiento"), null=True, blank=True)
    second_due_total = models.DecimalField(
        _("total al segundo vencimiento"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    # Fiscal stamping (CFDI 4.0's UUID, Argentina's CAE) is the ISP's stamping service's:
    # billing.invoicing.INVOICE_STAMPER is where it plugs in, and it fills this.
    fiscal_folio = models.CharField(_("folio fiscal"), max_length=64, blank=True)
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
            # One issued invoice per contract and period, however often the job runs.
            models.UniqueConstraint(
                fields=["contract", "period_start"],
                condition=models.Q(status="issued", period_start__isnull=False),
                name="one_invoice_per_contract_and_period",
            ),
        ]
        indexes = [models.Index(fields=["contract", "-issue_date", "-number"])]

    def __str__(self) -> str:
        return f"Factura Nº {self.number}"

    @property
    def reminder_event(self) -> str:
        """What the reminders of its due date are told as, each followed by its day; they
        are withdrawn once it is paid or voided."""
        return f"invoice-reminder:{self.pk}:"

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
        # The recompute reads every contract's periods by (contract, dates): from the index.
        indexes = [
            models.Index(
                fields=["contract", "ends_on", "starts_on", "plan"], name="period_by_contract"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="service_period_not_empty",
            )
        ]

    def __str__(self) -> str:
        return f"{self.starts_on} – {self.ends_on}"


class ServiceHold(models.Model):
    """A suspension by staff (who and why), kept until staff lift it: the recompute leaves
    the contract suspended while one is in force, whatever its credit."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contrato"), on_delete=models.PROTECT, related_name="holds"
    )
    reason = models.CharField(_("motivo"), max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("suspendido por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("desde"), auto_now_add=True)
    lifted_at = models.DateTimeField(_("levantada el"), null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("levantada por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("suspensión por el ISP")
        verbose_name_plural = _("suspensiones por el ISP")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract"],
                condition=models.Q(lifted_at__isnull=True),
                name="one_hold_in_force_per_contract",
            )
        ]

    def __str__(self) -> str:
        return self.reason


class ServiceChange(AppendOnlyModel):
    """A change of a contract's service status or plan, with why: what the subscriber sees
    on Servicios, staff in the admin, and the ISP's network hears.

    Written by the recompute, tens of thousands at a heavy midnight: its foreign keys have
    no database constraint (as AuditEntry's), whose checks at commit cost a tenth of the
    run (docs/performance.md, "Recompute"); Django's PROTECT still guards deletes.
    """

    class Reason(models.TextChoices):
        NO_CREDIT = "sin_credito", _("sin crédito")
        PAYMENT = "pago", _("pago")
        PROMISE = "promesa", _("promesa de pago")
        STAFF = "staff", _("el ISP")
        PLAN = "plan", _("cambio de plan")

    class Event(models.TextChoices):
        SUSPENDED = "contract.suspended", _("suspendido")
        REACTIVATED = "contract.reactivated", _("reactivado")
        PLAN_CHANGED = "contract.plan_changed", _("cambio de plan")

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("proveedor"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contrato"),
        on_delete=models.PROTECT,
        related_name="service_changes",
        db_constraint=False,
        # (contract, -created_at) below serves every lookup by contract.
        db_index=False,
    )
    event = models.CharField(_("evento"), max_length=24, choices=Event.choices)
    reason = models.CharField(_("motivo"), max_length=12, choices=Reason.choices)
    status_from = models.CharField(_("estado antes"), max_length=10, blank=True)
    status_to = models.CharField(_("estado después"), max_length=10, blank=True)
    plan_from = models.ForeignKey(
        Plan,
        verbose_name=_("plan antes"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
    )
    plan_to = models.ForeignKey(
        Plan,
        verbose_name=_("plan después"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    paid_until = models.DateField(_("vigencia"), null=True, blank=True)
    created_at = models.DateTimeField(_("fecha"), default=timezone.now)

    class Meta:
        verbose_name = _("cambio de servicio")
        verbose_name_plural = _("cambios de servicio")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["contract", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_event_display()} · {self.get_reason_display()}"


class NetworkHook(models.Model):
    """Where an ISP's network hears of service changes: a URL signed with a secret
    (Standard Webhooks), set by the ISP's administrator."""

    provider = models.OneToOneField(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    url = models.URLField(
        _("URL"), max_length=500, help_text=_("Recibe un POST firmado por cada evento.")
    )
    secret_encrypted = models.TextField(editable=False, blank=True)
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("webhook de red")
        verbose_name_plural = _("webhooks de red")

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return secrets_decrypt(self.secret_encrypted).get("secret", "")

    @secret.setter
    def secret(self, value: str) -> None:
        self.secret_encrypted = secrets_encrypt({"secret": value})


class Router(models.Model):
    """A MikroTik router told of suspensions, reactivations and plan changes through its
    API: the ISP's own (no zone) or one zone's."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    zone = models.ForeignKey(
        "plans.Zone",
        verbose_name=_("zona"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Vacío: el router del ISP, para las zonas sin router propio."),
    )
    host = models.CharField(_("host"), max_length=255)
    port = models.PositiveIntegerField(_("puerto"), default=8728)
    use_tls = models.BooleanField(_("API-SSL"), default=False)
    username = models.CharField(_("usuario"), max_length=100)
    password_encrypted = models.TextField(editable=False, blank=True)
    address_list = models.CharField(_("lista de morosos"), max_length=64, default="morosos")
    is_active = models.BooleanField(_("activo"), default=True)

    class Meta:
        verbose_name = _("router MikroTik")
        verbose_name_plural = _("routers MikroTik")
        constraints = [
            models.UniqueConstraint(fields=["provider", "zone"], name="one_router_per_zone"),
            models.UniqueConstraint(
                fields=["provider"],
                condition=models.Q(zone__isnull=True),
                name="one_router_per_provider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def password(self) -> str:
        return secrets_decrypt(self.password_encrypted).get("password", "")

    @password.setter
    def password(self, value: str) -> None:
        self.password_encrypted = secrets_encrypt({"password": value})


class NetworkDelivery(models.Model):
    """One service change told to one place of the ISP's network (its webhook or a
    router), retried with growing waits until it is taken or the span runs out.

    The event's body is made from the change when sent (`network.network_event_body`):
    the change is append-only, so every retry sends the same event. Like ServiceChange,
    written by the thousand: no database constraints on its foreign keys.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("pendiente")
        DELIVERED = "delivered", _("entregado")
        FAILED = "failed", _("fallido")

    provider = models.ForeignKey(
        Provider,
        verbose_name=_("proveedor"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    change = models.ForeignKey(
        ServiceChange,
        verbose_name=_("cambio de servicio"),
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_constraint=False,
    )
    # A handful of places per ISP: found through (status, next_attempt_at), not indexed.
    hook = models.ForeignKey(
        NetworkHook,
        verbose_name=_("webhook"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    router = models.ForeignKey(
        Router,
        verbose_name=_("router"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    uuid = models.UUIDField(_("webhook-id"), unique=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    next_attempt_at = models.DateTimeField(_("próximo intento"), default=timezone.now)
    last_result = models.CharField(_("último resultado"), max_length=200, blank=True)
    delivered_at = models.DateTimeField(_("entregado el"), null=True, blank=True)
    created_at = models.DateTimeField(_("creado el"), default=timezone.now)

    class Meta:
        verbose_name = _("entrega a la red")
        verbose_name_plural = _("entregas a la red")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hook__isnull=True) ^ models.Q(router__isnull=True),
                name="delivery_to_one_place",
            )
        ]

    def __str__(self) -> str:
        return self.message_id

    @property
    def message_id(self) -> str:
        """`webhook-id`: the same on every retry of the event."""
        return f"msg_{self.uuid.hex}"

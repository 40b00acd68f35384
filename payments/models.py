"""Payment intents, gateway accounts, webhook deliveries, settlements and promises."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider
from billing.models import Invoice, LedgerEntry
from core.crypto import secrets_encrypt
from plans.models import Plan, Promotion

from .crypto import credentials_decrypt


class Gateway(models.TextChoices):
    REFERENCE = "reference", _("Referencia de pago")
    STRIPE = "stripe", _("Stripe")
    MERCADOPAGO = "mercadopago", _("Mercado Pago")
    OXXOPAY = "oxxopay", _("OxxoPay")


class GatewayAccount(models.Model):
    """One payment method an ISP enabled, with its (encrypted) credentials."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="gateways"
    )
    gateway = models.CharField(_("pasarela"), max_length=16, choices=Gateway.choices)
    is_enabled = models.BooleanField(_("habilitada"), default=True)
    label = models.CharField(
        _("nombre para los abonados"),
        max_length=60,
        blank=True,
        help_text=_(
            "Cómo lo ven sus abonados al pagar, p. ej. «Efectivo en OXXO, 7-Eleven y "
            "farmacias». Vacío: el nombre del medio."
        ),
    )
    credentials_encrypted = models.TextField(editable=False, blank=True)
    reference_prefix = models.CharField(
        _("prefijo de referencia"), max_length=6, blank=True, help_text=_("Dígitos.")
    )
    expiry_days = models.PositiveSmallIntegerField(_("vigencia de la referencia (días)"), default=3)
    base_url = models.URLField(
        _("URL de la API"), blank=True, help_text=_("Vacío: la de producción de la pasarela.")
    )

    class Meta:
        verbose_name = _("medio de pago")
        verbose_name_plural = _("medios de pago")
        constraints = [
            models.UniqueConstraint(fields=["provider", "gateway"], name="one_account_per_gateway")
        ]

    def __str__(self) -> str:
        return f"{self.provider.code} · {self.get_gateway_display()}"

    @property
    def credentials(self) -> dict[str, str]:
        return credentials_decrypt(self.credentials_encrypted)

    @credentials.setter
    def credentials(self, values: dict[str, str]) -> None:
        self.credentials_encrypted = secrets_encrypt(values)


class Payment(models.Model):
    """What the subscriber was asked to pay, by which method, and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pendiente")
        PAID = "paid", _("pagado")
        EXPIRED = "expired", _("vencido")
        CANCELLED = "cancelled", _("cancelado")
        HELD = "held", _("en revisión")

    public_id = models.UUIDField(_("id público"), default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    contract = models.ForeignKey(
        Contract, verbose_name=_("contrato"), on_delete=models.PROTECT, related_name="payments"
    )
    gateway = models.CharField(_("medio"), max_length=16, choices=Gateway.choices)
    method = models.CharField(_("forma"), max_length=16, default="cash")
    plan = models.ForeignKey(
        Plan, verbose_name=_("plan"), on_delete=models.PROTECT, null=True, blank=True
    )
    promotion = models.ForeignKey(
        Promotion, verbose_name=_("promoción"), on_delete=models.PROTECT, null=True, blank=True
    )
    bonus_days = models.PositiveIntegerField(_("días de regalo"), default=0)
    invoice = models.ForeignKey(
        Invoice,
        verbose_name=_("factura"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
    )
    amount = models.DecimalField(_("importe"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("moneda"), max_length=3)
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    reference = models.CharField(_("referencia"), max_length=40, blank=True, db_index=True)
    external_id = models.CharField(_("id en la pasarela"), max_length=120, blank=True)
    voucher_url = models.URLField(_("comprobante en la pasarela"), max_length=500, blank=True)
    checkout_url = models.URLField(_("pago en línea"), max_length=500, blank=True)
    barcode_url = models.URLField(_("código de barras"), max_length=500, blank=True)
    idempotency_key = models.UUIDField(
        _("clave de idempotencia"), default=uuid.uuid4, unique=True, editable=False
    )
    expires_at = models.DateTimeField(_("vence"), null=True, blank=True)
    # When the poller last asked the gateway (payments.poller): the least recently asked
    # go first, so abandoned checkouts never crowd out the rest.
    polled_at = models.DateTimeField(_("consultado el"), null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(_("pagado el"), null=True, blank=True)
    paid_amount = models.DecimalField(
        _("importe recibido"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    paid_late = models.BooleanField(_("pagado tras vencer"), default=False)
    ledger_entry = models.OneToOneField(
        LedgerEntry,
        verbose_name=_("movimiento"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment",
    )
    created_at = models.DateTimeField(_("creado el"), auto_now_add=True)

    class Meta:
        verbose_name = _("pago")
        verbose_name_plural = _("pagos")
        ordering = ["-created_at", "-pk"]
        permissions = [("confirm_payment", _("Puede confirmar pagos en efectivo"))]
        constraints = [
            # Per ISP: ids of two ISPs' own accounts at a gateway may be alike.
            models.UniqueConstraint(
                fields=["gateway", "external_id", "provider"],
                condition=~models.Q(external_id=""),
                name="payment_external_id_unique_per_isp",
            ),
            models.UniqueConstraint(
                fields=["reference"],
                condition=~models.Q(reference=""),
                name="payment_reference_unique",
            ),
            # Asking again for the same plan while a reference is pending shows that one.
            models.UniqueConstraint(
                fields=["contract", "plan", "gateway", "method"],
                condition=models.Q(status="pending", plan__isnull=False),
                name="one_pending_payment_per_plan",
            ),
            models.UniqueConstraint(
                fields=["contract", "invoice", "gateway", "method"],
                condition=models.Q(status="pending", invoice__isnull=False),
                name="one_pending_payment_per_invoice",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="payment_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_gateway_display()} {self.reference or self.external_id or self.pk}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def concept(self) -> str:
        if self.plan_id:
            return self.plan.name
        if self.invoice_id:
            return f"Factura Nº {self.invoice.number}"
        return ""


class PaymentEvent(models.Model):
    """The history of a payment: who did what, when and why (audit)."""

    class Kind(models.TextChoices):
        CREATED = "created", _("creado")
        PAID = "paid", _("acreditado")
        DUPLICATE = "duplicate", _("aviso repetido")
        HELD = "held", _("retenido para revisión")
        EXPIRED = "expired", _("vencido")
        CANCELLED = "cancelled", _("cancelado")

    payment = models.ForeignKey(
        Payment, verbose_name=_("pago"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("evento"), max_length=12, choices=Kind.choices)
    source = models.CharField(_("origen"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("quién"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(_("nota"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("evento de pago")
        verbose_name_plural = _("eventos de pago")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.source})"


class WebhookDelivery(models.Model):
    """Every delivery as received, stored before it is verified."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", _("recibido")
        REJECTED = "rejected", _("rechazado")
        # Verified and acknowledged; its facts wait for the worker to credit them.
        VERIFIED = "verified", _("verificado")
        DUPLICATE = "duplicate", _("repetido")
        PROCESSED = "processed", _("procesado")
        IGNORED = "ignored", _("ignorado")
        FAILED = "failed", _("falló al acreditar")

    gateway = models.CharField(_("pasarela"), max_length=16, choices=Gateway.choices)
    provider_code = models.CharField(_("código del proveedor"), max_length=12)
    event_id = models.CharField(_("id del evento"), max_length=120, blank=True)
    body = models.TextField(_("contenido"))
    headers = models.JSONField(_("encabezados"), default=dict)
    outcome = models.CharField(
        _("resultado"), max_length=10, choices=Outcome.choices, default="received"
    )
    detail = models.CharField(_("detalle"), max_length=300, blank=True)
    # What the verified delivery says was paid (payments.webhooks.fact_to_json), one item
    # per payment, each with its outcome once credited.
    facts = models.JSONField(_("hechos verificados"), default=list, blank=True)
    received_at = models.DateTimeField(_("recibido el"), auto_now_add=True)

    class Meta:
        verbose_name = _("aviso de pasarela")
        verbose_name_plural = _("avisos de pasarela")
        ordering = ["-received_at"]
        indexes = [
            # The worker's queue: small however many deliveries are kept.
            models.Index(
                fields=["id"],
                condition=models.Q(outcome="verified"),
                name="webhook_delivery_to_credit",
            )
        ]

    def __str__(self) -> str:
        return f"{self.gateway} {self.event_id or self.pk}"


class ProcessedEvent(models.Model):
    """(ISP, gateway, event id) seen once: a retried webhook is never processed twice.

    Per ISP: an event id taken through another ISP's endpoint must not spend this one's.
    Rows from before it was per ISP have no ISP.
    """

    provider = models.ForeignKey(
        Provider, on_delete=models.PROTECT, null=True, related_name="+", db_index=False
    )
    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    event_id = models.CharField(max_length=120)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event_id", "gateway", "provider"], name="event_processed_once_per_isp"
            )
        ]

    def __str__(self) -> str:
        return f"{self.gateway}:{self.event_id}"


class PaymentPromise(models.Model):
    """Promesa de pago: N more days of service, once per period, on the subscriber's word."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("contrato"), on_delete=models.PROTECT, related_name="promises"
    )
    period_key = models.CharField(_("periodo"), max_length=32)
    starts_on = models.DateField(_("desde"))
    ends_on = models.DateField(_("hasta"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("pedida por"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("pedida el"), auto_now_add=True)

    class Meta:
        verbose_name = _("promesa de pago")
        verbose_name_plural = _("promesas de pago")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.contract} {self.starts_on} – {self.ends_on}"


class SettlementImport(models.Model):
    """One settlement file (a store's or bank's list of payments) as it was imported."""

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    parser = models.CharField(_("formato"), max_length=32)
    filename = models.CharField(_("archivo"), max_length=255)
    sha256 = models.CharField(_("SHA-256 del contenido"), max_length=64, db_index=True)
    # The file as received: the worker applies it from here, and it stays as evidence.
    upload = models.FileField(
        _("archivo original"), upload_to="settlements/%Y/%m/", blank=True, editable=False
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("subido por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("importado el"), auto_now_add=True)
    # Empty while the lines are being applied: an import that stopped half-way shows here.
    finished_at = models.DateTimeField(_("terminado el"), null=True, blank=True)
    line_count = models.PositiveIntegerField(_("líneas"), default=0)
    credited_count = models.PositiveIntegerField(_("acreditadas"), default=0)
    late_count = models.PositiveIntegerField(_("acreditadas tras vencer"), default=0)
    already_paid_count = models.PositiveIntegerField(_("ya aplicadas"), default=0)
    unmatched_count = models.PositiveIntegerField(_("sin coincidencia"), default=0)
    mismatch_count = models.PositiveIntegerField(_("con diferencia"), default=0)
    invalid_count = models.PositiveIntegerField(_("con error"), default=0)

    class Meta:
        verbose_name = _("liquidación")
        verbose_name_plural = _("liquidaciones")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.filename}"


class SettlementLine(models.Model):
    """One line of a settlement file and what became of it; the review queue reads these."""

    class Outcome(models.TextChoices):
        CREDITED = "credited", _("acreditado")
        LATE = "late", _("acreditado tras vencer")
        ALREADY_PAID = "already_paid", _("ya aplicado")
        UNMATCHED = "unmatched", _("sin coincidencia")
        MISMATCH = "mismatch", _("con diferencia (retenido)")
        INVALID = "invalid", _("con error")

    # Indexed by the (import, line number) constraint below.
    settlement_import = models.ForeignKey(
        SettlementImport,
        verbose_name=_("liquidación"),
        on_delete=models.PROTECT,
        related_name="lines",
        db_index=False,
    )
    # The import's provider, repeated so that a folio can be unique per provider. No index
    # of its own: the folio and review-queue indexes below lead the look-ups, and with one
    # on provider alone PostgreSQL, before it has statistics, walks every line of the ISP.
    provider = models.ForeignKey(
        Provider,
        verbose_name=_("proveedor"),
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    line_number = models.PositiveIntegerField(_("línea"))
    reference = models.CharField(_("referencia"), max_length=40, blank=True)
    amount = models.DecimalField(_("importe"), max_digits=14, decimal_places=2, null=True)
    paid_at = models.DateTimeField(_("pagado el"), null=True)
    folio = models.CharField(_("folio"), max_length=64, blank=True)
    outcome = models.CharField(_("resultado"), max_length=12, choices=Outcome.choices)
    # True when this line's folio went to payment_confirm: that folio is spent for the
    # provider, so the same store operation never credits twice, whatever the file.
    applied = models.BooleanField(_("aplicada"), default=False)
    payment = models.ForeignKey(
        Payment,
        verbose_name=_("pago"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement_lines",
    )
    message = models.CharField(_("detalle"), max_length=300, blank=True)
    raw = models.CharField(_("línea original"), max_length=300, blank=True)
    resolved = models.BooleanField(_("resuelta"), default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resuelta por"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolved_at = models.DateTimeField(_("resuelta el"), null=True, blank=True)

    class Meta:
        verbose_name = _("línea de liquidación")
        verbose_name_plural = _("líneas de liquidación")
        ordering = ["-settlement_import_id", "line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["settlement_import", "line_number"], name="settlement_line_number_unique"
            ),
            # Folio first: the import looks folios up in batches, whatever the statistics.
            models.UniqueConstraint(
                fields=["folio", "provider"],
                condition=models.Q(applied=True),
                name="settlement_folio_applied_once",
            ),
        ]
        indexes = [
            models.Index(
                fields=["provider", "outcome"],
                condition=models.Q(resolved=False, outcome__in=["unmatched", "mismatch"]),
                name="settlement_review_queue",
            )
        ]

    def __str__(self) -> str:
        return f"{self.settlement_import_id}:{self.line_number}"

"""What subscribers are told, on which channel, and what they chose to hear."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("correo electrónico")
    WHATSAPP = "whatsapp", _("WhatsApp")


class Kind(models.TextChoices):
    PAYMENT_RECEIVED = "payment_received", _("pago recibido")
    CREDIT_REMINDER = "credit_reminder", _("recordatorio de vigencia")
    SERVICE_SUSPENDED = "service_suspended", _("servicio suspendido")
    SERVICE_REACTIVATED = "service_reactivated", _("servicio reactivado")
    INVOICE_ISSUED = "invoice_issued", _("factura emitida")
    INVOICE_REMINDER = "invoice_reminder", _("recordatorio de vencimiento")
    INVITATION = "invitation", _("invitación a crear la cuenta")


class MessageTemplate(models.Model):
    """An ISP's own words for one kind of message; without one, the default is used
    (notifications.texts). Placeholders in braces: {titular}, {contrato}, {monto}…"""

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("mensaje"), max_length=24, choices=Kind.choices)
    text = models.TextField(_("texto"), max_length=600)

    class Meta:
        verbose_name = _("plantilla de mensaje")
        verbose_name_plural = _("plantillas de mensajes")
        constraints = [
            models.UniqueConstraint(fields=["provider", "kind"], name="one_template_per_kind")
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class ChannelPreference(models.Model):
    """A subscriber's channels: any may be turned off in Mi cuenta (codes still come)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("cuenta"),
        on_delete=models.CASCADE,
        related_name="channel_preference",
    )
    sms = models.BooleanField(_("SMS"), default=True)
    email = models.BooleanField(_("correo electrónico"), default=True)
    whatsapp = models.BooleanField(_("WhatsApp"), default=False)

    class Meta:
        verbose_name = _("preferencia de avisos")
        verbose_name_plural = _("preferencias de avisos")

    def __str__(self) -> str:
        return str(self.user)


class Notification(models.Model):
    """One message to one address on one channel: what, to whom, when, and whether it
    went. `event` names what it tells (a payment, a reminder of one vigencia): a message
    is written once per event and channel, whatever the retries."""

    class Status(models.TextChoices):
        PENDING = "pending", _("por enviar")
        SENT = "sent", _("enviado")
        FAILED = "failed", _("fallido")
        SKIPPED = "skipped", _("ya no hacía falta")

    provider = models.ForeignKey(
        Provider, verbose_name=_("proveedor"), on_delete=models.PROTECT, related_name="+"
    )
    contract = models.ForeignKey(
        Contract,
        verbose_name=_("contrato"),
        on_delete=models.PROTECT,
        related_name="notifications",
    )
    kind = models.CharField(_("mensaje"), max_length=24, choices=Kind.choices)
    event = models.CharField(_("evento"), max_length=80)
    channel = models.CharField(_("canal"), max_length=10, choices=Channel.choices)
    to = models.CharField(_("para"), max_length=254)
    body = models.TextField(_("texto"))
    status = models.CharField(
        _("estado"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # Quiet hours: nothing goes out between 21:00 and 08:00 where the ISP is.
    send_after = models.DateTimeField(_("enviar desde"), default=timezone.now)
    # A reminder of a vigencia is not sent once the contract is paid past it.
    covers_until = models.DateField(null=True, blank=True, editable=False)
    error = models.CharField(_("error"), max_length=200, blank=True)
    sent_at = models.DateTimeField(_("enviado el"), null=True, blank=True)
    created_at = models.DateTimeField(_("creado el"), default=timezone.now)

    class Meta:
        verbose_name = _("aviso enviado")
        verbose_name_plural = _("avisos enviados")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "event", "channel"], name="one_message_per_event"
            )
        ]
        indexes = [models.Index(fields=["status", "send_after"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.to}"

"""The audit trail: an append-only record of every write that matters (core.audit)."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Audit rows are never edited or deleted."""


class AuditEntry(models.Model):
    """Who did what to which row, when and from where, with the values before and after.

    Written by `core.audit` only, by the service that made the change (bulk ones
    included). `provider` is the ISP the row belongs to (empty for platform-wide rows);
    the ISP and the user are named by label, core imports neither.
    """

    class Channel(models.TextChoices):
        ADMIN = "admin", _("administración")
        PORTAL = "portal", _("portal del abonado")
        COMMAND = "command", _("comando")
        WORKER = "worker", _("proceso de fondo")

    provider = models.ForeignKey(
        "accounts.Provider",
        verbose_name=_("proveedor"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("quién"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("desde"), max_length=8, choices=Channel.choices)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)
    action = models.CharField(_("acción"), max_length=40, db_index=True)
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("tipo"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    object_id = models.CharField(_("id del objeto"), max_length=40, blank=True)
    object_repr = models.CharField(_("objeto"), max_length=200, blank=True)
    # {field name: [before, after]}, values as text; secrets are never stored, only that
    # they were replaced.
    changes = models.JSONField(_("cambios"), default=dict, blank=True)
    note = models.CharField(_("detalle"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("registro de auditoría")
        verbose_name_plural = _("registros de auditoría")
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(
                fields=["content_type", "object_id", "-created_at"], name="audit_by_object"
            ),
            models.Index(fields=["provider", "-created_at"], name="audit_by_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("audit entries are append-only")

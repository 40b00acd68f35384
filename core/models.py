"""Append-only rows, and the audit trail: a record of every write that matters (core.audit)."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """Append-only rows (the ledger, the audit trail) are never edited or deleted: a
    correction is a new row."""


class AppendOnlyModel(models.Model):
    """A row that is written once and never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only")


class AuditEntry(AppendOnlyModel):
    """Who did what to which row, when and from where, with the values before and after.

    Written by `core.audit` only, by the service that made the change (bulk ones
    included). `provider` is the ISP the row belongs to (empty for platform-wide rows);
    the ISP and the user are named by label, core imports neither.

    The foreign keys have no database constraint: a settlement file writes a row for
    every contract it credits, and three more checks per row at commit cost PostgreSQL
    about a tenth of the import (docs/performance.md). Django's PROTECT still keeps an
    ISP or a login with audit rows from being deleted, and nothing deletes audit rows.
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
        db_constraint=False,
        db_index=False,  # audit_by_provider leads with it
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("fecha"), auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("quién"),
        on_delete=models.PROTECT,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    channel = models.CharField(_("desde"), max_length=8, choices=Channel.choices)
    ip_address = models.GenericIPAddressField(_("dirección IP"), null=True, blank=True)
    action = models.CharField(_("acción"), max_length=40)
    content_type = models.ForeignKey(
        ContentType,
        verbose_name=_("tipo"),
        on_delete=models.PROTECT,
        db_constraint=False,
        db_index=False,  # audit_by_object leads with it
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
        # Newest first by id, which grows with time: the lists read an index, never sort.
        # Three indexes besides the key (an object's trail, an ISP's list, and the actor's,
        # which deleting a login checks): a contract import writes a row per contract.
        ordering = ["-pk"]
        indexes = [
            models.Index(fields=["content_type", "object_id", "-id"], name="audit_by_object"),
            models.Index(fields=["provider", "-id"], name="audit_by_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"


class OutboxMessage(models.Model):
    """Work for the worker, written in the same transaction as what it follows (core.outbox).

    The row is the message: what Celery carries is only its id, so a code or a link in
    the payload never sits in Redis. The row is deleted once the work is done.
    """

    task = models.CharField(_("tarea"), max_length=100)
    kwargs = models.JSONField(_("argumentos"), default=dict)
    created_at = models.DateTimeField(_("creado el"), auto_now_add=True)
    # Set when handed to Celery; a row published long ago and still here is handed again.
    published_at = models.DateTimeField(_("publicado el"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("intentos"), default=0)
    last_error = models.CharField(_("último error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("mensaje pendiente")
        verbose_name_plural = _("mensajes pendientes")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.task} #{self.pk}"

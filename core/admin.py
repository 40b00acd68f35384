"""The staff side's one tenancy rule and its audit, for every ModelAdmin and admin view.

`TenantAdminMixin` (and `TenantAdmin`, the ModelAdmin built on it) limits to the staff
member's ISP (`core.tenancy.rows_for_staff`) everything an admin shows or accepts: the
list, search and filters, the object pages (another ISP's object is a 404, not a
redirect that says it exists), the choices of every foreign key and many-to-many field,
raw-id lookups and their labels, autocomplete, and the admin's own custom views, which
resolve ids through `get_object`. Every object saved or deleted through an admin form
leaves an audit row with the values before and after, and each object's page lists its
audit trail. A test walks every registered admin (tests/core/test_staff_tenancy.py):
an admin without this mixin fails it.
"""

from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy as _

from .audit import (
    ACTION_LABELS,
    CHANGE_LABELS,
    audit_action,
    audit_action_label,
    audit_changes,
    audit_entries_record,
    audit_entry_new,
)
from .models import AuditEntry
from .tenancy import rows_for_staff, staff_is_platform, tenant_path
from .text import CONTROL_CHARACTERS

ADMIN_CREATED = audit_action("admin.created", _("Creado en la administración"))
ADMIN_CHANGED = audit_action("admin.changed", _("Modificado en la administración"))
ADMIN_DELETED = audit_action("admin.deleted", _("Eliminado en la administración"))
HIDDEN_VALUE = "(oculto)"
AUDIT_TRAIL_LIMIT = 50


class TenantRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id input whose label names the object only when the staff member may see it:
    an id typed for another ISP's row shows nothing."""

    def __init__(self, rel, admin_site, *, queryset, **kwargs):
        super().__init__(rel, admin_site, **kwargs)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.queryset.filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):  # a malformed id
            visible = False
        return super().label_and_url_for_value(value) if visible else ("", "")


def _is_tenant_model(model) -> bool:
    path = tenant_path(model)
    return path is not None and path.lookup == "pk"


class TenantFieldsMixin:
    """Foreign-key and many-to-many choices limited to what the staff member may see."""

    def _choices(self, db_field, request, kwargs):
        """The field's choices (those given, the related admin's, or every row), limited."""
        queryset = kwargs.get("queryset")
        if queryset is None:
            queryset = self.get_field_queryset(kwargs.get("using"), db_field, request)
        if queryset is None:
            queryset = db_field.remote_field.model._default_manager.all()
        return rows_for_staff(queryset, user=request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._choices(db_field, request, kwargs)
        if _is_tenant_model(db_field.remote_field.model) and not staff_is_platform(request.user):
            # Staff of one ISP: their ISP is the only choice, already chosen.
            kwargs["empty_label"] = None
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and type(field.widget) is ForeignKeyRawIdWidget:
            field.widget = TenantRawIdWidget(
                db_field.remote_field,
                self.admin_site,
                queryset=kwargs["queryset"],
                using=kwargs.get("using"),
            )
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = self._choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TenantInlineMixin(TenantFieldsMixin):
    """For inlines: their rows are the parent's, which is already the staff member's."""

    def get_queryset(self, request):
        return rows_for_staff(super().get_queryset(request), user=request.user)


class TenantAdminMixin(TenantFieldsMixin):
    """Everything of one ModelAdmin limited to the staff member's ISP, and audited."""

    # Form fields whose values never go in the audit trail (only that they changed).
    audit_hidden_fields: tuple[str, ...] = ("password",)

    def get_queryset(self, request):
        return rows_for_staff(super().get_queryset(request), user=request.user)

    def get_object(self, request, object_id, from_field=None):
        """Another ISP's object, or one that does not exist: 404 alike."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404
        return obj

    def _tenant_field(self) -> str | None:
        """The row's own `provider` field, when the ISP is named right on the row."""
        path = tenant_path(self.model)
        return "provider" if path is not None and path.lookup == "provider" else None

    def get_search_results(self, request, queryset, search_term):
        # A NUL typed or pasted in the search box is refused by PostgreSQL: search
        # without the control characters.
        search_term = CONTROL_CHARACTERS.sub("", search_term)
        return super().get_search_results(request, queryset, search_term)

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        if staff_is_platform(request.user):
            return columns
        # One ISP's staff need no column that always says their ISP.
        return [column for column in columns if column != self._tenant_field()]

    def get_list_filter(self, request):
        filters = []
        platform = staff_is_platform(request.user)
        for entry in super().get_list_filter(request):
            name = entry if isinstance(entry, str) else None
            if name is not None and _is_relation(self.model, name):
                if name == self._tenant_field() and not platform:
                    continue
                # Only the related rows that appear in this (already limited) list.
                filters.append((name, admin.RelatedOnlyFieldListFilter))
            else:
                filters.append(entry)
        return filters

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if self._tenant_field() and request.user.provider_id:
            initial.setdefault("provider", request.user.provider_id)
        return initial

    # The audit of every form save: before in save_model, after in save_related (both in
    # the admin's transaction), one row per save.

    def save_model(self, request, obj, form, change):
        request._audit_before = self._audit_snapshot(obj, form)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(request, "_audit_before", {})
        after = self._audit_snapshot(obj, form)
        changes = audit_changes(before, after)
        for name in self.audit_hidden_fields:
            if name in changes:
                changes[name] = [HIDDEN_VALUE, HIDDEN_VALUE]
        note = self.audit_note(request, form)
        if change and not changes and not note:
            return
        audit_entries_record(
            entries=[
                audit_entry_new(
                    action=ADMIN_CHANGED if change else ADMIN_CREATED,
                    actor=request.user,
                    target=obj,
                    changes=changes,
                    note=note,
                )
            ]
        )

    def audit_note(self, request, form) -> str:
        """More to say in a save's audit row (secrets replaced, say)."""
        return ""

    def _audit_snapshot(self, obj, form) -> dict[str, object]:
        """The stored values of the form's model fields ({} for an object not saved yet)."""
        stored = type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk else None
        if stored is None:
            return {}
        snapshot = {}
        for name in form.fields:
            field = _model_field(self.model, name)
            if field is None:
                continue
            if field.many_to_many:
                snapshot[name] = [str(item) for item in getattr(stored, name).all()]
            else:
                snapshot[name] = getattr(stored, name)
        return snapshot

    def delete_model(self, request, obj):
        entry = audit_entry_new(action=ADMIN_DELETED, actor=request.user, target=obj)
        super().delete_model(request, obj)
        audit_entries_record(entries=[entry])

    def delete_queryset(self, request, queryset):
        # The admin's delete action runs outside a transaction: rows and audit go together.
        with transaction.atomic():
            entries = [
                audit_entry_new(action=ADMIN_DELETED, actor=request.user, target=obj)
                for obj in queryset
            ]
            super().delete_queryset(request, queryset)
            audit_entries_record(entries=entries)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "audit_entries": audit_trail_for(request, obj),
        }
        return super().change_view(request, object_id, form_url, extra_context)


class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    """The ModelAdmin every admin of Antena's models is built on."""


def audit_trail_for(request: HttpRequest, obj: models.Model) -> list[AuditEntry]:
    """The latest audit rows about one object, newest first, for staff who may read the
    audit (an agent reading a contract does not see who changed it, from which IP)."""
    if not request.user.has_perm("core.view_auditentry"):
        return []
    from django.contrib.contenttypes.models import ContentType

    entries = list(
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
        ).select_related("actor")[:AUDIT_TRAIL_LIMIT]
    )
    for entry in entries:
        entry.action_label = audit_action_label(entry.action)
        entry.change_lines = _change_lines(entry, type(obj))
    return entries


def _change_lines(entry: AuditEntry, model) -> list[tuple[str, str, str]]:
    """(field label, before, after) of each change, in the reader's language."""
    lines = []
    for name, (before, after) in entry.changes.items():
        try:
            label = str(model._meta.get_field(name).verbose_name)
        except (AttributeError, FieldDoesNotExist):  # no model, or no field of that name
            label = str(CHANGE_LABELS.get(name, name))
        lines.append((label, before or "—", after or "—"))
    return lines


def _is_relation(model, name: str) -> bool:
    try:
        return model._meta.get_field(name).is_relation
    except FieldDoesNotExist:  # a lookup path, a method
        return False


def _model_field(model, name: str):
    """The concrete or many-to-many field `name` of `model`, else None."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if field.concrete or field.many_to_many else None


class ActionListFilter(admin.SimpleListFilter):
    title = _("acción")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return sorted(
            ((action, str(label)) for action, label in ACTION_LABELS.items()),
            key=lambda choice: choice[1],
        )

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantAdmin):
    """«Auditoría»: every audited write of the staff member's ISP; nothing is edited."""

    list_display = [
        "created_at",
        "provider",
        "actor",
        "action_display",
        "object_repr",
        "changes_display",
    ]
    list_filter = [ActionListFilter, "channel", "created_at", "content_type", "provider"]
    list_select_related = ["actor", "provider", "content_type"]
    search_fields = ["object_repr", "note", "actor__username", "=ip_address"]

    @admin.display(description=_("acción"), ordering="action")
    def action_display(self, entry: AuditEntry) -> str:
        return audit_action_label(entry.action)

    @admin.display(description=_("cambios"))
    def changes_display(self, entry: AuditEntry) -> str:
        model = entry.content_type.model_class() if entry.content_type else None
        lines = _change_lines(entry, model)
        text = "; ".join(f"{label}: {before} → {after}" for label, before, after in lines)
        return f"{text} · {entry.note}" if text and entry.note else text or entry.note

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _periodic_jobs_admin() -> None:
    """django-celery-beat's admin (jobs to see, pause and run now), behind the tenancy
    rule: jobs run for every ISP at once, so only platform staff reach them."""
    from django_celery_beat import admin as beat_admin
    from django_celery_beat import models as beat_models

    for model, model_admin in (
        (beat_models.PeriodicTask, beat_admin.PeriodicTaskAdmin),
        (beat_models.ClockedSchedule, beat_admin.ClockedScheduleAdmin),
        (beat_models.CrontabSchedule, beat_admin.CrontabScheduleAdmin),
        (beat_models.SolarSchedule, beat_admin.SolarScheduleAdmin),
        (beat_models.IntervalSchedule, beat_admin.IntervalScheduleAdmin),
    ):
        inlines = [
            type(inline.__name__, (TenantInlineMixin, inline), {}) for inline in model_admin.inlines
        ]
        admin.site.unregister(model)
        admin.site.register(
            model,
            type(model_admin.__name__, (TenantAdminMixin, model_admin), {"inlines": inlines}),
        )


_periodic_jobs_admin()

"""The audit helper: every service that makes a write that matters records it here.

`audit_entry_new` makes a row (who, what, which object, the values before and after,
why) and `audit_entries_record` appends many at once, in the caller's transaction, so a
bulk path (a contract import, a settlement file) records each row it changed at the cost
of one more insert. Where the change came from (the admin, the subscriber's portal, a
command, the worker) and the client's IP come from `audit_context`, which the
middleware opens for every request and commands open for themselves; the worker is the
default. Actions are registered with a label (`audit_action`), so staff read
«Factura anulada», not a code.

Values are kept as text. Secrets are never passed here: a service records that a
credential was replaced, by name, never its value.
"""

import contextlib
import contextvars
import datetime
import decimal
from collections.abc import Iterator, Sequence

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.utils.functional import Promise

from .bulk import rows_insert
from .models import AuditEntry
from .ratelimits import client_ip
from .tenancy import tenant_id_of

Channel = AuditEntry.Channel

ACTION_LABELS: dict[str, Promise | str] = {}


def audit_action(action: str, label: Promise | str) -> str:
    """Register an action with the label staff read; returns the action."""
    ACTION_LABELS[action] = label
    return action


def audit_action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


# Labels of what a change names that is no model field (a hold placed on a contract).
CHANGE_LABELS: dict[str, Promise | str] = {}


def audit_change_label(name: str, label: Promise | str) -> str:
    """Register the label staff read for a change that is not a model field's."""
    CHANGE_LABELS[name] = label
    return name


_context: contextvars.ContextVar[tuple[str, object]] = contextvars.ContextVar(
    "audit_context", default=(Channel.WORKER, None)
)


@contextlib.contextmanager
def audit_context(*, channel: str, request=None) -> Iterator[None]:
    """Writes inside this block came through `channel`, from `request`'s client."""
    token = _context.set((channel, request))
    try:
        yield
    finally:
        _context.reset(token)


def _client_ip(request) -> str | None:
    """Once per request: an import audits thousands of rows from one client."""
    if request is None:
        return None
    if not hasattr(request, "_antena_client_ip"):
        request._antena_client_ip = client_ip(request)
    return request._antena_client_ip


def audit_value(value: object) -> str | None:
    """A value as the audit keeps it: text, dates in ISO 8601, objects by their name."""
    if value is None:
        return None
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | int | float | bool):
        return str(value)
    if isinstance(value, Model):
        return str(value)[:200]
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(sorted(str(item) for item in value))
    return str(value)


def audit_changes(before: dict[str, object], after: dict[str, object]) -> dict[str, list]:
    """{field: [before, after]} of the fields whose value differs."""
    changes = {}
    for name, new in after.items():
        old = before.get(name)
        if audit_value(old) != audit_value(new):
            changes[name] = [audit_value(old), audit_value(new)]
    return changes


def audit_entry_new(
    *,
    action: str,
    actor: Model | None,
    target: Model | None = None,
    provider_id: int | None = None,
    changes: dict[str, list] | None = None,
    note: str = "",
    target_repr: str | None = None,
) -> AuditEntry:
    """One audit row, not yet written: `audit_entries_record` appends it.

    `provider_id` defaults to the target's own ISP (core.tenancy.tenant_id_of).
    """
    channel, request = _context.get()
    if provider_id is None and target is not None:
        provider_id = tenant_id_of(target)
    return AuditEntry(
        provider_id=provider_id,
        actor_id=actor.pk if actor is not None and actor.pk is not None else None,
        channel=channel,
        ip_address=_client_ip(request),
        action=action,
        content_type_id=(
            ContentType.objects.get_for_model(target).pk if target is not None else None
        ),
        object_id=str(target.pk) if target is not None else "",
        object_repr=(target_repr if target_repr is not None else str(target or ""))[:200],
        changes={
            name: [audit_value(before), audit_value(after)]
            for name, (before, after) in (changes or {}).items()
        },
        note=note[:500],
    )


def audit_entries_record(*, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
    """Append audit rows made by `audit_entry_new`, in order, in one insert."""
    return rows_insert(AuditEntry, objects=entries)

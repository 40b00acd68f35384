"""One way to tell a subscriber (DESIGN.md): `notifications_send` writes each message once
per event and channel, in the caller's transaction, for the channels the subscriber keeps;
the worker sends what is due (`notifications_deliver`), never between 21:00 and 08:00
where the ISP is (held until 08:00)."""

import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from accounts.models import Contract, Provider, User
from accounts.sms import sms_send
from core.audit import audit_action, audit_entries_record, audit_entry_new
from core.bulk import rows_insert
from core.locks import rows_locked
from core.outbox import outbox_enqueue, outbox_task

from .models import Channel, ChannelPreference, Kind, MessageTemplate, Notification
from .texts import default_text, text_filled

logger = logging.getLogger(__name__)

QUIET_FROM = datetime.time(21, 0)
QUIET_UNTIL = datetime.time(8, 0)
DELIVER_BATCH = 500


@dataclass(frozen=True)
class Message:
    """What to tell one contract's holder: `event` names what it tells, so that it is
    told once (`payment:42`, `reminder:2026-12-01:3`)."""

    contract_id: int
    kind: str
    event: str
    values: dict[str, str] = field(default_factory=dict)
    # For a reminder: not sent once the contract is paid past this date.
    covers_until: datetime.date | None = None
    # Not sent before then (invitations are paced); quiet hours still apply.
    not_before: datetime.datetime | None = None


def quiet_hours_end(*, provider: Provider, now: datetime.datetime) -> datetime.datetime:
    """`now`, or 08:00 where the ISP is when `now` falls between 21:00 and 08:00."""
    local = timezone.localtime(now, provider.tzinfo)
    if QUIET_UNTIL <= local.time() < QUIET_FROM:
        return now
    day = local.date() if local.time() < QUIET_UNTIL else local.date() + datetime.timedelta(1)
    return datetime.datetime.combine(day, QUIET_UNTIL, tzinfo=provider.tzinfo)


def notifications_send(*, messages: Sequence[Message], now: datetime.datetime | None = None) -> int:
    """Write the messages for every channel the holder keeps and has an address on, and
    have those due sent after the commit; a message already written for its event and
    channel is not written again. Returns how many were written."""
    if not messages:
        return 0
    now = now or timezone.now()
    contract_ids = {message.contract_id for message in messages}
    details = {
        row[0]: row[1:]
        for row in Contract.objects.filter(pk__any=contract_ids).values_list(
            "pk", "provider_id", "phone", "email", "user_id", "user__email", "number", "holder_name"
        )
    }
    providers = Provider.objects.in_bulk({row[0] for row in details.values()})
    templates = {
        (template.provider_id, template.kind): template.text
        for template in MessageTemplate.objects.filter(provider_id__in=list(providers))
    }
    preferences = {
        preference.user_id: preference
        for preference in ChannelPreference.objects.filter(
            user_id__in=[row[3] for row in details.values() if row[3]]
        )
    }
    already = set(
        Notification.objects.filter(
            contract_id__any=contract_ids,
            event__any={message.event[:80] for message in messages},
        ).values_list("contract_id", "event", "channel")
    )
    send_after = {
        provider_id: quiet_hours_end(provider=provider, now=now)
        for provider_id, provider in providers.items()
    }
    rows = []
    for message in messages:
        provider_id, phone, email, user_id, user_email, number, holder = details[
            message.contract_id
        ]
        provider = providers[provider_id]
        text = templates.get((provider_id, message.kind)) or default_text(
            kind=message.kind, locale=provider.locale
        )
        body = text_filled(
            text, {"isp": provider.name, "contrato": number, "titular": holder, **message.values}
        )
        preference = preferences.get(user_id) or ChannelPreference()
        phone = str(phone or "")
        addresses = {
            Channel.SMS: phone if preference.sms else "",
            Channel.EMAIL: (email or user_email or "") if preference.email else "",
            Channel.WHATSAPP: phone if preference.whatsapp and settings.WHATSAPP_BACKEND else "",
        }
        rows.extend(
            Notification(
                provider_id=provider_id,
                contract_id=message.contract_id,
                kind=message.kind,
                event=message.event[:80],
                channel=channel,
                to=address,
                body=body,
                send_after=(
                    quiet_hours_end(provider=provider, now=message.not_before)
                    if message.not_before and message.not_before > now
                    else send_after[provider_id]
                ),
                covers_until=message.covers_until,
                created_at=now,
            )
            for channel, address in addresses.items()
            if address and (message.contract_id, message.event[:80], channel) not in already
        )
    # Written at once (COPY on PostgreSQL). Told twice in one call, a message is written
    # once; by two calls at the same moment, the unique key refuses the second.
    rows = list({(row.contract_id, row.event, row.channel): row for row in rows}.values())
    rows_insert(Notification, objects=rows)
    if any(row.send_after <= now for row in rows):
        outbox_enqueue(task=notifications_deliver_now, kwargs={})
    return len(rows)


def notifications_withdraw(*, events: Sequence[tuple[int, str]]) -> int:
    """Those not sent yet of the (contract id, event prefix) pairs given are no longer
    needed (an invoice paid before its reminder went out); returns how many."""
    if not events:
        return 0
    told = Q()
    for contract_id, prefix in events:
        told |= Q(contract_id=contract_id, event__startswith=prefix)
    return Notification.objects.filter(told, status=Notification.Status.PENDING).update(
        status=Notification.Status.SKIPPED
    )


@outbox_task
def notifications_deliver_now() -> None:
    notifications_deliver()


def notifications_deliver(*, now: datetime.datetime | None = None) -> int:
    """Send the messages that are due, each once: taken under a row lock that another
    worker skips. A reminder whose vigencia was paid meanwhile is not sent. Returns how
    many were sent."""
    now = now or timezone.now()
    sent = 0
    due = Notification.objects.filter(status=Notification.Status.PENDING, send_after__lte=now)
    for notification_id in list(due.order_by("pk").values_list("pk", flat=True)[:DELIVER_BATCH]):
        with transaction.atomic():
            notification = (
                rows_locked(Notification.objects.filter(pk=notification_id), skip_locked=True)
                .select_related("contract")
                .first()
            )
            if notification is None or notification.status != Notification.Status.PENDING:
                continue
            status, error = _delivered(notification)
            Notification.objects.filter(pk=notification.pk).update(
                status=status,
                error=error,
                sent_at=timezone.now() if status == Notification.Status.SENT else None,
            )
            sent += status == Notification.Status.SENT
    return sent


def _delivered(notification: Notification) -> tuple[str, str]:
    covers_until = notification.covers_until
    paid_until = notification.contract.paid_until
    if covers_until is not None and paid_until is not None and paid_until > covers_until:
        return Notification.Status.SKIPPED, ""
    try:
        if notification.channel == Channel.SMS:
            sms_send(to=notification.to, body=notification.body)
        elif notification.channel == Channel.EMAIL:
            send_mail(
                subject=notification.get_kind_display().capitalize(),
                message=notification.body,
                from_email=None,
                recipient_list=[notification.to],
            )
        else:
            import_string(settings.WHATSAPP_BACKEND)().send(
                to=notification.to, body=notification.body
            )
    except Exception as error:  # noqa: BLE001 (any backend's failure is recorded, not raised)
        # The error's kind only: its text may hold the message.
        logger.warning(
            "notification %s not sent on %s: %s",
            notification.pk,
            notification.channel,
            type(error).__name__,
        )
        return Notification.Status.FAILED, type(error).__name__[:200]
    return Notification.Status.SENT, ""


INVITED = audit_action("contract.invited", _("invitación a crear la cuenta"))


def contracts_invite(
    *,
    contract_ids: Sequence[int],
    again: bool,
    actor: User | None,
    now: datetime.datetime | None = None,
) -> int:
    """Tell each active, unclaimed contract with a phone its number and its ISP's portal
    (by SMS, and e-mail when it has one), once per contract unless `again` (sent by
    hand), paced at INVITATIONS_PER_MINUTE after those still waiting, never at night.
    Recorded on the contract (`invited_at`) and audited. Returns how many were invited."""
    now = now or timezone.now()
    with transaction.atomic():
        contracts = _invitable_locked(contract_ids=contract_ids, again=again)
        messages = _invitations(contracts=contracts, again=again, now=now)
        _invitations_write(contracts=contracts, messages=messages, actor=actor, now=now)
    return len(contracts)


def _invitable_locked(*, contract_ids: Sequence[int], again: bool) -> list[Contract]:
    contracts = (
        Contract.objects.filter(
            pk__any=list(contract_ids), user__isnull=True, status=Contract.Status.ACTIVE
        )
        .exclude(phone="")
        .select_related("provider")
    )
    if not again:
        contracts = contracts.filter(invited_at__isnull=True)
    return list(rows_locked(contracts))


def _invitations(
    *, contracts: list[Contract], again: bool, now: datetime.datetime
) -> list[Message]:
    """One message each, an ISP's leaving one pace apart after its last invitation still
    waiting, and those that would fall at night from 08:00 on, still paced."""
    pace = datetime.timedelta(minutes=1) / max(1, settings.INVITATIONS_PER_MINUTE)
    last = dict(
        Notification.objects.filter(
            kind=Kind.INVITATION,
            status=Notification.Status.PENDING,
            provider_id__in={contract.provider_id for contract in contracts},
        )
        .values("provider_id")
        .annotate(last=Max("send_after"))
        .values_list("provider_id", "last")
    )
    messages = []
    for contract in contracts:
        provider = contract.provider
        previous = last.get(provider.pk)
        at = quiet_hours_end(provider=provider, now=max(now, previous + pace) if previous else now)
        last[provider.pk] = at
        messages.append(
            Message(
                contract_id=contract.pk,
                kind=Kind.INVITATION,
                # Once per contract; sent again by hand, a new event.
                event=f"invitation:{now.isoformat()}" if again else "invitation",
                values={"enlace": provider.portal_url("/cuenta/crear/")},
                not_before=at,
            )
        )
    return messages


def _invitations_write(
    *,
    contracts: list[Contract],
    messages: list[Message],
    actor: User | None,
    now: datetime.datetime,
) -> None:
    notifications_send(messages=messages, now=now)
    Contract.objects.filter(pk__any=[contract.pk for contract in contracts]).update(invited_at=now)
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=INVITED,
                actor=actor,
                target=contract,
                changes={
                    "invited_at": [
                        contract.invited_at.isoformat() if contract.invited_at else None,
                        now.isoformat(),
                    ]
                },
            )
            for contract in contracts
        ]
    )
    logger.info("contracts invited count=%s", len(contracts))


def channel_preferences_set(*, user, channels: dict[str, bool]) -> ChannelPreference:
    """A subscriber's choice of channels (Mi cuenta); channels not named keep theirs."""
    allowed = {Channel.SMS, Channel.EMAIL, Channel.WHATSAPP}
    preference, _created = ChannelPreference.objects.update_or_create(
        user=user, defaults={name: value for name, value in channels.items() if name in allowed}
    )
    logger.info("channel preferences set user_id=%s", user.pk)
    return preference

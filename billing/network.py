"""Telling the ISP's network of service changes: its webhook (Standard Webhooks) and its
MikroTik routers.

Each service change becomes one `NetworkDelivery` per place that must hear it, written
in the transaction that recorded the change, with its body fixed then. The worker sends
them (`network_deliveries_send`), right after the commit through the outbox and every
minute from the beat: per place, oldest first, stopping at the first that fails, so a
router never hears "reactivated" before the "suspended" that came first. A failure is
tried again after growing waits, NETWORK_DELIVERY_ATTEMPTS times within
NETWORK_DELIVERY_SPAN seconds; then it is left as failed, for staff to resend from the
admin. A delivery is taken by a short lease before it is sent, so two workers never send
it at once; one that dies while sending leaves it to be sent again when the lease runs
out (receivers tell repeats by `webhook-id`).
"""

import base64
import datetime
import ipaddress
import json
import logging
import secrets
import uuid
from collections.abc import Sequence

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy
from standardwebhooks.webhooks import Webhook

from accounts.models import Contract, Provider
from core.audit import audit_action, audit_entries_record, audit_entry_new
from core.bulk import rows_insert
from core.crypto import SecretsUnreadable
from core.outbox import outbox_enqueue, outbox_task

from .models import NetworkDelivery, NetworkHook, Router, ServiceChange
from .routeros import RouterAccess, RouterError, router_event_apply

logger = logging.getLogger(__name__)

DELIVERY_RESENT = audit_action("network.resent", gettext_lazy("Evento reenviado a la red"))

# A delivery being sent is not taken by another worker for this long.
LEASE = datetime.timedelta(seconds=60)
TIMEOUT_SECONDS = 10
BATCH = 200

STATUS_NAMES = {
    Contract.Status.ACTIVE: "active",
    Contract.Status.SUSPENDED: "suspended",
    Contract.Status.CANCELLED: "cancelled",
}


def network_secret_new() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def network_event_body(*, change: ServiceChange) -> dict:
    """The event as the ISP's network receives it (README, "ISP network events"): from
    the change (with its contract, ISP and plan loaded), the same on every retry but for
    the contract's IP address, which is the current one."""
    plan = change.plan_to
    return {
        "type": change.event,
        "timestamp": change.created_at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": {
            "provider": change.contract.provider.code,
            "contract": change.contract.number,
            "status": STATUS_NAMES[change.status_to],
            "reason": change.reason,
            "plan": {
                "name": plan.name,
                "download_mbps": plan.download_mbps,
                "upload_mbps": plan.upload_mbps,
            },
            "paid_until": change.paid_until.isoformat() if change.paid_until else None,
            "ip_address": change.contract.ip_address,
        },
    }


def network_deliveries_new(*, provider: Provider, changes: Sequence[ServiceChange]) -> int:
    """Write what the ISP's network must hear of `changes` (recorded already), and have it
    sent after the commit. A router hears only of contracts with an IPv4 address."""
    if not changes:
        return 0
    hook = NetworkHook.objects.filter(provider=provider, is_active=True).first()
    routers = {
        router.zone_id: router
        for router in Router.objects.filter(provider=provider, is_active=True)
    }
    if hook is None and not routers:
        return 0
    contracts = {}
    if routers:
        contracts = {
            pk: (ip_address, zone_id)
            for pk, ip_address, zone_id in Contract.objects.filter(
                pk__any={change.contract_id for change in changes}
            ).values_list("pk", "ip_address", "zone_id")
        }
    deliveries = []
    for change in changes:
        if hook is not None:
            deliveries.append(_delivery_new(change, provider=provider, hook_id=hook.pk))
        if routers:
            ip_address, zone_id = contracts[change.contract_id]
            router = routers.get(zone_id) or routers.get(None)
            # Address lists and queues are told IPv4 addresses (RouterOS keeps IPv6 apart).
            if router and ip_address and ipaddress.ip_address(ip_address).version == 4:
                deliveries.append(_delivery_new(change, provider=provider, router_id=router.pk))
    rows_insert(NetworkDelivery, objects=deliveries)
    if deliveries:
        outbox_enqueue(task=network_deliveries_send_soon, kwargs={"provider_id": provider.pk})
    return len(deliveries)


def _delivery_new(change: ServiceChange, *, provider: Provider, **place) -> NetworkDelivery:
    return NetworkDelivery(
        provider_id=provider.pk,
        change_id=change.pk,
        uuid=uuid.uuid4(),
        next_attempt_at=change.created_at,
        created_at=change.created_at,
        **place,
    )


@outbox_task
def network_deliveries_send_soon(*, provider_id: int) -> None:
    """Send an ISP's deliveries now (right after the change's commit)."""
    network_deliveries_send(provider_id=provider_id)


def network_retry_wait(*, attempts: int) -> datetime.timedelta:
    """The wait after the `attempts`-th failure: doubling each time, the waits between the
    NETWORK_DELIVERY_ATTEMPTS attempts adding up to NETWORK_DELIVERY_SPAN seconds."""
    total = settings.NETWORK_DELIVERY_ATTEMPTS
    first = settings.NETWORK_DELIVERY_SPAN / max(1, 2 ** (total - 1) - 1)
    return datetime.timedelta(seconds=first * 2 ** (attempts - 1))


def network_deliveries_send(
    *, provider_id: int | None = None, now: datetime.datetime | None = None
) -> int:
    """Send the deliveries that are due, oldest first per place; returns how many were
    taken. Safe beside another run: each delivery is leased before it is sent."""
    now = now or timezone.now()
    pending = NetworkDelivery.objects.filter(status=NetworkDelivery.Status.PENDING)
    if provider_id is not None:
        pending = pending.filter(provider_id=provider_id)
    places = pending.order_by().values_list("hook_id", "router_id").distinct()
    delivered = 0
    # Each place on its own: one that fails does not hold back another.
    for hook_id, router_id in list(places):
        deliveries = (
            pending.filter(hook_id=hook_id, router_id=router_id)
            .select_related("hook", "router", "change__plan_to", "change__contract__provider")
            .order_by("pk")[:BATCH]
        )
        for delivery in deliveries:
            if delivery.next_attempt_at > now or not _leased(delivery, now=now):
                break  # its place waits: what comes after it must not overtake it
            if _delivered(delivery):
                delivered += 1
                continue
            delivery.refresh_from_db(fields=["status"])
            if delivery.status == NetworkDelivery.Status.PENDING:
                break  # to be tried again: the place waits with it
    return delivered


@transaction.atomic
def network_deliveries_resend(*, deliveries: Sequence[NetworkDelivery], actor) -> int:
    """Staff's "reenviar": send these again, as new, from now; audited."""
    ids = [delivery.pk for delivery in deliveries]
    count = NetworkDelivery.objects.filter(pk__any=ids).update(
        status=NetworkDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    audit_entries_record(
        entries=[
            audit_entry_new(
                action=DELIVERY_RESENT,
                actor=actor,
                target=delivery,
                note=delivery.change.event,
            )
            for delivery in deliveries
        ]
    )
    for provider_id in {delivery.provider_id for delivery in deliveries}:
        outbox_enqueue(task=network_deliveries_send_soon, kwargs={"provider_id": provider_id})
    return count


def _leased(delivery: NetworkDelivery, *, now: datetime.datetime) -> bool:
    """Take the delivery for LEASE, unless another worker took it first."""
    taken = NetworkDelivery.objects.filter(
        pk=delivery.pk, status=NetworkDelivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + LEASE)
    delivery.attempts += 1
    return taken == 1


def _delivered(delivery: NetworkDelivery) -> bool:
    """Send one leased delivery and record the outcome."""
    place = delivery.hook or delivery.router
    hopeless = False
    try:
        if not place.is_active:
            raise ValueError("the destination is no longer active")
        send = _webhook_post if delivery.hook is not None else _router_tell
        result = send(delivery)
        ok = True
    except ValueError as error:
        # What no retry mends (a deactivated place, a plan of 0 Mb): failed at once.
        ok, hopeless, result = False, True, str(error)[:200]
    except (requests.RequestException, RouterError, SecretsUnreadable, NetworkRefused) as error:
        ok, result = False, str(error)[:200]
    now = timezone.now()
    if ok:
        NetworkDelivery.objects.filter(pk=delivery.pk).update(
            status=NetworkDelivery.Status.DELIVERED, delivered_at=now, last_result=result
        )
        return True
    gave_up = hopeless or delivery.attempts >= settings.NETWORK_DELIVERY_ATTEMPTS
    NetworkDelivery.objects.filter(pk=delivery.pk).update(
        status=NetworkDelivery.Status.FAILED if gave_up else NetworkDelivery.Status.PENDING,
        next_attempt_at=now + network_retry_wait(attempts=delivery.attempts),
        last_result=result,
    )
    log = logger.error if gave_up else logger.warning
    log(
        "network delivery %s failed (attempt %s%s): %s",
        delivery.message_id,
        delivery.attempts,
        ", given up" if gave_up else "",
        result,
    )
    return False


class NetworkRefused(Exception):  # noqa: N818 (the receiver's answer, not our error)
    """The ISP's endpoint answered, but not with a 2xx."""


def _webhook_post(delivery: NetworkDelivery) -> str:
    body = json.dumps(
        network_event_body(change=delivery.change), separators=(",", ":"), ensure_ascii=False
    )
    sent_at = timezone.now()
    signature = Webhook(delivery.hook.secret).sign(
        msg_id=delivery.message_id, timestamp=sent_at, data=body
    )
    response = requests.post(
        delivery.hook.url,
        data=body.encode(),
        headers={
            "content-type": "application/json",
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature,
        },
        timeout=TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    if not 200 <= response.status_code < 300:
        raise NetworkRefused(f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"


def _router_tell(delivery: NetworkDelivery) -> str:
    router = delivery.router
    event = network_event_body(change=delivery.change)
    data = event["data"]
    router_event_apply(
        access=RouterAccess(
            host=router.host,
            port=router.port,
            username=router.username,
            password=router.password,
            address_list=router.address_list,
            use_tls=router.use_tls,
            timeout=TIMEOUT_SECONDS,
        ),
        event_type=event["type"],
        address=data["ip_address"],
        comment=f"{data['provider']}-{data['contract']}",
        download_mbps=data["plan"]["download_mbps"],
        upload_mbps=data["plan"]["upload_mbps"],
    )
    return "ok"

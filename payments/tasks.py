import datetime
from dataclasses import asdict
from decimal import Decimal

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from .gateways import RemotePayment
from .models import SettlementImport, WebhookDelivery
from .services import payments_expire, webhook_apply
from .settlement import settlement_import_apply


def remote_to_message(remote: RemotePayment) -> dict:
    """JSON-safe: Decimal and datetime as strings, for the broker."""
    data = asdict(remote)
    data["amount"] = str(remote.amount) if remote.amount is not None else None
    data["paid_at"] = remote.paid_at.isoformat() if remote.paid_at else None
    return data


def remote_from_message(data: dict) -> RemotePayment:
    return RemotePayment(
        **{
            **data,
            "amount": Decimal(data["amount"]) if data["amount"] is not None else None,
            "paid_at": datetime.datetime.fromisoformat(data["paid_at"])
            if data["paid_at"]
            else None,
        }
    )


def webhook_credit_queue(*, provider_id: int, gateway: str, fact: RemotePayment, delivery_id: int):
    """Queue the crediting of one verified fact. The task's repr (worker logs, monitors)
    names the event instead of repeating the whole fact, which Celery would otherwise
    build on every call."""
    return webhook_credit.apply_async(
        (provider_id, gateway, remote_to_message(fact), delivery_id),
        argsrepr=f"({provider_id}, {gateway!r}, {fact.event_id!r}, {delivery_id})",
        kwargsrepr="{}",
    )


# Nobody reads its result (the outcome is written on the delivery): not stored in Redis.
@shared_task(acks_late=True, ignore_result=True)
def webhook_credit(provider_id: int, gateway: str, remote: dict, delivery_id: int) -> str:
    """Credit what a verified webhook reported. Idempotent: (gateway, event id) once."""
    fact = remote_from_message(remote)
    outcome = webhook_apply(provider_id=provider_id, gateway=gateway, remote=fact)
    WebhookDelivery.objects.filter(pk=delivery_id).update(
        event_id=fact.event_id[:120],
        outcome=(
            WebhookDelivery.Outcome.DUPLICATE
            if outcome == "duplicate"
            else WebhookDelivery.Outcome.PROCESSED
        ),
        detail=outcome,
    )
    return outcome


@shared_task
def payments_expire_task() -> int:
    return payments_expire()


# The outcome is on the import itself: no result is stored in Redis.
@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=5,
)
def settlement_import_apply_task(settlement_id: int, part: int = 0, parts: int = 1) -> None:
    """Apply a part of an uploaded settlement file. Run twice, it carries on or does nothing."""
    settlement = SettlementImport.objects.select_related("provider").get(pk=settlement_id)
    if settlement.finished_at is None and settlement.upload:
        settlement_import_apply(settlement=settlement, part=part, parts=parts)


def settlement_import_queue(settlement_id: int) -> None:
    """Have the workers apply an uploaded file, in SETTLEMENT_APPLY_PARTS parts at once."""
    parts = max(1, settings.SETTLEMENT_APPLY_PARTS)
    for part in range(parts):
        settlement_import_apply_task.delay(settlement_id, part, parts)

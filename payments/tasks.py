import datetime
from dataclasses import asdict
from decimal import Decimal

from celery import shared_task

from .gateways import RemotePayment
from .services import payments_expire, webhook_apply


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


@shared_task(bind=True, max_retries=10, default_retry_delay=30, acks_late=True)
def webhook_credit(self, provider_id: int, gateway: str, remote: dict) -> str:
    """Credit what a verified webhook reported. Idempotent: (gateway, event id) once."""
    return webhook_apply(
        provider_id=provider_id, gateway=gateway, remote=remote_from_message(remote)
    )


@shared_task
def payments_expire_task() -> int:
    return payments_expire()

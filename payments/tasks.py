from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from core.outbox import outbox_task

from .models import SettlementImport
from .services import payments_expire
from .settlement import settlement_import_apply
from .webhooks import webhook_deliveries_credit, webhook_deliveries_purge

# Acknowledged once done, tried again after a deadlock or a lost connection, and no
# result kept in Redis: nobody reads it (the outcomes are written on the rows).
RETRIED_ON_DATABASE_ERRORS = {
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "max_retries": 5,
}


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def webhook_deliveries_credit_task() -> int:
    """Credit the verified webhook deliveries waiting (payments.webhooks)."""
    return webhook_deliveries_credit()


@shared_task(ignore_result=True)
def webhook_deliveries_purge_task() -> int:
    """Delete the webhook deliveries that never verified, once they are old (a beat job)."""
    return webhook_deliveries_purge()


@shared_task
def payments_expire_task() -> int:
    return payments_expire()


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def settlement_import_apply_task(settlement_id: int, part: int = 0, parts: int = 1) -> None:
    """Apply a part of an uploaded settlement file. Run twice, it carries on or does nothing."""
    settlement = SettlementImport.objects.select_related("provider").get(pk=settlement_id)
    if settlement.finished_at is None and settlement.upload:
        settlement_import_apply(settlement=settlement, part=part, parts=parts)


@outbox_task
def settlement_import_start(*, settlement_id: int) -> None:
    """From the outbox: have the workers apply a received file (settlement_import_queue)."""
    settlement_import_queue(settlement_id)


def settlement_import_queue(settlement_id: int) -> None:
    """Have the workers apply an uploaded file, in SETTLEMENT_APPLY_PARTS parts at once."""
    parts = max(1, settings.SETTLEMENT_APPLY_PARTS)
    for part in range(parts):
        settlement_import_apply_task.delay(settlement_id, part, parts)


@shared_task(ignore_result=True)
def credit_reminders_task() -> int | None:
    """The beat's reminders before credit runs out or an invoice falls due (hourly; each
    written once)."""
    from core.jobs import job_lock

    from .reminders import reminders_send

    with job_lock("credit_reminders") as held:
        return reminders_send() if held else None


@shared_task(ignore_result=True)
def payments_poll_task() -> int | None:
    """The beat's safety net: ask the gateways about payments no webhook reported."""
    from core.jobs import job_lock

    from .poller import payments_poll

    with job_lock("payments_poll") as held:
        return payments_poll() if held else None

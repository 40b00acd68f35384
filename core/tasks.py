from celery import shared_task
from django.db import OperationalError

from .outbox import outbox_relay, outbox_run


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=3,
)
def outbox_run_task(message_id: int) -> None:
    """Do one outbox message's work (core.outbox); a failure is retried, then the relay's."""
    outbox_run(message_id=message_id)


@shared_task(ignore_result=True, autoretry_for=(OperationalError,), max_retries=3)
def outbox_relay_task() -> int:
    """Hand on the outbox messages left waiting (a beat job)."""
    return outbox_relay()

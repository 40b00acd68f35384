from celery import shared_task

from core.jobs import job_lock

from .services import notifications_deliver


@shared_task(ignore_result=True)
def notifications_deliver_task() -> int | None:
    """The beat's sending of messages due (those quiet hours held, those left behind)."""
    with job_lock("notifications_deliver") as held:
        return notifications_deliver() if held else None

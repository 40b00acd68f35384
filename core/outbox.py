"""The outbox: work for the worker that must not be lost when Redis is down.

A service calls `outbox_enqueue(task=…, kwargs=…)` inside its transaction: the row is
written with what it follows (an invoice, a verification code), or not at all. After
the commit it is handed to Celery (only its id); if Redis is down the row waits, and the
beat's relay (`outbox_relay`, every minute) hands on whatever is left once Redis is back,
and again whatever was handed on long ago but never done (a worker that died). The
worker runs the task (`outbox_run`) and deletes the row; a task that fails keeps it, with
the error, for Celery's retries and then the relay's.

Tasks are plain functions registered with `@outbox_task`, taking JSON keyword arguments;
they may run more than once (a crash between the work and the row's deletion), so each
is safe to repeat or its repeat harmless (an SMS sent twice).
"""

import datetime
import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .locks import rows_locked
from .models import OutboxMessage

logger = logging.getLogger(__name__)

# A message handed to Celery this long ago and still waiting is handed again.
REPUBLISH_AFTER = datetime.timedelta(minutes=10)
RELAY_BATCH = 500

_TASKS: dict[str, Callable[..., None]] = {}


def outbox_task(function: Callable[..., None]) -> Callable[..., None]:
    """Register a function the outbox may run, under its dotted name."""
    _TASKS[f"{function.__module__}.{function.__qualname__}"] = function
    return function


def _registered(name: str) -> Callable[..., None] | None:
    """The task registered under `name`, importing its module first if need be (a worker
    process may not have imported it yet)."""
    if name not in _TASKS:
        try:
            import_string(name)
        except ImportError:
            return None
    return _TASKS.get(name)


def outbox_enqueue(*, task: Callable[..., None], kwargs: dict) -> OutboxMessage:
    """Write the work in the caller's transaction; hand it to the worker after commit."""
    name = f"{task.__module__}.{task.__qualname__}"
    if _TASKS.get(name) is not task:
        raise ValueError(f"{name} is not an @outbox_task")
    message = OutboxMessage.objects.create(task=name, kwargs=kwargs)
    transaction.on_commit(lambda: outbox_publish(ids=[message.pk]))
    return message


def outbox_publish(*, ids: Iterable[int]) -> int:
    """Hand messages to Celery; returns how many. With the broker down they wait (logged)."""
    from .tasks import outbox_run_task

    ids = list(ids)
    if outbox_run_task.app.conf.task_always_eager:
        # No broker (`make run`, tests): the work is done here, now; a failure is logged
        # and the row waits, as it would for the worker.
        for message_id in ids:
            try:
                outbox_run(message_id=message_id)
            except Exception:  # noqa: BLE001
                logger.exception("outbox: a task failed; its message waits")
        return len(ids)
    published = []
    for message_id in ids:
        try:
            outbox_run_task.apply_async(args=[message_id])
        except Exception:  # noqa: BLE001 (any broker failure: the rows wait for the relay)
            logger.warning(
                "outbox: broker unreachable; %s message(s) wait", len(ids) - len(published)
            )
            break
        published.append(message_id)
    if published:
        OutboxMessage.objects.filter(pk__in=published, published_at__isnull=True).update(
            published_at=timezone.now()
        )
    return len(published)


def outbox_relay(*, now: datetime.datetime | None = None) -> int:
    """Hand on what waits: never published (Redis was down), or published long ago and
    never done. Returns how many were handed on."""
    now = now or timezone.now()
    waiting = OutboxMessage.objects.filter(
        Q(published_at__isnull=True) | Q(published_at__lt=now - REPUBLISH_AFTER)
    )
    ids = list(waiting.order_by("pk").values_list("pk", flat=True)[:RELAY_BATCH])
    OutboxMessage.objects.filter(pk__in=ids).update(published_at=None)
    return outbox_publish(ids=ids)


def outbox_run(*, message_id: int) -> bool:
    """Do one message's work and delete it; False when there is nothing to do (done
    already, or another worker is on it). An error keeps the row and is raised."""
    failure = None
    with transaction.atomic():
        message = rows_locked(OutboxMessage.objects.filter(pk=message_id), skip_locked=True).first()
        if message is None:
            return False
        task = _registered(message.task)
        try:
            if task is None:
                raise LookupError(f"outbox task {message.task} is not registered")
            with transaction.atomic():
                task(**message.kwargs)
        except Exception as error:  # noqa: BLE001 (kept on the row, raised below)
            failure = error
            # The error's kind only: its text may hold what the payload holds.
            OutboxMessage.objects.filter(pk=message.pk).update(
                attempts=message.attempts + 1, last_error=type(error).__name__[:300]
            )
        else:
            message.delete()
    if failure is not None:
        raise failure
    return True

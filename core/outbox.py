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
# After this many failures a message is no longer tried: it stays, for staff to look at.
MAX_ATTEMPTS = 8
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


class OutboxRestLater(Exception):  # noqa: N818 (not an error: what is left to do)
    """Raised by a task that did part of its work: `kwargs` are what is left, kept on the
    row for the next attempt (an SMS to several phones: the ones not reached yet)."""

    def __init__(self, kwargs: dict) -> None:
        super().__init__("part of the work is left")
        self.kwargs = kwargs


def outbox_enqueue(*, task: Callable[..., None], kwargs: dict) -> OutboxMessage:
    """Write the work in the caller's transaction; hand it to the worker after commit.

    The row is written as handed on already: the worker may start on it before this
    process could note so, and must find nothing of ours locking it.
    """
    name = f"{task.__module__}.{task.__qualname__}"
    if _TASKS.get(name) is not task:
        raise ValueError(f"{name} is not an @outbox_task")
    message = OutboxMessage.objects.create(task=name, kwargs=kwargs, published_at=timezone.now())
    transaction.on_commit(lambda: outbox_publish(ids=[message.pk]))
    return message


def outbox_publish(*, ids: Iterable[int]) -> int:
    """Hand messages (marked handed on already) to Celery; returns how many. With the
    broker down those not handed on are marked waiting, for the relay (logged)."""
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
    for position, message_id in enumerate(ids):
        try:
            outbox_run_task.apply_async(args=[message_id])
        except Exception:  # noqa: BLE001 (any broker failure: the rows wait for the relay)
            left = ids[position:]
            logger.warning("outbox: broker unreachable; %s message(s) wait", len(left))
            OutboxMessage.objects.filter(pk__in=left).update(published_at=None)
            return position
    return len(ids)


def outbox_relay(*, now: datetime.datetime | None = None) -> int:
    """Hand on what waits: never handed on (Redis was down), or handed on long ago and
    never done; not what failed MAX_ATTEMPTS times (left for staff, logged). Returns how
    many were handed on."""
    now = now or timezone.now()
    waiting = OutboxMessage.objects.filter(
        Q(published_at__isnull=True) | Q(published_at__lt=now - REPUBLISH_AFTER),
        attempts__lt=MAX_ATTEMPTS,
    )
    ids = list(waiting.order_by("pk").values_list("pk", flat=True)[:RELAY_BATCH])
    OutboxMessage.objects.filter(pk__in=ids).update(published_at=now)
    return outbox_publish(ids=ids)


def outbox_run(*, message_id: int) -> bool:
    """Do one message's work and delete it; False when there is nothing to do (done
    already, given up, or another worker is on it). An error keeps the row, with what is
    left to do and the error's kind, and is raised."""
    failure = None
    with transaction.atomic():
        message = rows_locked(OutboxMessage.objects.filter(pk=message_id), skip_locked=True).first()
        if message is None or message.attempts >= MAX_ATTEMPTS:
            return False
        task = _registered(message.task)
        kwargs = message.kwargs
        try:
            if task is None:
                raise LookupError(f"outbox task {message.task} is not registered")
            with transaction.atomic():
                task(**message.kwargs)
        except OutboxRestLater as rest:
            failure, kwargs = rest.__cause__ or rest, rest.kwargs
        except Exception as error:  # noqa: BLE001 (kept on the row, raised below)
            failure = error
        if failure is None:
            message.delete()
        else:
            attempts = message.attempts + 1
            # The error's kind only: its text may hold what the payload holds.
            OutboxMessage.objects.filter(pk=message.pk).update(
                kwargs=kwargs, attempts=attempts, last_error=type(failure).__name__[:300]
            )
            if attempts >= MAX_ATTEMPTS:
                logger.error(
                    "outbox: %s #%s failed %s times; left for staff",
                    message.task,
                    message.pk,
                    attempts,
                )
    if failure is not None:
        raise failure
    return True

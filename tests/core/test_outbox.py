"""The outbox: work written with what it follows, done once by the worker, kept on
failure, handed on again by the relay."""

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import OutboxMessage
from core.outbox import outbox_enqueue, outbox_relay, outbox_run, outbox_task

pytestmark = pytest.mark.django_db(transaction=True)

done: list[dict] = []


@outbox_task
def remember(*, value: int) -> None:
    if value < 0:
        raise ValueError("a negative value")
    done.append({"value": value})


@pytest.fixture(autouse=True)
def _forget():
    done.clear()


def test_work_rolled_back_with_its_transaction_is_never_done(outbox_worker_elsewhere):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task=remember, kwargs={"value": 1})
        raise RuntimeError

    assert not OutboxMessage.objects.exists()
    assert not outbox_worker_elsewhere.called


def test_work_is_handed_on_after_commit_and_done_once(outbox_worker_elsewhere):
    with transaction.atomic():
        message = outbox_enqueue(task=remember, kwargs={"value": 7})
        assert not outbox_worker_elsewhere.called

    outbox_worker_elsewhere.assert_called_once_with(args=[message.pk])
    assert outbox_run(message_id=message.pk) is True
    assert outbox_run(message_id=message.pk) is False  # a second delivery of the message
    assert done == [{"value": 7}]
    assert not OutboxMessage.objects.exists()


def test_a_failing_task_keeps_its_message_with_the_error_kind(outbox_worker_elsewhere):
    message = outbox_enqueue(task=remember, kwargs={"value": -1})

    with pytest.raises(ValueError):
        outbox_run(message_id=message.pk)

    message.refresh_from_db()
    assert (message.attempts, message.last_error) == (1, "ValueError")


def test_the_relay_hands_on_what_never_left_and_what_was_lost(outbox_worker_elsewhere):
    outbox_worker_elsewhere.side_effect = ConnectionError("broker down")
    waiting = outbox_enqueue(task=remember, kwargs={"value": 1})
    outbox_worker_elsewhere.side_effect = None
    lost = outbox_enqueue(task=remember, kwargs={"value": 2})
    OutboxMessage.objects.filter(pk=lost.pk).update(
        published_at=timezone.now() - datetime.timedelta(hours=1)
    )
    recent = outbox_enqueue(task=remember, kwargs={"value": 3})
    outbox_worker_elsewhere.reset_mock()

    assert outbox_relay() == 2

    assert sorted(
        call.kwargs["args"][0] for call in outbox_worker_elsewhere.call_args_list
    ) == sorted([waiting.pk, lost.pk])
    assert OutboxMessage.objects.get(pk=recent.pk).published_at is not None


def test_only_registered_functions_can_be_queued():
    def stray(**kwargs):
        pass

    with pytest.raises(ValueError, match="not an @outbox_task"):
        outbox_enqueue(task=stray, kwargs={})


def test_a_message_that_keeps_failing_is_given_up_and_left_for_staff(outbox_worker_elsewhere):
    from core.outbox import MAX_ATTEMPTS

    message = outbox_enqueue(task=remember, kwargs={"value": -1})
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(ValueError):
            outbox_run(message_id=message.pk)
    outbox_worker_elsewhere.reset_mock()

    assert outbox_run(message_id=message.pk) is False
    later = timezone.now() + datetime.timedelta(hours=1)
    assert outbox_relay(now=later) == 0
    assert OutboxMessage.objects.get(pk=message.pk).attempts == MAX_ATTEMPTS


def test_a_message_is_marked_handed_on_before_the_worker_can_see_it(outbox_worker_elsewhere):
    """Nothing of the request's updates the row after the hand-off (which would hold it
    locked while the worker looks for it)."""
    outbox_worker_elsewhere.side_effect = lambda args: None

    message = outbox_enqueue(task=remember, kwargs={"value": 1})

    assert OutboxMessage.objects.get(pk=message.pk).published_at is not None

"""The worker keeps its database connection between tasks, as gunicorn does between
requests: CONN_MAX_AGE and health checks decide, not Celery's close-after-every-task."""

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import task_postrun, task_prerun
from django.db import connection

from portal.celery import app

# On SQLite the test database lives in memory and Django never closes it.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class _Task:
    """What the signal handlers look at of a task (signal senders must be hashable)."""

    def __init__(self, *, eager: bool):
        self.request = SimpleNamespace(is_eager=eager)


def _run_task(task) -> None:
    task_prerun.send(sender=task, task_id="t", task=task, args=(), kwargs={})
    task_postrun.send(sender=task, task_id="t", task=task, args=(), kwargs={})


def _open_connection():
    connection.ensure_connection()
    return connection.connection


def test_a_task_keeps_a_fresh_connection_and_celery_does_not_close_it():
    opened = _open_connection()

    _run_task(_Task(eager=False))
    DjangoWorkerFixup(app).close_database()

    assert connection.connection is opened


def test_a_connection_older_than_conn_max_age_is_closed_after_a_task():
    _open_connection()
    connection.close_at = time.monotonic() - 1

    _run_task(_Task(eager=False))

    assert connection.connection is None


def test_eager_tasks_leave_the_callers_connection_alone():
    opened = _open_connection()
    connection.close_at = time.monotonic() - 1

    _run_task(_Task(eager=True))

    assert connection.connection is opened

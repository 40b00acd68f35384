import math
from unittest import mock

import pytest

from payments.models import GatewayAccount
from payments.tasks import webhook_deliveries_credit_task
from portal.celery import app as celery_app


@pytest.fixture
def reference_account(kona):
    return GatewayAccount.objects.create(
        provider=kona, gateway="reference", reference_prefix="111", expiry_days=3
    )


@pytest.fixture
def queued(monkeypatch):
    """As in production: the credit task goes to a worker (here: nowhere) instead of
    running in the request. Yields its mocked `apply_async`."""
    monkeypatch.setattr("payments.webhooks._queued_at", -math.inf)  # a new web process
    celery_app.conf.task_always_eager = False
    try:
        with mock.patch.object(webhook_deliveries_credit_task, "apply_async") as apply_async:
            yield apply_async
    finally:
        celery_app.conf.task_always_eager = True

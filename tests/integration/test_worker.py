"""A real Celery worker on Redis, against the same PostgreSQL test database."""

import datetime
import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import VerificationCode
from accounts.tasks import verification_codes_purge
from portal.celery import app as celery_app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(settings):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    celery_app.conf.task_always_eager = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if celery_app.control.ping(timeout=1.0):
                break
            assert process.poll() is None, process.stdout.read().decode()
        else:
            pytest.fail("the Celery worker did not answer within 60 s")
        yield process
    finally:
        celery_app.conf.task_always_eager = True
        process.terminate()
        process.wait(timeout=30)


def _code(*, expires_at):
    return VerificationCode.objects.create(
        purpose=VerificationCode.Purpose.CLAIM,
        token=os.urandom(8).hex(),
        code_hash="x" * 64,
        expires_at=expires_at,
    )


def test_the_worker_purges_expired_codes(worker):
    now = timezone.now()
    stale = _code(expires_at=now - datetime.timedelta(days=2))
    fresh = _code(expires_at=now + datetime.timedelta(minutes=5))

    result = verification_codes_purge.delay()

    assert result.get(timeout=60, disable_sync_subtasks=False) == 1
    remaining = set(VerificationCode.objects.values_list("pk", flat=True))
    assert remaining == {fresh.pk}
    assert stale.pk not in remaining


def test_a_webhook_is_acknowledged_at_once_and_credited_by_the_worker(worker, juan, client):
    from billing.models import LedgerEntry
    from tests.payments import stripe_server as api

    contract = juan.contracts.get()
    api.account_for(contract.provider)
    payment = api.oxxo_payment_for(contract, intent_id="pi_worker")
    before = contract.paid_until
    body = api.intent_succeeded_body(payment, event_id="evt_worker")

    response = client.post(
        "/webhooks/stripe/111/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=api.signature_header(body),
    )

    assert response.status_code == 200
    assert response.json()["outcomes"] == ["queued"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        payment.refresh_from_db()
        if payment.status == "paid":
            break
        time.sleep(0.2)
    assert payment.status == "paid"
    assert LedgerEntry.objects.filter(contract=contract, kind="payment").count() == 1
    contract.refresh_from_db()
    assert (contract.paid_until - before).days == 30

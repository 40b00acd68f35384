"""A real Celery worker on Redis, against the same PostgreSQL test database."""

import datetime
import math
import os
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import VerificationCode
from accounts.tasks import verification_codes_purge
from payments import webhooks
from portal.celery import app as celery_app

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def _worker_started(settings, *pool, extra_env=None):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_URL": settings.CACHE_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # uploaded files are read from there
        **(extra_env or {}),
    }
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            *pool,
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
    webhooks._queued_at = -math.inf  # no drain queued by this process yet
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if celery_app.control.ping(timeout=1.0):
            return process
        if process.poll() is not None:
            _worker_stopped(process)
            pytest.fail(process.stdout.read().decode())
    _worker_stopped(process)
    pytest.fail("the Celery worker did not answer within 60 s")


def _worker_stopped(process) -> None:
    celery_app.conf.task_always_eager = True
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def worker(settings):
    process = _worker_started(settings, "--pool=solo")
    yield process
    _worker_stopped(process)


@pytest.fixture
def worker_of_two(settings):
    """Two worker processes, as production runs them on 2 cores."""
    process = _worker_started(settings, "--pool=prefork", "--concurrency=2")
    yield process
    _worker_stopped(process)


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


def test_two_worker_processes_apply_a_settlement_file_in_two_parts(worker_of_two, juan, settings):
    from billing.models import LedgerEntry
    from payments.models import GatewayAccount, Payment
    from payments.settlement import settlement_file_receive
    from payments.tasks import settlement_import_queue
    from tests.factories import ContractFactory
    from tests.payments.test_settlement import an_hour_ago, reference_for, settlement_csv

    settings.SETTLEMENT_APPLY_PARTS = 2
    kona = juan.provider
    GatewayAccount.objects.create(provider=kona, gateway="reference", reference_prefix="111")
    contract = juan.contracts.get()
    contracts = [contract] + [
        ContractFactory(provider=kona, number=str(5000 + n), plan=contract.plan, zone=contract.zone)
        for n in range(9)
    ]
    payments = [reference_for(c) for c in contracts]
    content = settlement_csv(
        *(f"{p.reference},250.00,{an_hour_ago()},F-{n}" for n, p in enumerate(payments)),
        f"{payments[0].reference},250.00,{an_hour_ago()},F-0",  # the same line again
    )
    settlement = settlement_file_receive(provider=kona, raw=content, filename="oxxo.csv")

    settlement_import_queue(settlement.pk)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        settlement.refresh_from_db()
        if settlement.finished_at is not None:
            break
        time.sleep(0.2)
    assert settlement.finished_at is not None
    assert (settlement.line_count, settlement.credited_count, settlement.invalid_count) == (
        11,
        10,
        1,
    )
    assert Payment.objects.filter(status="paid").count() == 10
    assert LedgerEntry.objects.filter(kind="payment").count() == 10

"""The worker runs the service: real Celery worker and beat processes on Redis, against the
same PostgreSQL test database, telling a local HTTP server what the ISP's network hears."""

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from django.db import connection
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from accounts.models import Contract
from billing.models import NetworkDelivery, NetworkHook, ServiceChange, ServicePeriod
from billing.network import network_secret_new
from billing.recompute import contracts_recompute
from billing.tasks import network_deliveries_send_task, recompute_validity_task
from core.bulk import rows_insert
from tests.factories import PlanFactory, ZoneFactory
from tests.integration.test_worker import _worker_started, _worker_stopped

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def _until(condition, *, timeout: float = 30, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return False


def _hook(provider, httpserver) -> NetworkHook:
    hook = NetworkHook(provider=provider, url=httpserver.url_for("/red"))
    hook.secret = network_secret_new()
    hook.save()
    return hook


def _expired(contract: Contract) -> None:
    """The contract's credit ran out three days ago, and the recompute suspended it."""
    today = contract.provider.today()
    ServicePeriod.objects.filter(contract=contract).update(
        starts_on=today - datetime.timedelta(days=33), ends_on=today - datetime.timedelta(days=3)
    )
    contracts_recompute(contract_ids=[contract.pk])
    contract.refresh_from_db()
    assert contract.status == "suspended"


def test_a_payment_through_the_web_reactivates_and_the_network_hears_it_once(
    settings, juan, client, httpserver
):
    from tests.payments import stripe_server as api

    contract = juan.contracts.get()
    contract.ip_address = "10.20.0.15"
    contract.save()
    _expired(contract)
    hook = _hook(juan.provider, httpserver)
    httpserver.expect_request("/red", method="POST").respond_with_data("ok")
    api.account_for(contract.provider)
    payment = api.oxxo_payment_for(contract, intent_id="pi_reactivar")
    body = api.intent_succeeded_body(payment, event_id="evt_reactivar")
    worker = _worker_started(settings, "--pool=solo")
    try:
        # The gateway tells the web; the worker credits, the service comes back, and the
        # ISP's network is told, all without anybody waiting on the beat.
        response = client.post(
            "/webhooks/stripe/111/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=api.signature_header(body),
        )
        assert response.status_code == 200
        assert _until(lambda: len(httpserver.log) >= 1)
        time.sleep(1.5)  # nothing more comes
    finally:
        _worker_stopped(worker)

    contract.refresh_from_db()
    assert contract.status == "active"
    (request,) = [request for request, _response in httpserver.log]
    payload = Webhook(hook.secret).verify(request.get_data(), dict(request.headers))
    assert (payload["type"], payload["data"]["reason"], payload["data"]["contract"]) == (
        "contract.reactivated",
        "pago",
        contract.number,
    )
    assert payload["data"]["paid_until"] == contract.paid_until.isoformat()
    events = ServiceChange.objects.filter(contract=contract).order_by("pk")
    assert list(events.values_list("event", flat=True)) == [
        "contract.suspended",
        "contract.reactivated",
    ]


def test_an_endpoint_that_fails_three_times_gets_the_event_exactly_once_more(
    settings, juan, httpserver
):
    _hook(juan.provider, httpserver)
    answers = iter([500, 500, 500])
    httpserver.expect_request("/red").respond_with_handler(
        lambda request: Response("x", status=next(answers, 200))
    )
    contract = juan.contracts.get()
    worker = _worker_started(
        settings,
        "--pool=solo",
        extra_env={"NETWORK_DELIVERY_ATTEMPTS": "8", "NETWORK_DELIVERY_SPAN": "25"},
    )
    try:
        _expired(contract)  # told at once, through the outbox: the first 500
        # The beat's job, every half second here instead of every minute.
        for _tick in range(40):
            network_deliveries_send_task.delay()
            time.sleep(0.5)
            if len(httpserver.log) >= 4:
                break
        for _tick in range(4):  # and a few more, which find nothing to send
            network_deliveries_send_task.delay()
            time.sleep(0.5)
    finally:
        _worker_stopped(worker)

    statuses = [response.status_code for _request, response in httpserver.log]
    assert statuses == [500, 500, 500, 200]
    assert len({request.headers["webhook-id"] for request, _ in httpserver.log}) == 1
    delivery = NetworkDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 4)


def _contracts_expired(juan, count: int) -> list[int]:
    """`count` contracts whose credit ran out yesterday, written at once (COPY)."""
    provider = juan.provider
    zone = ZoneFactory(provider=provider)
    plan = PlanFactory(provider=provider)
    today = provider.today()
    contracts = rows_insert(
        Contract,
        objects=[
            Contract(
                provider=provider,
                number=str(700000 + n),
                holder_name="Abonado",
                installation_address="Calle 1",
                phone="+525512345678",
                zone=zone,
                plan=plan,
                paid_until=today - datetime.timedelta(days=1),
            )
            for n in range(count)
        ],
    )
    rows_insert(
        ServicePeriod,
        objects=[
            ServicePeriod(
                contract_id=contract.pk,
                plan_id=plan.pk,
                starts_on=today - datetime.timedelta(days=31),
                ends_on=today - datetime.timedelta(days=1),
                description="30 días",
            )
            for contract in contracts
        ],
    )
    return [contract.pk for contract in contracts]


def test_a_worker_killed_in_the_middle_of_a_recompute_ends_as_a_clean_run(settings, juan):
    ids = _contracts_expired(juan, 20_000)
    env = {"RECOMPUTE_CHUNK_SIZE": "200", "JOB_LOCK_SECONDS": "3"}
    settings.JOB_LOCK_SECONDS = 3
    worker = _worker_started(settings, "--pool=solo", extra_env=env)
    try:
        recompute_validity_task.delay()
        changes = ServiceChange.objects.filter(contract_id__in=ids)
        assert _until(lambda: changes.count() > 0, step=0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        _worker_stopped(worker)
    done_at_kill = changes.count()
    assert 0 < done_at_kill < len(ids)  # killed half-way

    worker = _worker_started(settings, "--pool=solo", extra_env=env)
    try:
        # The dead worker's lock lapses within its lease; then a run goes through.
        def finished():
            recompute_validity_task.delay()
            time.sleep(1)
            return (
                changes.count() == len(ids)
                and not Contract.objects.filter(pk__in=ids, status="active").exists()
            )

        assert _until(finished, timeout=60, step=0.5)
    finally:
        _worker_stopped(worker)

    # What a clean run gives: every contract suspended for want of credit, told once.
    assert Contract.objects.filter(pk__in=ids, status="suspended").count() == len(ids)
    assert changes.count() == len(ids)
    assert set(changes.values_list("event", "reason").distinct()) == {
        ("contract.suspended", "sin_credito")
    }
    assert contracts_recompute() == 0


def _beat_started(settings, log_path, extra_env):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CACHE_URL": settings.CACHE_URL,
        **extra_env,
    }
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    process.log = log
    return process


def test_two_beats_send_each_job_once_and_the_standby_takes_over(settings, tmp_path):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="prueba-cada-segundo", task="core.tasks.outbox_relay_task", interval=every_second
    )
    # The beats' messages go to a Redis database nobody consumes, emptied afterwards.
    broker = settings.REDIS_URL.rsplit("/", 1)[0] + "/9"
    extra = {"REDIS_URL": broker, "BEAT_LEADER_SECONDS": "4"}
    beats = [_beat_started(settings, tmp_path / f"beat{n}.log", extra) for n in (1, 2)]

    def sent(n: int) -> int:
        return (tmp_path / f"beat{n}.log").read_text().count("prueba-cada-segundo")

    try:
        assert _until(lambda: sent(1) + sent(2) >= 5, timeout=60)
        counts = sorted([sent(1), sent(2)])
        assert counts[0] == 0  # one beat sends, the other waits
        leader = 1 if sent(1) else 2
        standby = 3 - leader
        beats[leader - 1].terminate()
        beats[leader - 1].wait(timeout=30)
        # Within the leader's lease, the standby leads and sends.
        assert _until(lambda: sent(standby) >= 3, timeout=30)
    finally:
        for beat in beats:
            beat.terminate()
            beat.wait(timeout=30)
            beat.log.close()
        redis.Redis.from_url(broker).flushdb()

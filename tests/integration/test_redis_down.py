"""Redis down: pages, sign-in and payment references keep working, a verified webhook is
answered and credited once Redis is back, and work for the worker waits in the outbox.

Each test stops a Redis of its own (another port), never the shared one.
"""

import shutil
import socket
import subprocess
import time
from decimal import Decimal

import pytest
import redis
from django.core.cache import caches

from core.models import OutboxMessage
from core.outbox import outbox_relay
from payments.models import GatewayAccount, Payment, WebhookDelivery
from payments.webhooks import webhook_deliveries_credit
from portal.celery import app as celery_app
from tests.factories import PASSWORD, ContractFactory, PlanFactory, UserFactory, ZoneFactory
from tests.payments import stripe_server as api

pytestmark = [pytest.mark.integration, pytest.mark.redis, pytest.mark.django_db]


class OwnRedis:
    """A redis-server on a free port, started and stopped by the test."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}"
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _celery_connections_forgotten() -> None:
    """This process's Celery connects anew, to the broker now configured."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def own_redis(settings):
    server = OwnRedis()
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "portal.cache.FailOpenRedisCache",
            "LOCATION": f"{server.url}/1",
            "KEY_PREFIX": "antena",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    broker = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"{server.url}/0"
    celery_app.conf.task_always_eager = False
    _celery_connections_forgotten()
    try:
        yield server
    finally:
        celery_app.conf.task_always_eager = True
        celery_app.conf.broker_url = broker
        _celery_connections_forgotten()
        caches["default"].close()
        if server.process.poll() is None:
            server.stop()


@pytest.fixture
def subscriber(kona):
    zone = ZoneFactory(provider=kona)
    plan = PlanFactory(provider=kona, price=Decimal("250.00"))
    plan.zones.add(zone)
    user = UserFactory(provider=kona, username="juan@kona")
    ContractFactory(provider=kona, user=user, zone=zone, plan=plan)
    GatewayAccount.objects.create(provider=kona, gateway="reference", reference_prefix="111")
    return user


def test_sign_in_and_a_payment_reference_work_with_redis_down(client, own_redis, subscriber):
    own_redis.stop()

    signed_in = client.post("/accounts/login/", {"login": "juan@kona", "password": PASSWORD})
    plan = subscriber.contracts.get().plan
    reference = client.post("/pagos/nuevo/", {"plan": plan.pk, "method": "reference:cash"})

    assert signed_in.status_code == 302
    assert reference.status_code == 302
    assert Payment.objects.get().reference.startswith("111")
    assert client.get(reference["Location"]).status_code == 200


def test_failed_logins_still_count_in_the_process_with_redis_down(client, own_redis, subscriber):
    own_redis.stop()

    answers = [
        client.post("/accounts/login/", {"login": "juan@kona", "password": "mala"}).status_code
        for _ in range(6)
    ]

    assert answers == [200] * 5 + [429]


def test_a_verified_webhook_is_answered_with_redis_down_and_credited_when_it_is_back(
    client, own_redis, juan
):
    api.account_for(juan.provider)
    payment = api.oxxo_payment_for(juan.contracts.get(), intent_id="pi_down")
    body = api.intent_succeeded_body(payment, event_id="evt_down")
    own_redis.stop()

    response = client.post(
        "/webhooks/stripe/111/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=api.signature_header(body),
    )

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().outcome == "verified"
    payment.refresh_from_db()
    assert payment.status == "pending"
    # Redis back: the beat's drain, run by the worker, credits what waited.
    own_redis.start()
    assert webhook_deliveries_credit() == 1
    payment.refresh_from_db()
    assert payment.status == "paid"


def test_work_for_the_worker_waits_in_the_outbox_and_is_handed_on_when_redis_is_back(
    client, own_redis, juan, django_capture_on_commit_callbacks
):
    from billing.services import LineSpec, invoice_issue

    own_redis.stop()
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue(
            contract=juan.contracts.get(),
            lines=[LineSpec(description="Noviembre", amount=Decimal("250.00"))],
            due_date=juan.provider.today(),
        )

    (waiting,) = OutboxMessage.objects.all()
    assert (waiting.task, waiting.kwargs, waiting.published_at) == (
        "billing.tasks.invoice_pdf_render",
        {"invoice_id": invoice.pk},
        None,
    )

    own_redis.start()
    assert outbox_relay() == 1
    waiting.refresh_from_db()
    assert waiting.published_at is not None
    queued = redis.Redis.from_url(f"{own_redis.url}/0").llen("celery")
    assert queued == 1

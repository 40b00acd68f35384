"""The safety net: a payment whose webhook never came is credited by asking the gateway
(a real HTTP server speaking Stripe's documented shapes), and never twice."""

import datetime

import pytest
import time_machine
from django.utils import timezone
from pytest_httpserver import HTTPServer

from billing.models import LedgerEntry
from payments.models import GatewayAccount, Payment
from payments.poller import payments_poll
from tests.payments import stripe_server as api
from tests.payments.stripe_server import SECRET_KEY, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def stripe_api():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def payment(juan, stripe_api):
    contract = juan.contracts.get()
    account = GatewayAccount(
        provider=contract.provider, gateway="stripe", base_url=stripe_api.url_for("")
    )
    account.credentials = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    account.save()
    return api.oxxo_payment_for(contract, intent_id="pi_sin_webhook")


def _intent(status: str, received: int) -> dict:
    return {
        "id": "pi_sin_webhook",
        "object": "payment_intent",
        "amount": 25000,
        "amount_received": received,
        "currency": "mxn",
        "status": status,
        "metadata": {},
    }


def _answers(stripe_api, *intents):
    answers = iter(intents)
    stripe_api.expect_request(
        "/v1/payment_intents/pi_sin_webhook", method="GET"
    ).respond_with_handler(lambda request: api.ok(next(answers)))


def _later(minutes: int):
    return time_machine.travel(timezone.now() + datetime.timedelta(minutes=minutes), tick=False)


def test_a_payment_whose_webhook_never_came_is_credited_once(payment, stripe_api):
    _answers(stripe_api, _intent("succeeded", 25000), _intent("succeeded", 25000))
    before = payment.contract.paid_until

    with _later(10):
        assert payments_poll() == 0  # too young: its webhook may still come
    assert stripe_api.log == []
    with _later(20):
        assert payments_poll() == 1
    with _later(30):
        assert payments_poll() == 0  # paid: not asked again

    payment.refresh_from_db()
    assert payment.status == "paid"
    assert len(stripe_api.log) == 1
    assert LedgerEntry.objects.filter(contract=payment.contract, kind="payment").count() == 1
    payment.contract.refresh_from_db()
    assert (payment.contract.paid_until - before).days == 30
    assert payment.events.get(kind="paid").source == "poll:stripe"


def test_the_webhook_arriving_after_the_poll_credits_nothing_more(client, payment, stripe_api):
    _answers(stripe_api, _intent("succeeded", 25000))
    with _later(20):
        payments_poll()
    body = api.intent_succeeded_body(payment, event_id="evt_tarde")

    response = client.post(
        "/webhooks/stripe/111/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=api.signature_header(body),
    )

    assert response.status_code == 200
    assert LedgerEntry.objects.filter(contract=payment.contract, kind="payment").count() == 1


def test_an_unpaid_intent_stays_pending_and_is_asked_again_later(payment, stripe_api):
    _answers(stripe_api, _intent("requires_action", 0), _intent("succeeded", 25000))
    with _later(20):
        assert payments_poll() == 0
    payment.refresh_from_db()
    assert payment.status == "pending"
    with _later(25):
        assert payments_poll() == 1


def test_a_gateway_that_fails_leaves_the_payment_pending(payment, stripe_api):
    stripe_api.expect_request("/v1/payment_intents/pi_sin_webhook").respond_with_handler(
        lambda request: api.error(500, "api_error", "boom")
    )
    with _later(20):
        assert payments_poll() == 0
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert Payment.objects.get().polled_at is not None


def test_a_card_checkout_paid_without_its_webhook_is_credited(payment, stripe_api):
    Payment.objects.filter(pk=payment.pk).update(external_id="cs_sin_webhook", method="card")
    stripe_api.expect_request(
        "/v1/checkout/sessions/cs_sin_webhook", method="GET"
    ).respond_with_handler(
        lambda request: api.ok(
            {
                "id": "cs_sin_webhook",
                "object": "checkout.session",
                "amount_total": 25000,
                "currency": "mxn",
                "payment_status": "paid",
                "status": "complete",
            }
        )
    )
    with _later(20):
        assert payments_poll() == 1
    payment.refresh_from_db()
    assert payment.status == "paid"

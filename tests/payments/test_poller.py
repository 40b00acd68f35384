"""The safety net: a payment whose webhook never came is credited by asking the gateway
(real HTTP servers speaking Stripe's, Mercado Pago's and OxxoPay's documented shapes),
and never twice."""

import contextlib
import datetime
import logging
import time
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Response

from billing.models import LedgerEntry
from payments.models import GatewayAccount, Payment
from payments.poller import payments_poll
from tests.billing.factories import issue
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory
from tests.payments import stripe_server as api
from tests.payments import test_mercadopago as mp
from tests.payments import test_oxxopay as oxxo
from tests.payments.stripe_server import SECRET_KEY, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def _local_server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


@pytest.fixture
def stripe_api():
    with _local_server() as server:
        yield server


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


# Mercado Pago: Laura's invoice, paid in Checkout Pro, whose notification never came.


@pytest.fixture
def mp_api():
    with _local_server() as server:
        yield server


@pytest.fixture
def checkout(client, mp_api):
    """Laura (Interatos, postpaid) chose Mercado Pago for her $ 2.590,00 invoice and was
    sent to Checkout Pro."""
    interatos = ProviderFactory(
        code="222",
        handle_domain="interatos",
        country="AR",
        currency="ARS",
        locale="es_AR",
        time_zone="America/Argentina/Cordoba",
    )
    laura = UserFactory(provider=interatos, username="laura@interatos")
    plan = PlanFactory(provider=interatos, price=Decimal("2590.00"))
    contract = ContractFactory(
        provider=interatos, user=laura, plan=plan, billing_mode="postpaid", paid_until=None
    )
    invoice = issue(contract, amount="2590.00")
    account = GatewayAccount(
        provider=interatos, gateway="mercadopago", expiry_days=3, base_url=mp_api.url_for("")
    )
    account.credentials = {"access_token": mp.ACCESS_TOKEN, "webhook_secret": mp.WEBHOOK_SECRET}
    account.save()
    mp_api.expect_request("/checkout/preferences", method="POST").respond_with_handler(
        mp.preference_created
    )
    client.force_login(laura)
    mp.pay(client, invoice)
    mp_api.clear()
    checkout = Payment.objects.get()
    assert checkout.external_id == mp.PREFERENCE_ID  # the preference, not a payment
    return checkout


def _mp_search(mp_api, payments: list[dict]):
    mp_api.expect_request("/v1/payments/search", method="GET").respond_with_handler(
        mp.payments_search(payments)
    )


def _mp_searches(mp_api) -> list:
    return [request for request, _response in mp_api.log if request.path == "/v1/payments/search"]


def _invoice_of(payment):
    return payment.contract.invoices.get()


def test_a_mercado_pago_payment_whose_notification_never_came_is_credited_once(checkout, mp_api):
    _mp_search(
        mp_api,
        [
            mp.mp_payment(checkout, status="rejected", payment_id=mp.MP_PAYMENT_ID - 1),
            mp.mp_payment(checkout),
        ],
    )

    with _later(10):
        assert payments_poll() == 0  # too young: its notification may still come
    assert mp_api.log == []
    with _later(20):
        assert payments_poll() == 1
    with _later(30):
        assert payments_poll() == 0  # paid: not asked again

    (search,) = _mp_searches(mp_api)
    assert search.headers["Authorization"] == f"Bearer {mp.ACCESS_TOKEN}"
    assert search.args["external_reference"] == str(checkout.public_id)
    assert search.args["status"] == "approved"
    checkout.refresh_from_db()
    assert (checkout.status, checkout.paid_amount) == ("paid", Decimal("2590.00"))
    assert checkout.paid_at == datetime.datetime(2026, 11, 23, 20, 4, 5, tzinfo=datetime.UTC)
    assert checkout.events.get(kind="paid").source == "poll:mercadopago"
    invoice = _invoice_of(checkout)
    assert (invoice.amount_paid, invoice.amount_due) == (Decimal("2590.00"), Decimal("0.00"))
    assert LedgerEntry.objects.filter(contract=checkout.contract, kind="payment").count() == 1


def test_the_mercado_pago_notification_arriving_after_the_poll_credits_nothing_more(
    client, checkout, mp_api
):
    _mp_search(mp_api, [mp.mp_payment(checkout)])
    with _later(20):
        assert payments_poll() == 1
    mp.answer_payment(mp_api, checkout)

    response = mp.notify(client)

    assert response.status_code == 200
    assert response.json()["outcomes"] == ["already_paid"]
    assert LedgerEntry.objects.filter(contract=checkout.contract, kind="payment").count() == 1
    assert _invoice_of(checkout).amount_paid == Decimal("2590.00")


@pytest.mark.parametrize("status", ["pending", "in_process", "rejected"])
def test_a_mercado_pago_payment_not_approved_credits_nothing_and_is_asked_again(
    checkout, mp_api, status
):
    payments = [mp.mp_payment(checkout, status=status)]
    _mp_search(mp_api, payments)

    with _later(20):
        assert payments_poll() == 0

    checkout.refresh_from_db()
    assert (checkout.status, checkout.paid_amount, checkout.paid_at) == ("pending", None, None)
    assert _invoice_of(checkout).amount_paid == Decimal("0.00")
    assert not LedgerEntry.objects.filter(kind="payment").exists()

    payments.append(mp.mp_payment(checkout, payment_id=mp.MP_PAYMENT_ID + 1))  # paid again
    with _later(25):
        assert payments_poll() == 1
    assert _invoice_of(checkout).amount_paid == Decimal("2590.00")


def test_a_search_answer_about_another_payment_credits_nothing(checkout, mp_api):
    """A filter Mercado Pago ignored lists the account's other payments: none of them pays
    for Laura's invoice."""
    someone_else = mp.mp_payment(checkout)
    someone_else["external_reference"] = "5b0c1d2e-0000-4000-8000-000000000000"
    mp_api.expect_request("/v1/payments/search").respond_with_json(
        {"paging": {"total": 1, "limit": 10, "offset": 0}, "results": [someone_else]}
    )
    with _later(20):
        assert payments_poll() == 0
    checkout.refresh_from_db()
    assert checkout.status == "pending"
    assert not LedgerEntry.objects.filter(kind="payment").exists()


def _mp_times_out(request):
    time.sleep(1.5)
    return mp.mp_error(500, "internal_server_error", "Internal server error")


@pytest.mark.parametrize(
    "failure",
    [
        lambda request: mp.mp_error(500, "internal_server_error", "Internal server error"),
        lambda request: mp.mp_error(401, "unauthorized", f"invalid token {mp.ACCESS_TOKEN}"),
        lambda request: Response("<html>bad gateway</html>", content_type="text/html"),
        lambda request: mp._json({"paging": {"total": 1}, "results": "approved"}),
        lambda request: mp._json({"results": [{"id": mp.MP_PAYMENT_ID, "status": "approved"}]}),
        _mp_times_out,
    ],
    ids=["500", "401", "not-json", "no-results-list", "payment-without-amount", "timeout"],
)
def test_a_mercado_pago_failure_credits_nothing_and_changes_nothing(
    checkout, mp_api, caplog, monkeypatch, failure
):
    monkeypatch.setattr(mp.mp_gateway, "TIMEOUT_SECONDS", 0.5)
    caplog.set_level(logging.DEBUG)
    mp_api.expect_request("/v1/payments/search").respond_with_handler(failure)

    with _later(20):
        assert payments_poll() == 0  # logged, not raised: the next payment is still asked

    checkout.refresh_from_db()
    assert (checkout.status, checkout.paid_amount, checkout.paid_at) == ("pending", None, None)
    assert checkout.polled_at is not None
    assert list(checkout.events.values_list("kind", flat=True)) == ["created"]
    assert _invoice_of(checkout).amount_paid == Decimal("0.00")
    assert not LedgerEntry.objects.filter(kind="payment").exists()
    assert "poll: mercadopago" in caplog.text and "mercadopago search payments" in caplog.text
    assert mp.ACCESS_TOKEN not in caplog.text
    time.sleep(1.2 if failure is _mp_times_out else 0)  # let the late answer land first


# OxxoPay: Juan's reference, paid at an OXXO store, whose webhook never came.


@pytest.fixture
def oxxopay():
    with _local_server() as server:
        yield oxxo.FakeOxxoPay(server)


@pytest.fixture
def reference(client, juan, oxxopay):
    """Juan bought Plan Básico by OxxoPay and got reference 93000123456789."""
    account = GatewayAccount(
        provider=juan.provider,
        gateway="oxxopay",
        expiry_days=3,
        base_url=oxxopay.server.url_for(""),
    )
    account.credentials = {"private_key": oxxo.PRIVATE_KEY}
    account.save()
    client.force_login(juan)
    oxxo.buy(client, juan.contracts.get().plan)
    oxxopay.server.clear_log()
    reference = Payment.objects.get()
    assert (reference.external_id, reference.reference) == (oxxo.ORDER_ID, oxxo.REFERENCE)
    return reference


def _order_fetches(oxxopay) -> list:
    return oxxopay.requests("GET", "/orders/")


def test_an_oxxopay_reference_whose_webhook_never_came_is_credited_once(reference, oxxopay):
    paid_at = int(time.time()) + 5 * 60  # paid at the store five minutes after asking
    oxxopay.mark_paid(paid_at=paid_at)
    contract = reference.contract
    before = contract.paid_until

    with _later(10):
        assert payments_poll() == 0  # too young: its webhook may still come
    assert _order_fetches(oxxopay) == []
    with _later(20):
        assert payments_poll() == 1
    with _later(30):
        assert payments_poll() == 0  # paid: not asked again

    (fetch,) = _order_fetches(oxxopay)
    assert fetch.path == f"/orders/{oxxo.ORDER_ID}"
    assert fetch.headers["Authorization"] == f"Bearer {oxxo.PRIVATE_KEY}"
    assert fetch.headers["Accept"] == oxxo.MEDIA_TYPE
    reference.refresh_from_db()
    assert (reference.status, reference.paid_amount) == ("paid", Decimal("250.00"))
    assert reference.paid_at == datetime.datetime.fromtimestamp(paid_at, tz=datetime.UTC)
    assert reference.events.get(kind="paid").source == "poll:oxxopay"
    contract.refresh_from_db()
    assert contract.paid_until == before + datetime.timedelta(days=30)
    assert contract.credit_days() == 35
    assert LedgerEntry.objects.filter(contract=contract, kind="payment").count() == 1


def test_the_oxxopay_webhook_arriving_after_the_poll_credits_nothing_more(
    client, reference, oxxopay
):
    order = oxxopay.mark_paid(paid_at=int(time.time()) + 5 * 60)
    with _later(20):
        assert payments_poll() == 1

    response = oxxo.deliver(client, oxxo.order_paid_event(order))

    assert response.status_code == 200
    assert response.json()["outcomes"] == ["already_paid"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    reference.contract.refresh_from_db()
    assert reference.contract.credit_days() == 35


def test_an_oxxopay_reference_not_paid_yet_credits_nothing_and_is_asked_again(reference, oxxopay):
    before = reference.contract.paid_until

    with _later(20):
        assert payments_poll() == 0

    reference.refresh_from_db()
    assert (reference.status, reference.paid_amount, reference.paid_at) == ("pending", None, None)
    reference.contract.refresh_from_db()
    assert reference.contract.paid_until == before
    assert not LedgerEntry.objects.filter(kind="payment").exists()

    oxxopay.mark_paid(paid_at=int(time.time()) + 22 * 60)  # paid at the store meanwhile
    with _later(25):
        assert payments_poll() == 1
    reference.contract.refresh_from_db()
    assert reference.contract.paid_until == before + datetime.timedelta(days=30)


def _oxxopay_times_out(request):
    time.sleep(1.5)
    return oxxo._fetch_fails_with_500(request)


@pytest.mark.parametrize(
    "failure",
    [
        oxxo._fetch_fails_with_500,
        oxxo._fetch_fails_with_401,
        lambda request: Response("<html>bad gateway</html>", content_type="text/html"),
        "paid-without-amount",
        "another-payments-order",
        "unknown-order",
        _oxxopay_times_out,
    ],
    ids=[
        "500",
        "401",
        "not-json",
        "paid-without-amount",
        "another-payments-order",
        "unknown-order",
        "timeout",
    ],
)
def test_an_oxxopay_failure_credits_nothing_and_changes_nothing(
    reference, oxxopay, caplog, monkeypatch, failure
):
    monkeypatch.setattr(oxxo.oxxopay_gateway, "TIMEOUT_SECONDS", 0.5)
    caplog.set_level(logging.DEBUG)
    order = oxxopay.mark_paid(paid_at=int(time.time()) + 5 * 60)
    if failure == "paid-without-amount":
        del order["amount"]
    elif failure == "another-payments-order":
        order["metadata"]["payment_public_id"] = "5b0c1d2e-0000-4000-8000-000000000000"
    elif failure == "unknown-order":
        del oxxopay.orders[oxxo.ORDER_ID]
    else:
        oxxopay.fetch_answers.append(failure)
    before = reference.contract.paid_until

    with _later(20):
        assert payments_poll() == 0  # logged, not raised: the next payment is still asked

    reference.refresh_from_db()
    assert (reference.status, reference.paid_amount, reference.paid_at) == ("pending", None, None)
    assert reference.polled_at is not None
    assert list(reference.events.values_list("kind", flat=True)) == ["created"]
    reference.contract.refresh_from_db()
    assert reference.contract.paid_until == before
    assert not LedgerEntry.objects.filter(kind="payment").exists()
    assert "poll: oxxopay" in caplog.text and "oxxopay get order" in caplog.text
    assert oxxo.PRIVATE_KEY not in caplog.text
    time.sleep(1.2 if failure is _oxxopay_times_out else 0)  # let the late answer land first

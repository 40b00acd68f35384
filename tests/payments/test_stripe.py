"""Stripe through a real HTTP server on 127.0.0.1 that speaks Stripe's documented shapes:
OXXO vouchers, card Checkout, failures retried with the same idempotency key, and signed
webhooks that credit exactly once."""

import datetime
import json
import logging
import time
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer

from billing.models import LedgerEntry
from core.text import digits_grouped
from payments.gateways import stripe as stripe_gateway
from payments.models import GatewayAccount, Payment, PaymentEvent, WebhookDelivery
from tests.payments import stripe_server as api
from tests.payments.stripe_server import SECRET_KEY, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db

GATEWAY_FAILED = "No pudimos generar tu referencia, intenta de nuevo."
WEBHOOK_URL = "/webhooks/stripe/111/"


@pytest.fixture(scope="module")
def _stripe_server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def stripe_api(_stripe_server):
    _stripe_server.clear()
    yield _stripe_server
    _stripe_server.clear()


@pytest.fixture
def stripe_account(kona, stripe_api):
    account = GatewayAccount(
        provider=kona, gateway="stripe", expiry_days=3, base_url=stripe_api.url_for("")
    )
    account.credentials = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    account.save()
    return account


def buy(client, plan, method="stripe:oxxo", **kwargs):
    return client.post("/pagos/nuevo/", {"plan": plan.pk, "method": method}, **kwargs)


def answer_oxxo(stripe_api):
    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_handler(
        lambda request: api.ok(api.payment_intent_oxxo(api.form(request)))
    )


def requests_to(stripe_api, path):
    return [request for request, _response in stripe_api.log if request.path == path]


def deliver(client, payload, *, at=None, secret=WEBHOOK_SECRET, header=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if header is None:
        header = api.signature_header(body, secret=secret, at=at)
    return client.post(
        WEBHOOK_URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


@pytest.fixture
def oxxo_payment(client, juan, stripe_account, stripe_api):
    """Juan asked for Plan Básico by OXXO and got a Stripe voucher."""
    answer_oxxo(stripe_api)
    client.force_login(juan)
    buy(client, juan.contracts.get().plan)
    payment = Payment.objects.get()
    stripe_api.clear()
    return payment


def intent_succeeded(payment, *, amount_received=25000, event_id="evt_1AntenaLocal0001"):
    return api.event(
        "payment_intent.succeeded",
        {
            "id": payment.external_id,
            "object": "payment_intent",
            "amount": 25000,
            "amount_received": amount_received,
            "currency": "mxn",
            "status": "succeeded",
            "payment_method_types": ["oxxo"],
            "metadata": {"payment_public_id": str(payment.public_id), "contract": "1002"},
        },
        event_id=event_id,
    )


# Starting a payment.


def test_oxxo_purchase_shows_the_stripe_voucher(client, juan, stripe_account, stripe_api):
    answer_oxxo(stripe_api)
    client.force_login(juan)
    response = buy(client, juan.contracts.get().plan)

    payment = Payment.objects.get()
    assert response["Location"] == f"/pagos/{payment.public_id}/"
    (request,) = requests_to(stripe_api, "/v1/payment_intents")
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["Idempotency-Key"] == str(payment.idempotency_key)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    params = api.form(request)
    assert params["amount"] == "25000"
    assert params["currency"] == "mxn"
    assert params["payment_method_types[0]"] == "oxxo"
    assert params["payment_method_data[type]"] == "oxxo"
    assert params["payment_method_data[billing_details][name]"] == "Juan Pérez López"
    assert "@" in params["payment_method_data[billing_details][email]"]
    assert params["payment_method_options[oxxo][expires_after_days]"] == "3"
    assert params["confirm"] == "true"
    assert params["metadata[payment_public_id]"] == str(payment.public_id)
    assert params["metadata[contract]"] == "1002"
    assert params["metadata[provider]"] == "111"

    assert payment.external_id == "pi_3OxxoAntena0001"
    assert payment.reference == api.VOUCHER_NUMBER
    assert payment.voucher_url.startswith("https://payments.stripe.com/oxxo/voucher/")
    assert payment.expires_at == datetime.datetime.fromtimestamp(api.EXPIRES_AFTER, tz=datetime.UTC)
    page = client.get(response["Location"]).text
    assert digits_grouped(api.VOUCHER_NUMBER) in page
    assert "$250.00" in page
    assert "31/12/2029" in page  # 23:59:59 UTC is still the 31st in Mexico City
    assert "Acude a cualquier tienda OXXO." in page
    assert payment.voucher_url in page


def test_card_purchase_redirects_to_the_checkout_session(client, juan, stripe_account, stripe_api):
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(
        lambda request: api.ok(api.checkout_session(api.form(request)))
    )
    client.force_login(juan)
    response = buy(client, juan.contracts.get().plan, method="stripe:card")

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"].startswith("https://checkout.stripe.com/c/pay/cs_test_a1Antena0001")
    (request,) = requests_to(stripe_api, "/v1/checkout/sessions")
    assert request.headers["Idempotency-Key"] == str(payment.idempotency_key)
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    params = api.form(request)
    assert params["mode"] == "payment"
    assert params["line_items[0][price_data][currency]"] == "mxn"
    assert params["line_items[0][price_data][unit_amount]"] == "25000"
    assert params["line_items[0][price_data][product_data][name]"] == "Plan Básico"
    assert params["line_items[0][quantity]"] == "1"
    assert params["success_url"] == f"http://testserver/pagos/{payment.public_id}/"
    assert params["cancel_url"] == f"http://testserver/pagos/{payment.public_id}/"
    assert params["client_reference_id"] == str(payment.public_id)
    assert params["metadata[payment_public_id]"] == str(payment.public_id)
    assert params["payment_intent_data[metadata][payment_public_id]"] == str(payment.public_id)
    assert (payment.external_id, payment.reference) == ("cs_test_a1Antena0001", "")
    assert payment.checkout_url == response["Location"]
    assert payment.expires_at == datetime.datetime.fromtimestamp(api.EXPIRES_AFTER, tz=datetime.UTC)


def _fails_with_500(request):
    return api.error(500, "api_error", "An unknown error occurred")


def _fails_with_402(request):
    return api.error(
        402,
        "card_error",
        "Your card was declined.",
        code="card_declined",
        decline_code="generic_decline",
    )


def _times_out(request):
    time.sleep(1.5)
    return api.ok(api.payment_intent_oxxo(api.form(request)))


@pytest.mark.parametrize(
    ("failure", "same_key"),
    [
        # Stripe stores an answer with a status against the key and would replay it: the
        # retry needs a new key. A timeout may or may not have reached Stripe: same key.
        (_fails_with_500, False),
        (_fails_with_402, False),
        (_times_out, True),
    ],
)
def test_a_stripe_failure_shows_a_message_and_a_retry_never_charges_twice(
    client, juan, stripe_account, stripe_api, monkeypatch, failure, same_key
):
    monkeypatch.setattr(stripe_gateway, "TIMEOUT_SECONDS", 0.5)
    answers = [failure, lambda request: api.ok(api.payment_intent_oxxo(api.form(request)))]
    keys = []  # noted on arrival: a timed-out request reaches the server log only later

    def answer(request):
        keys.append(request.headers["Idempotency-Key"])
        return answers.pop(0)(request)

    stripe_api.expect_request("/v1/payment_intents", method="POST").respond_with_handler(answer)
    client.force_login(juan)
    plan = juan.contracts.get().plan

    first = buy(client, plan, follow=True)
    assert GATEWAY_FAILED in first.text
    assert 'data-testid="reference"' not in first.text
    payment = Payment.objects.get()
    assert (payment.reference, payment.external_id, payment.status) == ("", "", "pending")
    assert api.VOUCHER_NUMBER not in client.get("/").text

    second = buy(client, plan)
    assert second["Location"] == f"/pagos/{payment.public_id}/"
    payment.refresh_from_db()
    assert keys[1] == str(payment.idempotency_key)
    assert (keys[0] == keys[1]) is same_key
    assert payment.reference == api.VOUCHER_NUMBER
    assert Payment.objects.count() == 1
    assert digits_grouped(api.VOUCHER_NUMBER) in client.get(second["Location"]).text


@pytest.mark.parametrize("price", ["9.99", "10000.01"])
def test_oxxo_refuses_amounts_outside_10_to_10000_pesos_without_calling_stripe(
    client, juan, stripe_account, stripe_api, price
):
    plan = juan.contracts.get().plan
    plan.price = Decimal(price)
    plan.save()
    client.force_login(juan)
    response = buy(client, plan, follow=True)
    assert "OXXO recibe pagos de $10.00 a $10,000.00" in response.text
    assert stripe_api.log == []
    assert not Payment.objects.exclude(reference="").exists()


@pytest.mark.parametrize(("price", "cents"), [("10.00", "1000"), ("10000.00", "1000000")])
def test_oxxo_accepts_the_limits(client, juan, stripe_account, stripe_api, price, cents):
    plan = juan.contracts.get().plan
    plan.price = Decimal(price)
    plan.save()
    answer_oxxo(stripe_api)
    client.force_login(juan)
    buy(client, plan)
    (request,) = requests_to(stripe_api, "/v1/payment_intents")
    assert api.form(request)["amount"] == cents


# Webhooks.


def test_a_signed_payment_intent_succeeded_credits_once(client, juan, oxxo_payment):
    contract = juan.contracts.get()
    before = contract.credit_days()
    payload = intent_succeeded(oxxo_payment)

    response = deliver(client, payload)
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["credited"]
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    oxxo_payment.refresh_from_db()
    assert (oxxo_payment.status, oxxo_payment.paid_amount) == ("paid", Decimal("250.00"))
    assert oxxo_payment.paid_at == datetime.datetime.fromtimestamp(
        payload["created"], tz=datetime.UTC
    )

    again = deliver(client, payload)  # Stripe retries the same event
    assert again.status_code == 200
    assert again.json()["outcomes"] == ["duplicate"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "processed",
        "duplicate",
    ]


def test_a_completed_checkout_session_credits_the_card_payment_once(
    client, juan, stripe_account, stripe_api
):
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_handler(
        lambda request: api.ok(api.checkout_session(api.form(request)))
    )
    client.force_login(juan)
    contract = juan.contracts.get()
    before = contract.credit_days()
    buy(client, contract.plan, method="stripe:card")
    payment = Payment.objects.get()
    session = {
        "id": payment.external_id,
        "object": "checkout.session",
        "amount_total": 25000,
        "currency": "mxn",
        "payment_status": "paid",
        "status": "complete",
        "client_reference_id": str(payment.public_id),
        "metadata": {"payment_public_id": str(payment.public_id)},
        "payment_intent": "pi_3CardAntena0001",
    }
    completed = deliver(client, api.event("checkout.session.completed", session, event_id="evt_1"))
    assert completed.json()["outcomes"] == ["credited"]
    # The PaymentIntent behind the session succeeds too, carrying the same metadata.
    intent = {
        "id": "pi_3CardAntena0001",
        "object": "payment_intent",
        "amount_received": 25000,
        "currency": "mxn",
        "status": "succeeded",
        "metadata": {"payment_public_id": str(payment.public_id)},
    }
    succeeded = deliver(client, api.event("payment_intent.succeeded", intent, event_id="evt_2"))
    assert succeeded.json()["outcomes"] == ["already_paid"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30


def test_an_unpaid_completed_session_credits_nothing(client, juan, oxxo_payment):
    session = {
        "id": "cs_test_x",
        "object": "checkout.session",
        "amount_total": 25000,
        "currency": "mxn",
        "payment_status": "unpaid",
        "metadata": {"payment_public_id": str(oxxo_payment.public_id)},
    }
    response = deliver(client, api.event("checkout.session.completed", session))
    assert (response.status_code, response.json()["outcomes"]) == (200, [])
    oxxo_payment.refresh_from_db()
    assert oxxo_payment.status == "pending"


def _assert_nothing_changed(juan, payment, before):
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert not LedgerEntry.objects.exists()
    contract = juan.contracts.get()
    assert contract.credit_days() == before


@pytest.mark.parametrize(
    "header",
    [
        "",
        "t=1700000000",
        "t=now,v1=abc",
        f"t={int(time.time())},v1={'0' * 64}",
        f"t={int(time.time())},v0=whatever",
        f"t={int(time.time())},v1=ñ",
    ],
)
def test_a_bad_or_missing_signature_is_400_and_changes_nothing(client, juan, oxxo_payment, header):
    before = juan.contracts.get().credit_days()
    response = deliver(client, intent_succeeded(oxxo_payment), header=header)
    assert response.status_code == 400
    _assert_nothing_changed(juan, oxxo_payment, before)
    assert WebhookDelivery.objects.get().outcome == "rejected"


def test_a_signature_with_another_secret_is_400(client, juan, oxxo_payment):
    before = juan.contracts.get().credit_days()
    response = deliver(client, intent_succeeded(oxxo_payment), secret="whsec_someone_else")
    assert response.status_code == 400
    _assert_nothing_changed(juan, oxxo_payment, before)


def test_a_tampered_body_is_400(client, juan, oxxo_payment):
    before = juan.contracts.get().credit_days()
    body = json.dumps(intent_succeeded(oxxo_payment)).encode()
    header = api.signature_header(body)
    response = deliver(client, body.replace(b"25000", b"99999"), header=header)
    assert response.status_code == 400
    _assert_nothing_changed(juan, oxxo_payment, before)


# Well past the 300 s, so that the second the request takes cannot bring it back within.
@pytest.mark.parametrize("offset", [-330, 330])
def test_a_timestamp_more_than_300_seconds_away_is_400(client, juan, oxxo_payment, offset):
    before = juan.contracts.get().credit_days()
    response = deliver(client, intent_succeeded(oxxo_payment), at=int(time.time()) + offset)
    assert response.status_code == 400
    assert "tolerance" in response.json()["error"]
    _assert_nothing_changed(juan, oxxo_payment, before)


def test_a_timestamp_within_300_seconds_is_accepted(client, juan, oxxo_payment):
    response = deliver(client, intent_succeeded(oxxo_payment), at=int(time.time()) - 240)
    assert response.json()["outcomes"] == ["credited"]


def test_signed_garbage_is_400(client, juan, oxxo_payment):
    for body in (b"not json", b"[]", b'{"type": "payment_intent.succeeded"}'):
        assert deliver(client, body).status_code == 400
    broken = intent_succeeded(oxxo_payment)
    del broken["data"]["object"]["amount_received"]
    assert deliver(client, broken).status_code == 400
    oxxo_payment.refresh_from_db()
    assert oxxo_payment.status == "pending"


@pytest.mark.parametrize("kind", ["payment_intent.created", "customer.created", "charge.refunded"])
def test_other_event_types_are_acknowledged_and_ignored(client, juan, oxxo_payment, kind):
    before = juan.contracts.get().credit_days()
    payload = intent_succeeded(oxxo_payment)
    payload["type"] = kind
    response = deliver(client, payload)
    assert response.status_code == 200
    assert response.json()["outcomes"] == []
    assert WebhookDelivery.objects.get().outcome == "ignored"
    _assert_nothing_changed(juan, oxxo_payment, before)


def test_an_amount_different_from_the_intent_is_held_not_credited(client, juan, oxxo_payment):
    before = juan.contracts.get().credit_days()
    response = deliver(client, intent_succeeded(oxxo_payment, amount_received=20000))
    assert response.json()["outcomes"] == ["held"]
    oxxo_payment.refresh_from_db()
    assert (oxxo_payment.status, oxxo_payment.paid_amount) == ("held", Decimal("200.00"))
    assert not LedgerEntry.objects.exists()
    assert juan.contracts.get().credit_days() == before
    assert PaymentEvent.objects.filter(payment=oxxo_payment, kind="held").exists()


def test_another_providers_payment_is_not_touched(client, juan, oxxo_payment):
    from tests.factories import ProviderFactory

    other = ProviderFactory(code="222")
    account = GatewayAccount(provider=other, gateway="stripe")
    account.credentials = {"secret_key": "sk_test_other", "webhook_secret": "whsec_other"}
    account.save()
    body = json.dumps(intent_succeeded(oxxo_payment)).encode()
    response = client.post(
        "/webhooks/stripe/222/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=api.signature_header(body, secret="whsec_other"),
    )
    assert response.json()["outcomes"] == ["unknown_payment"]
    oxxo_payment.refresh_from_db()
    assert oxxo_payment.status == "pending"


# Secrets.


def test_secrets_never_reach_logs_or_stored_records(
    client, juan, stripe_account, stripe_api, caplog
):
    caplog.set_level(logging.DEBUG)
    # Stripe's 401 quotes the key it was given; none of it may travel on.
    stripe_api.expect_ordered_request("/v1/payment_intents", method="POST").respond_with_response(
        api.error(401, "invalid_request_error", f"Invalid API Key provided: {SECRET_KEY}")
    )
    stripe_api.expect_ordered_request("/v1/payment_intents", method="POST").respond_with_handler(
        lambda request: api.ok(api.payment_intent_oxxo(api.form(request)))
    )
    client.force_login(juan)
    plan = juan.contracts.get().plan
    assert GATEWAY_FAILED in buy(client, plan, follow=True).text
    buy(client, plan)
    payment = Payment.objects.get()
    deliver(client, intent_succeeded(payment))
    deliver(client, intent_succeeded(payment), secret="whsec_wrong")

    assert "gateway failed gateway=stripe" in caplog.text
    stored = json.dumps(
        [
            list(WebhookDelivery.objects.values("headers", "detail", "body")),
            list(PaymentEvent.objects.values_list("note", flat=True)),
        ]
    )
    for secret in (SECRET_KEY, WEBHOOK_SECRET, SECRET_KEY[8:], WEBHOOK_SECRET[6:]):
        assert secret not in caplog.text
        assert secret not in stored
    assert SECRET_KEY not in GatewayAccount.objects.get(pk=stripe_account.pk).credentials_encrypted

"""Mercado Pago through a real HTTP server on 127.0.0.1 answering with Mercado Pago's
documented shapes: Factura → PAGAR → Checkout Pro, failures retried with the same
idempotency key, and signed payment notifications that make us ask Mercado Pago for the
payment and credit it exactly once."""

import datetime
import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from billing.models import LedgerEntry
from payments.gateways import mercadopago as mp_gateway
from payments.gateways.mercadopago import signature_manifest, verify_signature
from payments.models import GatewayAccount, Payment, PaymentEvent, WebhookDelivery
from tests.billing.factories import issue
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

ACCESS_TOKEN = "APP_USR-4321098765432109-112316-0a1b2c3d4e5f60718293a4b5c6d7e8f9-1234567890"
WEBHOOK_SECRET = "f3a9c1d27b5e4f08a6c2d9e1b7f40c5a8d3e6b1f9c2a7d4e0b8f5c3a1d6e9b2"
PREFERENCE_ID = "1234567890-7a3c9f0e-5b2d-4e8a-9c1f-2d6b8e0a4c7f"
INIT_POINT = f"https://www.mercadopago.com.ar/checkout/v1/redirect?pref_id={PREFERENCE_ID}"
MP_PAYMENT_ID = 118675432109
REQUEST_ID = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"
GATEWAY_FAILED = "No pudimos generar tu referencia, intenta de nuevo."
WEBHOOK_URL = "/webhooks/mercadopago/222/"


# What Mercado Pago answers (shapes from its API reference).


def _json(body: dict, status: int = 200) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={"x-request-id": "mp-req-0001"},
    )


def preference_created(request: Request) -> Response:
    """POST /checkout/preferences → 201 with the preference, its id and init_point."""
    sent = json.loads(request.get_data())
    return _json(
        {
            "id": PREFERENCE_ID,
            "collector_id": 1234567890,
            "client_id": "4321098765432109",
            "operation_type": "regular_payment",
            "date_created": "2026-11-23T15:00:00.000-04:00",
            "items": sent["items"],
            "payer": {"email": "", "name": "", "surname": ""},
            "back_urls": sent["back_urls"],
            "auto_return": sent["auto_return"],
            "notification_url": sent["notification_url"],
            "external_reference": sent["external_reference"],
            "expires": sent.get("expires", False),
            "expiration_date_from": sent.get("expiration_date_from"),
            "expiration_date_to": sent.get("expiration_date_to"),
            "init_point": INIT_POINT,
            "sandbox_init_point": INIT_POINT.replace("www.", "sandbox."),
        },
        status=201,
    )


def mp_error(status: int, error: str, message: str) -> Response:
    return _json({"message": message, "error": error, "status": status, "cause": []}, status)


def mp_payment(
    payment: Payment,
    *,
    status="approved",
    amount=2590,
    currency="ARS",
    payment_id=MP_PAYMENT_ID,
    date_approved="2026-11-23T16:04:05.000-04:00",
) -> dict:
    """GET /v1/payments/{id}: the payment as Mercado Pago knows it."""
    return {
        "id": payment_id,
        "date_created": "2026-11-23T16:03:58.000-04:00",
        "date_approved": date_approved if status == "approved" else None,
        "date_last_updated": "2026-11-23T16:04:05.000-04:00",
        "money_release_date": None,
        "operation_type": "regular_payment",
        "payment_method_id": "account_money",
        "payment_type_id": "account_money",
        "status": status,
        "status_detail": {"approved": "accredited", "pending": "pending_waiting_payment"}.get(
            status, "cc_rejected_other_reason"
        ),
        "currency_id": currency,
        "description": payment.concept,
        "collector_id": 1234567890,
        "payer": {"id": "987654321", "email": "test_user_ar@testuser.com"},
        "metadata": {"payment_public_id": str(payment.public_id)},
        "external_reference": str(payment.public_id),
        "transaction_amount": amount,
        "transaction_amount_refunded": 0,
        "transaction_details": {"net_received_amount": 0, "total_paid_amount": amount},
        "installments": 1,
        "live_mode": False,
    }


def payments_search(payments: list[dict]):
    """GET /v1/payments/search over `payments` (read at each request, so a test may add
    to it): filtered by external_reference and status, sorted by `sort` and `criteria`,
    cut at `limit`, in the documented envelope."""

    def answer(request: Request) -> Response:
        found = [
            payment
            for payment in payments
            if all(
                str(payment.get(name)) == request.args[name]
                for name in ("external_reference", "status")
                if name in request.args
            )
        ]
        if "sort" in request.args:
            found.sort(
                key=lambda payment: str(payment[request.args["sort"]]),
                reverse=request.args.get("criteria") == "desc",
            )
        limit = int(request.args.get("limit", 30))
        return _json(
            {"paging": {"total": len(found), "limit": limit, "offset": 0}, "results": found[:limit]}
        )

    return answer


def signature(data_id, *, request_id=REQUEST_ID, ts=None, secret=WEBHOOK_SECRET) -> str:
    """x-signature as Mercado Pago sends it: ts, and v1 = HMAC-SHA256 hex of the manifest."""
    ts = str(int(time.time() * 1000)) if ts is None else ts
    data_id = str(data_id)
    if data_id.isalnum():
        data_id = data_id.lower()
    manifest = f"id:{data_id};request-id:{request_id};ts:{ts};"
    v1 = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={v1}"


def notify(client, payment_id=MP_PAYMENT_ID, *, header=None, kind="payment", **sign_kwargs):
    """Mercado Pago's webhook: POST ?data.id=…&type=… with the JSON body it documents."""
    body = {
        "action": "payment.updated",
        "api_version": "v1",
        "data": {"id": str(payment_id)},
        "date_created": "2026-11-23T16:04:06Z",
        "id": 117654321098,
        "live_mode": False,
        "type": kind,
        "user_id": "1234567890",
    }
    headers = {"x-request-id": REQUEST_ID}
    if header is None:
        header = signature(payment_id, **sign_kwargs)
    if header:
        headers["x-signature"] = header
    return client.post(
        f"{WEBHOOK_URL}?data.id={payment_id}&type={kind}",
        data=json.dumps(body),
        content_type="application/json",
        headers=headers,
    )


# Fixtures.


@pytest.fixture(scope="module")
def _mp_server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def mp_api(_mp_server):
    _mp_server.clear()
    yield _mp_server
    _mp_server.clear()


@pytest.fixture
def laura(interatos):
    """A postpaid Interatos subscriber with one open invoice of $ 2.590,00."""
    user = UserFactory(provider=interatos, username="laura@interatos")
    plan = PlanFactory(provider=interatos, name="PLAN 6 MEGAS", price=Decimal("2590.00"))
    contract = ContractFactory(
        provider=interatos,
        number="2002",
        user=user,
        plan=plan,
        billing_mode="postpaid",
        paid_until=None,
    )
    issue(contract, amount="2590.00")
    return user


@pytest.fixture
def invoice(laura):
    return laura.contracts.get().invoices.get()


@pytest.fixture
def mp_account(interatos, mp_api):
    account = GatewayAccount(
        provider=interatos, gateway="mercadopago", expiry_days=3, base_url=mp_api.url_for("")
    )
    account.credentials = {"access_token": ACCESS_TOKEN, "webhook_secret": WEBHOOK_SECRET}
    account.save()
    return account


def pay(client, invoice, **kwargs):
    return client.post(
        "/pagos/nuevo/", {"invoice": invoice.number, "method": "mercadopago:checkout"}, **kwargs
    )


def requests_to(mp_api, path):
    return [request for request, _response in mp_api.log if request.path == path]


@pytest.fixture
def checkout(client, laura, invoice, mp_account, mp_api):
    """Laura chose Mercado Pago for her invoice and was sent to Checkout Pro."""
    mp_api.expect_request("/checkout/preferences", method="POST").respond_with_handler(
        preference_created
    )
    client.force_login(laura)
    pay(client, invoice)
    payment = Payment.objects.get()
    # The server notes a request in its log after answering it: clearing the log before
    # the note lands would leave the preference's request in the test's log.
    deadline = time.monotonic() + 5
    while not mp_api.log and time.monotonic() < deadline:
        time.sleep(0.01)
    mp_api.clear()
    return payment


def answer_payment(mp_api, payment, **kwargs):
    mp_api.expect_request(f"/v1/payments/{MP_PAYMENT_ID}", method="GET").respond_with_json(
        mp_payment(payment, **kwargs)
    )


def payment_entries():
    return LedgerEntry.objects.filter(kind="payment").count()


# Factura → PAGAR → Seleccione el Pago → Mercado Pago.


def test_pagar_with_mercado_pago_sends_the_subscriber_to_checkout_pro(
    client, laura, invoice, mp_account, mp_api
):
    mp_api.expect_request("/checkout/preferences", method="POST").respond_with_handler(
        preference_created
    )
    client.force_login(laura)
    detail = client.get(f"/facturas/{invoice.number}/").text
    assert "PAGAR" in detail and "IMPAGA" in detail
    assert f'href="/facturas/{invoice.number}/pagar/"' in detail
    choose = client.get(f"/facturas/{invoice.number}/pagar/").text
    assert "Seleccione el Pago" in choose and "$ 2.590,00" in choose
    assert 'value="mercadopago:checkout"' in choose and "Mercado Pago" in choose

    response = pay(client, invoice)

    payment = Payment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == INIT_POINT
    (request,) = requests_to(mp_api, "/checkout/preferences")
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.headers["X-Idempotency-Key"] == str(payment.idempotency_key)
    assert request.headers["Content-Type"] == "application/json"
    raw = request.get_data(as_text=True)
    body = json.loads(raw, parse_float=Decimal)
    (item,) = body["items"]
    assert item["title"] == f"Factura Nº {invoice.number}"
    assert item["quantity"] == 1
    assert item["currency_id"] == "ARS"
    assert item["unit_price"] == Decimal("2590.00")
    assert '"unit_price": 2590.0' in raw  # a JSON number, not a string
    assert body["external_reference"] == str(payment.public_id)
    assert body["notification_url"] == "http://testserver/webhooks/mercadopago/222/"
    detail_url = f"http://testserver/pagos/{payment.public_id}/"
    assert body["back_urls"] == {
        "success": detail_url,
        "failure": detail_url,
        "pending": detail_url,
    }
    assert body["auto_return"] == "approved"
    assert body["expires"] is True
    expires_to = datetime.datetime.fromisoformat(body["expiration_date_to"])
    assert body["expiration_date_to"].endswith("-03:00")  # Córdoba time, ISO 8601 with ms
    assert expires_to == payment.expires_at
    assert body["date_of_expiration"] == body["expiration_date_to"]
    assert payment.expires_at - datetime.datetime.now(tz=datetime.UTC) > datetime.timedelta(
        days=2, hours=23
    )

    assert (payment.external_id, payment.checkout_url) == (PREFERENCE_ID, INIT_POINT)
    assert (payment.amount, payment.currency, payment.status) == (
        Decimal("2590.00"),
        "ARS",
        "pending",
    )
    assert payment.invoice == invoice


def test_asking_again_sends_to_the_same_checkout_without_a_second_preference(
    client, laura, invoice, checkout, mp_api
):
    response = pay(client, invoice)
    assert response["Location"] == INIT_POINT
    assert requests_to(mp_api, "/checkout/preferences") == []
    assert Payment.objects.count() == 1


def _fails_with_500(request):
    return mp_error(500, "internal_server_error", "Internal server error")


def _fails_with_401(request):
    return mp_error(401, "unauthorized", "invalid access token")


def _times_out(request):
    time.sleep(1.5)
    return preference_created(request)


@pytest.mark.parametrize("failure", [_fails_with_500, _fails_with_401, _times_out])
def test_a_mercado_pago_failure_shows_a_message_and_the_retry_keeps_the_key(
    client, laura, invoice, mp_account, mp_api, monkeypatch, failure
):
    monkeypatch.setattr(mp_gateway, "TIMEOUT_SECONDS", 0.5)
    answers = [failure, preference_created]
    keys = []  # noted on arrival: a timed-out request reaches the server log only later

    def answer(request):
        keys.append(request.headers["X-Idempotency-Key"])
        return answers.pop(0)(request)

    mp_api.expect_request("/checkout/preferences", method="POST").respond_with_handler(answer)
    client.force_login(laura)

    first = pay(client, invoice, follow=True)
    assert GATEWAY_FAILED in first.text
    assert "Seleccione el Pago" in first.text  # back on the invoice's payment page
    payment = Payment.objects.get()
    assert (payment.external_id, payment.checkout_url, payment.status) == ("", "", "pending")

    second = pay(client, invoice)
    assert second["Location"] == INIT_POINT
    payment.refresh_from_db()
    assert keys == [str(payment.idempotency_key)] * 2
    assert payment.checkout_url == INIT_POINT
    assert Payment.objects.count() == 1


def test_mercado_pago_unreachable_shows_the_message(client, laura, invoice, mp_account):
    mp_account.base_url = "http://127.0.0.1:9"  # discard port: nothing listens
    mp_account.save()
    client.force_login(laura)
    assert GATEWAY_FAILED in pay(client, invoice, follow=True).text
    assert Payment.objects.get().checkout_url == ""


# Payment notifications.


def test_a_signed_notification_fetches_the_payment_and_credits_the_invoice_once(
    client, laura, invoice, checkout, mp_api
):
    answer_payment(mp_api, checkout)

    response = notify(client)

    assert response.status_code == 200
    assert response.json()["outcomes"] == ["credited"]
    (fetch,) = requests_to(mp_api, f"/v1/payments/{MP_PAYMENT_ID}")
    assert fetch.method == "GET"
    assert fetch.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    checkout.refresh_from_db()
    assert (checkout.status, checkout.paid_amount) == ("paid", Decimal("2590.00"))
    assert checkout.paid_at == datetime.datetime(2026, 11, 23, 20, 4, 5, tzinfo=datetime.UTC)
    invoice.refresh_from_db()
    assert invoice.amount_due == 0
    assert "PAGADA" in client.get(f"/facturas/{invoice.number}/").text
    assert payment_entries() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_id == f"payment:{MP_PAYMENT_ID}:approved"
    assert delivery.headers["X-Request-Id"] == REQUEST_ID

    again = notify(client)  # Mercado Pago delivers the same notification again

    assert again.status_code == 200
    assert again.json()["outcomes"] == ["duplicate"]
    assert payment_entries() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("2590.00")
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "processed",
        "duplicate",
    ]


def test_data_id_may_come_only_in_the_body(client, checkout, mp_api):
    answer_payment(mp_api, checkout)
    body = {"action": "payment.created", "type": "payment", "data": {"id": str(MP_PAYMENT_ID)}}
    response = client.post(
        WEBHOOK_URL,
        data=json.dumps(body),
        content_type="application/json",
        headers={"x-request-id": REQUEST_ID, "x-signature": signature(MP_PAYMENT_ID)},
    )
    assert response.json()["outcomes"] == ["credited"]


def _assert_nothing_credited(payment, invoice):
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert payment_entries() == 0
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("0.00")


@pytest.mark.parametrize(
    "header",
    [
        "",
        "ts=1700000000000",
        "v1=" + "0" * 64,
        "ts=1700000000000,v1=" + "0" * 64,
        "ts=1700000000000,v1=ñ",
        signature(MP_PAYMENT_ID, secret="someone-elses-secret"),
        signature(MP_PAYMENT_ID + 1),
        signature(MP_PAYMENT_ID, request_id="another-request"),
    ],
    ids=[
        "missing",
        "no-v1",
        "no-ts",
        "zeros",
        "not-hex",
        "other-secret",
        "other-id",
        "other-request-id",
    ],
)
def test_a_bad_signature_is_400_and_mercado_pago_is_not_asked(
    client, invoice, checkout, mp_api, header
):
    answer_payment(mp_api, checkout)
    response = notify(client, header=header)
    assert response.status_code == 400
    assert mp_api.log == []
    _assert_nothing_credited(checkout, invoice)
    assert WebhookDelivery.objects.get().outcome == "rejected"


@pytest.mark.parametrize("status", ["pending", "in_process", "rejected", "cancelled"])
def test_a_payment_not_approved_credits_nothing(client, invoice, checkout, mp_api, status):
    answer_payment(mp_api, checkout, status=status)
    response = notify(client)
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["not_paid"]
    _assert_nothing_credited(checkout, invoice)


def test_pending_then_approved_credits_when_approved(client, invoice, checkout, mp_api):
    mp_api.expect_ordered_request(f"/v1/payments/{MP_PAYMENT_ID}").respond_with_json(
        mp_payment(checkout, status="pending")
    )
    mp_api.expect_ordered_request(f"/v1/payments/{MP_PAYMENT_ID}").respond_with_json(
        mp_payment(checkout, status="approved")
    )
    assert notify(client).json()["outcomes"] == ["not_paid"]
    assert notify(client).json()["outcomes"] == ["credited"]
    assert payment_entries() == 1


def test_an_amount_different_from_the_invoice_is_held(client, invoice, checkout, mp_api):
    answer_payment(mp_api, checkout, amount=2000.5)
    response = notify(client)
    assert response.json()["outcomes"] == ["held"]
    checkout.refresh_from_db()
    assert (checkout.status, checkout.paid_amount) == ("held", Decimal("2000.50"))
    assert payment_entries() == 0
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("0.00")
    assert PaymentEvent.objects.filter(payment=checkout, kind="held").exists()


def test_another_currency_is_held(client, invoice, checkout, mp_api):
    answer_payment(mp_api, checkout, currency="BRL")
    assert notify(client).json()["outcomes"] == ["held"]
    assert payment_entries() == 0


def _payment_fetch_times_out(request):
    time.sleep(1.5)
    return Response("{}", content_type="application/json")


@pytest.mark.parametrize(
    "failure",
    [
        lambda request: mp_error(500, "internal_server_error", "Internal server error"),
        lambda request: mp_error(401, "unauthorized", "invalid access token"),
        _payment_fetch_times_out,
        lambda request: Response("<html>bad gateway</html>", content_type="text/html"),
    ],
    ids=["500", "401", "timeout", "not-json"],
)
def test_when_mercado_pago_cannot_confirm_we_answer_503_and_credit_later(
    client, invoice, checkout, mp_api, monkeypatch, failure
):
    monkeypatch.setattr(mp_gateway, "TIMEOUT_SECONDS", 0.5)
    mp_api.expect_ordered_request(f"/v1/payments/{MP_PAYMENT_ID}").respond_with_handler(failure)
    mp_api.expect_ordered_request(f"/v1/payments/{MP_PAYMENT_ID}").respond_with_json(
        mp_payment(checkout)
    )

    response = notify(client)

    assert response.status_code == 503
    _assert_nothing_credited(checkout, invoice)
    assert WebhookDelivery.objects.get().outcome == "received"

    retried = notify(client)  # Mercado Pago retries the delivery later
    assert retried.json()["outcomes"] == ["credited"]
    assert payment_entries() == 1
    # The fake server is shared: let the timed-out fetch land in its log before the next
    # test reads that log.
    time.sleep(1.2 if failure is _payment_fetch_times_out else 0)


@pytest.mark.parametrize("kind", ["merchant_order", "subscription_preapproval", "point"])
def test_other_notification_types_are_acknowledged_and_ignored(
    client, invoice, checkout, mp_api, kind
):
    response = notify(client, kind=kind)
    assert response.status_code == 200
    assert response.json()["outcomes"] == []
    assert mp_api.log == []
    assert WebhookDelivery.objects.get().outcome == "ignored"
    _assert_nothing_credited(checkout, invoice)


@pytest.mark.parametrize("header", ["", "ts=1,v1=" + "0" * 64])
def test_another_notification_type_badly_signed_is_400_too(client, checkout, mp_api, header):
    response = notify(client, kind="merchant_order", header=header)
    assert response.status_code == 400
    assert mp_api.log == []
    assert WebhookDelivery.objects.get().outcome == "rejected"


def test_a_signed_notification_without_a_numeric_id_is_400(client, checkout, mp_api):
    response = notify(client, payment_id="ABC-123")  # signed, but not a payment id
    assert response.status_code == 400
    assert mp_api.log == []


def test_another_providers_payment_is_not_touched(client, invoice, checkout, mp_api):
    other = ProviderFactory(code="333", currency="ARS")
    account = GatewayAccount(provider=other, gateway="mercadopago", base_url=mp_api.url_for(""))
    account.credentials = {"access_token": "APP_USR-other", "webhook_secret": "other-secret"}
    account.save()
    answer_payment(mp_api, checkout)  # Interatos's payment, reported to ISP 333
    response = client.post(
        f"/webhooks/mercadopago/333/?data.id={MP_PAYMENT_ID}&type=payment",
        data=json.dumps({"type": "payment", "data": {"id": str(MP_PAYMENT_ID)}}),
        content_type="application/json",
        headers={
            "x-request-id": REQUEST_ID,
            "x-signature": signature(MP_PAYMENT_ID, secret="other-secret"),
        },
    )
    assert response.json()["outcomes"] == ["unknown_payment"]
    _assert_nothing_credited(checkout, invoice)


# The signature scheme itself.


def test_the_manifest_lowercases_alphanumeric_ids_and_leaves_out_missing_pairs():
    assert (
        signature_manifest(data_id="ABC123def", request_id="r-1", ts="1704908010")
        == "id:abc123def;request-id:r-1;ts:1704908010;"
    )
    assert signature_manifest(data_id="123", request_id="", ts="99") == "id:123;ts:99;"
    assert signature_manifest(data_id="A-1", request_id="r", ts="1") == "id:A-1;request-id:r;ts:1;"


def test_an_uppercase_id_verifies_against_its_lowercase_manifest():
    ts = "1704908010"
    v1 = hmac.new(b"s3cret", f"id:abc123;request-id:r;ts:{ts};".encode(), hashlib.sha256)
    verify_signature(
        data_id="ABC123", request_id="r", header=f"ts={ts},v1={v1.hexdigest()}", secret="s3cret"
    )


# Secrets.


def test_the_access_token_never_reaches_logs_or_stored_records(
    client, laura, invoice, mp_account, mp_api, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    mp_api.expect_ordered_request("/checkout/preferences", method="POST").respond_with_response(
        mp_error(401, "unauthorized", f"invalid access token {ACCESS_TOKEN}")
    )
    mp_api.expect_ordered_request("/checkout/preferences", method="POST").respond_with_handler(
        preference_created
    )
    client.force_login(laura)
    assert GATEWAY_FAILED in pay(client, invoice, follow=True).text
    pay(client, invoice)
    payment = Payment.objects.get()
    mp_api.expect_ordered_request(f"/v1/payments/{MP_PAYMENT_ID}").respond_with_response(
        mp_error(401, "unauthorized", f"invalid access token {ACCESS_TOKEN}")
    )
    mp_api.expect_ordered_request(f"/v1/payments/{MP_PAYMENT_ID}").respond_with_json(
        mp_payment(payment)
    )
    assert notify(client).status_code == 503
    assert notify(client).json()["outcomes"] == ["credited"]
    assert notify(client, secret="wrong").status_code == 400

    assert "gateway failed gateway=mercadopago" in caplog.text
    assert "http_status=401" in caplog.text
    stored = json.dumps(
        [
            list(WebhookDelivery.objects.values("headers", "detail", "body")),
            list(PaymentEvent.objects.values_list("note", flat=True)),
        ]
    )
    for secret in (ACCESS_TOKEN, ACCESS_TOKEN[8:40], WEBHOOK_SECRET, WEBHOOK_SECRET[8:40]):
        assert secret not in caplog.text
        assert secret not in stored
    assert ACCESS_TOKEN not in GatewayAccount.objects.get(pk=mp_account.pk).credentials_encrypted

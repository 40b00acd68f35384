"""OxxoPay (Digital FEMSA) through a real HTTP server on 127.0.0.1 that answers with the
documented order shapes: Planes prepago → Adquirir → OxxoPay → a 14-digit reference;
failures retried with the same idempotency key; `order.paid` webhooks that are believed
only after asking the gateway for the order, and credit exactly once."""

import copy
import datetime
import json
import logging
import re
import threading
import time
from decimal import Decimal

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from billing.models import LedgerEntry
from core.text import digits_grouped
from payments.gateways import GatewayError
from payments.gateways import oxxopay as oxxopay_gateway
from payments.models import GatewayAccount, Payment, PaymentEvent, WebhookDelivery

pytestmark = pytest.mark.django_db

PRIVATE_KEY = "key_AntenaLocalOnlyPrivate0123456789ab"
REFERENCE = "93000123456789"
ORDER_ID = "ord_2tMtQQpDvfnNjiuFG"
BARCODE_URL = "https://s3.amazonaws.com/cash_payment_barcodes/sandbox_reference.png"
PAID_AT = 1_893_400_000  # 2029-12-31 08:26:40 UTC
EVENT_ID = "5e437b5a82c2726a53401590"
GATEWAY_FAILED = "No pudimos generar tu referencia, intenta de nuevo."
WEBHOOK_URL = "/webhooks/oxxopay/111/"
MEDIA_TYPE = "application/vnd.app-v2.1.0+json"


# A local stand-in for api.digitalfemsa.io.


def _answer(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type=MEDIA_TYPE)


def _error(status: int, kind: str, code: str, message: str) -> Response:
    """The documented error shape. The message quotes what was sent, as real ones can."""
    return _answer(
        {
            "details": [{"debug_message": message, "message": message, "code": code}],
            "object": "error",
            "type": kind,
            "log_id": "641b6d073cd9a50001515007",
        },
        status=status,
    )


class FakeOxxoPay:
    """POST /orders makes an order with a cash charge (honouring Idempotency-Key);
    GET /orders/{id} answers the order as it is now. Tests may queue other answers."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.orders: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.create_answers: list = []  # callables (request) -> Response, used once each
        self.fetch_answers: list = []
        self.keys_on_arrival: list[str] = []  # a timed-out request reaches server.log late
        self._lock = threading.Lock()
        server.expect_request("/orders", method="POST").respond_with_handler(self._create)
        server.expect_request(re.compile(r"^/orders/[^/]+$"), method="GET").respond_with_handler(
            self._fetch
        )

    # Handlers.

    def _create(self, request: Request) -> Response:
        self.keys_on_arrival.append(request.headers.get("Idempotency-Key", ""))
        if self.create_answers:
            return self.create_answers.pop(0)(request)
        return self.create(request)

    def create(self, request: Request) -> Response:
        with self._lock:
            key = request.headers.get("Idempotency-Key", "")
            if key in self.by_key:
                return _answer(self.orders[self.by_key[key]])
            order_id = ORDER_ID if not self.orders else f"{ORDER_ID[:-2]}{len(self.orders):02d}"
            reference = str(int(REFERENCE) + len(self.orders))
            self.orders[order_id] = self.order_from(request.get_json(), order_id, reference)
            self.by_key[key] = order_id
            return _answer(self.orders[order_id])

    def _fetch(self, request: Request) -> Response:
        if self.fetch_answers:
            return self.fetch_answers.pop(0)(request)
        order_id = request.path.rsplit("/", 1)[1]
        if order_id not in self.orders:
            return _error(
                404,
                "resource_not_found_error",
                "conekta.errors.resource_not_found.entity",
                "El recurso no ha sido encontrado.",
            )
        return _answer(self.orders[order_id])

    # Shapes.

    @staticmethod
    def order_from(body: dict, order_id: str, reference: str) -> dict:
        """What POST /orders answers for an order with one cash charge."""
        now = int(time.time())
        amount = sum(item["unit_price"] * item["quantity"] for item in body["line_items"])
        method = body["charges"][0]["payment_method"]
        return {
            "livemode": False,
            "amount": amount,
            "currency": body["currency"],
            "payment_status": "pending_payment",
            "amount_refunded": 0,
            "customer_info": {**body["customer_info"], "object": "customer_info"},
            "object": "order",
            "id": order_id,
            "metadata": body.get("metadata", {}),
            "is_refundable": False,
            "created_at": now,
            "updated_at": now,
            "line_items": {
                "object": "list",
                "has_more": False,
                "total": 1,
                "data": [
                    {
                        **item,
                        "object": "line_item",
                        "id": f"line_item_2tMtQQpDvfnNjiu{i}",
                        "parent_id": order_id,
                        "metadata": {},
                    }
                    for i, item in enumerate(body["line_items"])
                ],
            },
            "charges": {
                "object": "list",
                "has_more": False,
                "total": 1,
                "data": [
                    {
                        "id": "63efa757cf65380001aec040",
                        "livemode": False,
                        "created_at": now,
                        "currency": body["currency"],
                        "payment_method": {
                            "service_name": "OxxoPay",
                            "barcode_url": BARCODE_URL,
                            "object": "cash_payment",
                            "type": "oxxo",
                            "expires_at": method["expires_at"],
                            "store_name": "OXXO",
                            "reference": reference,
                        },
                        "object": "charge",
                        "description": "Payment from order",
                        "status": "pending_payment",
                        "amount": amount,
                        "paid_at": None,
                        "fee": 1041,
                        "customer_id": "",
                        "order_id": order_id,
                    }
                ],
            },
        }

    def mark_paid(self, order_id: str = ORDER_ID, *, paid_at: int = PAID_AT) -> dict:
        order = self.orders[order_id]
        order["payment_status"] = "paid"
        order["updated_at"] = paid_at
        charge = order["charges"]["data"][0]
        charge["status"] = "paid"
        charge["paid_at"] = paid_at
        return order

    # What reached the server.

    def requests(self, method: str, path_prefix: str) -> list[Request]:
        return [
            request
            for request, _response in self.server.log
            if request.method == method and request.path.startswith(path_prefix)
        ]


def order_paid_event(order: dict, *, event_id: str = EVENT_ID) -> dict:
    """An `order.paid` delivery as documented: the event wraps the order."""
    return {
        "id": event_id,
        "livemode": False,
        "object": "event",
        "type": "order.paid",
        "created_at": PAID_AT + 60,
        "data": {"object": order, "previous_attributes": {"payment_status": "pending_payment"}},
        "webhook_status": "pending",
        "webhook_logs": [
            {
                "id": "webhl_nPzGMBeQmMUu7aQ",
                "url": "https://antena.example/webhooks/oxxopay/111/",
                "failed_attempts": 0,
                "last_http_response_status": -1,
                "object": "webhook_log",
                "last_attempted_at": 0,
            }
        ],
    }


# Fixtures.


@pytest.fixture(scope="module")
def _server():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def oxxopay(_server):
    _server.clear()
    yield FakeOxxoPay(_server)
    _server.clear()


@pytest.fixture
def oxxopay_account(kona, oxxopay):
    account = GatewayAccount(
        provider=kona, gateway="oxxopay", expiry_days=3, base_url=oxxopay.server.url_for("")
    )
    account.credentials = {"private_key": PRIVATE_KEY}
    account.save()
    return account


def buy(client, plan, method="oxxopay:cash"):
    return client.post("/pagos/nuevo/", {"plan": plan.pk, "method": method})


def deliver(client, payload):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post(WEBHOOK_URL, data=body, content_type="application/json")


@pytest.fixture
def pending(client, juan, oxxopay_account, oxxopay):
    """Juan asked for Plan Básico by OxxoPay and got reference 93000123456789."""
    client.force_login(juan)
    buy(client, juan.contracts.get().plan)
    payment = Payment.objects.get()
    assert payment.reference == REFERENCE
    oxxopay.server.clear_log()
    return payment


# Planes prepago → Adquirir → OxxoPay.


def test_adquirir_offers_oxxopay(client, juan, oxxopay_account):
    plan = juan.contracts.get().plan
    client.force_login(juan)
    assert "Plan Básico" in client.get("/planes/").text
    page = client.get(f"/planes/{plan.pk}/adquirir/").text
    assert 'value="oxxopay:cash"' in page and ">OxxoPay<" in page


def test_oxxopay_gives_a_reference_with_barcode_amount_expiry_and_instructions(
    client, juan, oxxopay_account, oxxopay
):
    client.force_login(juan)
    before = int(time.time())
    response = buy(client, juan.contracts.get().plan)

    payment = Payment.objects.get()
    assert response["Location"] == f"/pagos/{payment.public_id}/"
    (request,) = oxxopay.requests("POST", "/orders")
    assert request.headers["Authorization"] == f"Bearer {PRIVATE_KEY}"
    assert request.headers["Accept"] == MEDIA_TYPE
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == str(payment.idempotency_key)
    body = request.get_json()
    assert body["currency"] == "MXN"
    assert body["customer_info"] == {
        "name": "Juan Pérez López",
        "email": "abonado-1002@kona.invalid",  # no e-mail on file: a placeholder
        "phone": "+525512345678",
    }
    assert body["line_items"] == [{"name": "Plan Básico", "unit_price": 25000, "quantity": 1}]
    (charge,) = body["charges"]
    assert charge["payment_method"]["type"] == "cash"
    expires_at = charge["payment_method"]["expires_at"]
    assert isinstance(expires_at, int)
    assert before + 3 * 86400 <= expires_at <= int(time.time()) + 3 * 86400
    assert body["metadata"]["payment_public_id"] == str(payment.public_id)
    assert body["metadata"]["contract"] == "1002"

    assert (payment.external_id, payment.reference) == (ORDER_ID, REFERENCE)
    assert payment.barcode_url == BARCODE_URL
    assert payment.expires_at == datetime.datetime.fromtimestamp(expires_at, tz=datetime.UTC)
    assert (payment.amount, payment.currency, payment.status) == (
        Decimal("250.00"),
        "MXN",
        "pending",
    )

    page = client.get(response["Location"]).text
    assert "OxxoPay" in page
    # Grouped for reading aloud: 9300 0123 4567 89.
    assert 'data-testid="reference">9300 0123 4567 89<' in page
    assert '<div class="barcode"' in page and "<svg" in page  # drawn here, inline
    assert "$250.00" in page
    expiry = timezone.localtime(payment.expires_at, juan.provider.tzinfo).strftime("%d/%m/%Y")
    assert f"<dd>{expiry}</dd>" in page
    assert "Acude a cualquier tienda OXXO" in page
    assert REFERENCE in client.get("/").text  # Inicio: Referencias pendientes


def test_the_email_on_file_is_sent(client, juan, oxxopay_account, oxxopay):
    juan.contracts.update(email="juan@example.mx")
    client.force_login(juan)
    buy(client, juan.contracts.get().plan)
    (request,) = oxxopay.requests("POST", "/orders")
    assert request.get_json()["customer_info"]["email"] == "juan@example.mx"


def test_asking_again_while_pending_shows_the_same_reference_without_a_second_order(
    client, juan, oxxopay_account, oxxopay
):
    plan = juan.contracts.get().plan
    client.force_login(juan)
    first = buy(client, plan)["Location"]
    second = buy(client, plan)["Location"]
    assert first == second
    assert Payment.objects.count() == 1
    assert len(oxxopay.requests("POST", "/orders")) == 1
    assert digits_grouped(REFERENCE) in client.get(second).text


# Failures: a message, nothing half-made, and a retry that cannot make a second order.


def _fails_with_500(oxxopay):
    return lambda request: _error(
        500, "api_error", "conekta.errors.api.system.general_failure", "Internal error"
    )


def _fails_with_422(oxxopay):
    return lambda request: _error(
        422,
        "parameter_validation_error",
        "conekta.errors.parameter_validation.customer_info.email.invalid",
        f"customer_info.email is invalid (Authorization: Bearer {PRIVATE_KEY})",
    )


def _times_out(oxxopay):
    def answer(request):
        time.sleep(1.5)
        return oxxopay.create(request)  # the gateway made the order; we never heard

    return answer


@pytest.mark.parametrize("failure", [_fails_with_500, _fails_with_422, _times_out])
def test_a_gateway_failure_shows_a_message_and_a_retry_reuses_the_idempotency_key(
    client, juan, oxxopay_account, oxxopay, monkeypatch, failure
):
    monkeypatch.setattr(oxxopay_gateway, "TIMEOUT_SECONDS", 0.5)
    oxxopay.create_answers.append(failure(oxxopay))
    plan = juan.contracts.get().plan
    client.force_login(juan)

    response = buy(client, plan)
    assert response["Location"] == f"/planes/{plan.pk}/adquirir/"
    assert GATEWAY_FAILED in client.get(response["Location"]).text
    payment = Payment.objects.get()
    assert (payment.reference, payment.external_id, payment.status) == ("", "", "pending")
    assert not PaymentEvent.objects.exists()
    home = client.get("/").text
    assert 'data-testid="pending-payments"' not in home and REFERENCE not in home

    time.sleep(1.2 if failure is _times_out else 0)  # let the timed-out order land first
    response = buy(client, plan)
    payment = Payment.objects.get()
    assert response["Location"] == f"/pagos/{payment.public_id}/"
    assert oxxopay.keys_on_arrival == [str(payment.idempotency_key)] * 2
    assert len(oxxopay.orders) == 1  # the timed-out order was not made twice
    assert (payment.external_id, payment.reference) == (ORDER_ID, REFERENCE)
    assert digits_grouped(REFERENCE) in client.get(response["Location"]).text


@pytest.mark.parametrize(
    "reference", ["9300012345678", "930001234567890", "93000A23456789", "", None]
)
def test_an_order_without_a_14_digit_reference_is_a_failure(
    client, juan, oxxopay_account, oxxopay, reference
):
    def odd(request):
        order = FakeOxxoPay.order_from(request.get_json(), ORDER_ID, REFERENCE)
        order["charges"]["data"][0]["payment_method"]["reference"] = reference
        return _answer(order)

    oxxopay.create_answers.append(odd)
    client.force_login(juan)
    response = buy(client, juan.contracts.get().plan)
    assert GATEWAY_FAILED in client.get(response["Location"]).text
    assert Payment.objects.get().reference == ""


def test_a_network_error_is_a_gateway_error(client, juan, oxxopay_account, oxxopay):
    oxxopay_account.base_url = "http://127.0.0.1:9/"  # discard port: connection refused
    oxxopay_account.save()
    client.force_login(juan)
    response = buy(client, juan.contracts.get().plan)
    assert GATEWAY_FAILED in client.get(response["Location"]).text
    assert Payment.objects.get().reference == ""


# Webhooks.


def test_order_paid_is_confirmed_with_the_gateway_and_credits_once(client, juan, pending, oxxopay):
    contract = juan.contracts.get()
    before = contract.credit_days()
    event = order_paid_event(oxxopay.mark_paid())

    response = deliver(client, event)
    assert response.status_code == 200
    assert response.json()["outcomes"] == ["credited"]
    (fetch,) = oxxopay.requests("GET", "/orders/")
    assert fetch.path == f"/orders/{ORDER_ID}"
    assert fetch.headers["Authorization"] == f"Bearer {PRIVATE_KEY}"
    assert fetch.headers["Accept"] == MEDIA_TYPE

    pending.refresh_from_db()
    assert pending.status == "paid"
    assert pending.paid_amount == Decimal("250.00")
    assert pending.paid_at == datetime.datetime.fromtimestamp(PAID_AT, tz=datetime.UTC)
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    assert f"<strong>{before + 30}</strong> días de crédito" in client.get("/").text

    again = deliver(client, event)  # the gateway retries the same event
    assert again.status_code == 200
    assert again.json()["outcomes"] == ["duplicate"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    contract.refresh_from_db()
    assert contract.credit_days() == before + 30
    assert list(WebhookDelivery.objects.order_by("pk").values_list("outcome", flat=True)) == [
        "processed",
        "duplicate",
    ]


def test_a_second_event_for_the_same_paid_order_credits_nothing_more(
    client, juan, pending, oxxopay
):
    order = oxxopay.mark_paid()
    assert deliver(client, order_paid_event(order)).json()["outcomes"] == ["credited"]
    second = deliver(client, order_paid_event(order, event_id="5e437b5a82c2726a53401591"))
    assert second.json()["outcomes"] == ["already_paid"]
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert juan.contracts.get().credit_days() == 35


def test_a_forged_order_paid_for_a_pending_order_credits_nothing(client, juan, pending, oxxopay):
    forged = copy.deepcopy(oxxopay.orders[ORDER_ID])
    forged["payment_status"] = "paid"
    forged["charges"]["data"][0]["status"] = "paid"
    response = deliver(client, order_paid_event(forged))

    assert response.status_code == 200
    assert response.json()["outcomes"] == ["not_paid"]
    assert len(oxxopay.requests("GET", f"/orders/{ORDER_ID}")) == 1
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert not LedgerEntry.objects.exists()
    assert juan.contracts.get().credit_days() == 5

    # The forger cannot use up the event's id: once really paid, its delivery credits.
    oxxopay.mark_paid()
    assert deliver(client, order_paid_event(forged)).json()["outcomes"] == ["credited"]
    assert juan.contracts.get().credit_days() == 35


def test_the_amount_the_gateway_reports_is_what_counts(client, juan, pending, oxxopay):
    order = oxxopay.mark_paid()
    order["amount"] = 20000  # paid less than asked, says the gateway
    claimed = copy.deepcopy(order)
    claimed["amount"] = 25000  # but the delivery claims the full amount
    response = deliver(client, order_paid_event(claimed))
    assert response.json()["outcomes"] == ["held"]
    pending.refresh_from_db()
    assert (pending.status, pending.paid_amount) == ("held", Decimal("200.00"))
    assert juan.contracts.get().credit_days() == 5


def _fetch_fails_with_500(request):
    return _error(500, "api_error", "conekta.errors.api.system.general_failure", "Internal")


def _fetch_times_out(request):
    time.sleep(1.5)
    return _error(500, "api_error", "conekta.errors.api.system.general_failure", "Internal")


def _fetch_fails_with_401(request):
    return _error(
        401,
        "authentication_error",
        "conekta.errors.authentication.invalid_key",
        f"Bearer {PRIVATE_KEY} is not a valid key",
    )


@pytest.mark.parametrize(
    "failure", [_fetch_fails_with_500, _fetch_times_out, _fetch_fails_with_401]
)
def test_when_the_order_cannot_be_fetched_the_answer_is_503_and_nothing_is_credited(
    client, juan, pending, oxxopay, monkeypatch, failure
):
    monkeypatch.setattr(oxxopay_gateway, "TIMEOUT_SECONDS", 0.5)
    oxxopay.fetch_answers.append(failure)
    event = order_paid_event(oxxopay.mark_paid())

    response = deliver(client, event)
    assert response.status_code == 503
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert not LedgerEntry.objects.exists()
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == "received" and "oxxopay get order" in delivery.detail

    # The gateway delivers again later; by then the order can be fetched.
    assert deliver(client, event).json()["outcomes"] == ["credited"]
    assert juan.contracts.get().credit_days() == 35
    # The fake server is shared: let the timed-out fetch land in its log before the next
    # test reads that log.
    time.sleep(1.2 if failure is _fetch_times_out else 0)


def test_an_order_the_gateway_does_not_know_is_rejected(client, pending, oxxopay):
    order = copy.deepcopy(oxxopay.mark_paid())
    order["id"] = "ord_2tMtQQpDvfnNjiuXX"
    response = deliver(client, order_paid_event(order))
    assert response.status_code == 400
    assert len(oxxopay.requests("GET", "/orders/ord_2tMtQQpDvfnNjiuXX")) == 1
    assert not LedgerEntry.objects.exists()
    assert WebhookDelivery.objects.get().outcome == "rejected"


@pytest.mark.parametrize("order_id", ["../customers", "ord_1/../../x", "", 42, None])
def test_an_order_id_that_is_not_an_id_is_rejected_without_asking(
    client, pending, oxxopay, order_id
):
    order = copy.deepcopy(oxxopay.mark_paid())
    order["id"] = order_id
    assert deliver(client, order_paid_event(order)).status_code == 400
    assert not oxxopay.requests("GET", "/")


@pytest.mark.parametrize("kind", ["order.created", "order.pending_payment", "charge.paid"])
def test_other_events_are_acknowledged_and_ignored(client, pending, oxxopay, kind):
    event = order_paid_event(oxxopay.mark_paid())
    event["type"] = kind
    response = deliver(client, event)
    assert response.status_code == 200
    assert response.json()["outcomes"] == []
    assert not oxxopay.requests("GET", "/")
    pending.refresh_from_db()
    assert pending.status == "pending"
    assert WebhookDelivery.objects.get().outcome == "ignored"


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"[]", b'"order.paid"', b'{"type": 7}', b"\xff\xfe"]
)
def test_a_body_that_is_not_an_event_is_400(client, pending, oxxopay, body):
    response = deliver(client, body)
    assert response.status_code == 400
    assert WebhookDelivery.objects.get().outcome == "rejected"
    assert not oxxopay.requests("GET", "/")


def test_an_order_paid_without_an_event_id_is_400(client, pending, oxxopay):
    event = order_paid_event(oxxopay.mark_paid())
    del event["id"]
    assert deliver(client, event).status_code == 400
    assert not LedgerEntry.objects.exists()


def test_the_private_key_never_reaches_logs_or_stored_rows(
    client, juan, oxxopay_account, oxxopay, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setattr(oxxopay_gateway, "TIMEOUT_SECONDS", 0.5)
    oxxopay.create_answers += [_fails_with_422(oxxopay), _fails_with_500(oxxopay)]
    plan = juan.contracts.get().plan
    client.force_login(juan)
    for _ in range(3):
        buy(client, plan)
    assert Payment.objects.get().reference == REFERENCE
    oxxopay.fetch_answers += [_fetch_fails_with_401, _fetch_times_out]
    event = order_paid_event(oxxopay.mark_paid())
    assert [deliver(client, event).status_code for _ in range(3)] == [503, 503, 200]

    assert "gateway failed gateway=oxxopay" in caplog.text  # the failures were logged
    assert "http_status=422" in caplog.text and "http_status=500" in caplog.text
    assert PRIVATE_KEY not in caplog.text
    for delivery in WebhookDelivery.objects.all():
        assert PRIVATE_KEY not in f"{delivery.detail} {delivery.headers} {delivery.body}"
    for note in PaymentEvent.objects.values_list("note", flat=True):
        assert PRIVATE_KEY not in note


# The adapter on its own.


def test_cents_are_exact():
    assert oxxopay_gateway.to_cents(Decimal("250.00")) == 25000
    assert oxxopay_gateway.to_cents(Decimal("0.29")) == 29  # 0.29 * 100 is 28.999… in float
    assert oxxopay_gateway.to_cents(Decimal("1234567.89")) == 123456789
    with pytest.raises(GatewayError):
        oxxopay_gateway.to_cents(Decimal("1.005"))


def test_without_a_base_url_the_production_api_is_called(juan, oxxopay_account, monkeypatch):
    seen = {}

    def fake_request(method, url, **kwargs):
        seen.update(method=method, url=url, timeout=kwargs["timeout"])
        raise oxxopay_gateway.requests.ConnectionError(f"cannot reach {url}")

    monkeypatch.setattr(oxxopay_gateway.requests, "request", fake_request)
    oxxopay_account.base_url = ""
    payment = Payment.objects.create(
        provider=juan.provider,
        contract=juan.contracts.get(),
        gateway="oxxopay",
        plan=juan.contracts.get().plan,
        amount=Decimal("250.00"),
        currency="MXN",
    )
    with pytest.raises(GatewayError, match="ConnectionError") as error:
        oxxopay_gateway.OxxoPayAdapter().start(
            payment=payment, account=oxxopay_account, urls=None, method="cash"
        )
    assert seen == {"method": "POST", "url": "https://api.digitalfemsa.io/orders", "timeout": 10.0}
    assert PRIVATE_KEY not in str(error.value)


def test_an_account_without_a_private_key_fails_without_calling(juan, oxxopay_account, oxxopay):
    oxxopay_account.credentials = {}
    oxxopay_account.save()
    payment = Payment.objects.create(
        provider=juan.provider,
        contract=juan.contracts.get(),
        gateway="oxxopay",
        plan=juan.contracts.get().plan,
        amount=Decimal("250.00"),
        currency="MXN",
    )
    with pytest.raises(GatewayError, match="no private key"):
        oxxopay_gateway.OxxoPayAdapter().start(
            payment=payment, account=oxxopay_account, urls=None, method="cash"
        )
    assert not oxxopay.requests("POST", "/")

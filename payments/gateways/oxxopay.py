"""OxxoPay (Digital FEMSA, Conekta's orders API): cash references paid at OXXO stores.

start(): POST /orders with one cash charge; the order's first charge carries the 14-digit
reference the cashier types in, a barcode image and the expiry. The payment's idempotency
key goes in the Idempotency-Key header, so asking again after a timeout gets the order
the gateway may already have made instead of a second reference.

webhook(): deliveries are not trusted. For `order.paid` we ask the gateway for the order
with the ISP's private key (GET /orders/{id}) and only believe what that answer says: the
status, the amount, the currency and our payment's public id in its metadata.

fetch(): the poller's safety net for a webhook that never came asks for the same order,
by the id start() stored as the payment's external id (GET /orders/{id}).

Requests go out with `requests`, a short timeout and no retries of our own; an error never
carries the private key or the gateway's message text (it may quote what we sent).
"""

import datetime
import json
import logging
import re
from decimal import Decimal
from urllib.parse import quote

import requests
from django.utils import timezone
from django.utils.translation import gettext as _

from . import GatewayError, PaymentUrls, RemotePayment, Started, WebhookRejected

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.digitalfemsa.io"
# The media type Digital FEMSA's API reference and SDKs send (Conekta's is
# application/vnd.conekta-v2.1.0+json; both 2.1.0 APIs share these shapes).
ACCEPT = "application/vnd.app-v2.1.0+json"
# Seconds to wait for the gateway; the subscriber is waiting on the other side.
TIMEOUT_SECONDS = 10.0
# The only event we act on; anything else is acknowledged and ignored.
PAID_EVENT = "order.paid"
# What an OXXO reference looks like: 14 digits.
REFERENCE = re.compile(r"\d{14}")
# Order ids go into a URL path: letters, digits, "_" and "-" only ("ord_2tMtQQpDvfnNjiuFG").
ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
EVENT_ID_MAX = 100
_SAFE_TOKEN = re.compile(r"[^A-Za-z0-9_.:-]")


def to_cents(amount: Decimal) -> int:
    """Decimal pesos → integer cents, exactly; never through float."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise GatewayError("oxxopay: the amount has fractions of a cent")
    return int(cents)


def _aware(timestamp) -> datetime.datetime | None:
    """A Unix timestamp from the gateway → an aware UTC datetime (None when absent)."""
    if timestamp in (None, "") or isinstance(timestamp, bool):
        return None
    try:
        return datetime.datetime.fromtimestamp(int(timestamp), tz=datetime.UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _token(value, limit: int = 60) -> str:
    """A value from the gateway made safe to put in a log line: short, no free text."""
    return _SAFE_TOKEN.sub("", str(value))[:limit] or "-"


def _private_key(account) -> str:
    key = account.credentials.get("private_key", "")
    if not key:
        raise GatewayError("oxxopay: the account has no private key")
    return key


def _base(account) -> str:
    return (account.base_url or DEFAULT_API_BASE).rstrip("/")


def _headers(key: str) -> dict[str, str]:
    return {
        "Accept": ACCEPT,
        "Accept-Language": "es",
        "Authorization": f"Bearer {key}",
    }


def _failure(what: str, response: requests.Response) -> GatewayError:
    """A non-2xx answer, described by its status and the error's type/code/log id only:
    the gateway's messages may quote the request (or the key), so they are left out."""
    kind = code = log_id = "-"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        kind = _token(body.get("type"))
        log_id = _token(body.get("log_id"))
        details = body.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            code = _token(details[0].get("code"), limit=80)
    return GatewayError(
        f"oxxopay {what}: http_status={response.status_code} type={kind} code={code} "
        f"log_id={log_id}"
    )


def _call(
    method: str,
    url: str,
    *,
    what: str,
    key: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    try:
        return requests.request(
            method,
            url,
            headers={**_headers(key), **(headers or {})},
            json=body,
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise GatewayError(f"oxxopay {what}: timed out after {TIMEOUT_SECONDS:g}s") from None
    except requests.RequestException as error:
        # The exception text holds the URL, never the headers; the class says enough.
        raise GatewayError(f"oxxopay {what}: {type(error).__name__}") from None


def _json_object(response: requests.Response, what: str) -> dict:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise GatewayError(f"oxxopay {what}: the answer is not a JSON object")
    return body


def _first_charge(order: dict) -> dict:
    charges = order.get("charges")
    data = charges.get("data") if isinstance(charges, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    return {}


def _order_money(order: dict, order_id: str) -> tuple[Decimal, str]:
    """What a paid order was paid: its amount (integer cents) in pesos, and its currency."""
    amount = order.get("amount")
    currency = order.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise GatewayError(f"oxxopay get order: order {order_id} has no amount")
    if not isinstance(currency, str) or not currency:
        raise GatewayError(f"oxxopay get order: order {order_id} has no currency")
    return Decimal(amount) / 100, currency.upper()


def _email_for(contract) -> str:
    """The order needs an e-mail. Without one on file, an address of the ISP's own
    domain that receives nothing (.invalid never resolves)."""
    user = getattr(contract, "user", None)
    email = contract.email or (user.email if user is not None else "")
    return email or f"abonado-{contract.number}@{contract.provider.handle_domain}.invalid"


def _is_http_url(value) -> bool:
    return (
        isinstance(value, str) and len(value) <= 500 and value.startswith(("https://", "http://"))
    )


class OxxoPayAdapter:
    code = "oxxopay"
    methods = ("cash",)

    # Starting a payment: one order with one cash charge.

    def start(self, *, payment, account, urls: PaymentUrls, method: str) -> Started:
        if method != "cash":
            raise GatewayError(f"oxxopay: unknown method {method!r}")
        if payment.currency.upper() != "MXN":
            from payments.services import PaymentError

            raise PaymentError(_("OXXO solo recibe pagos en pesos mexicanos."))
        key = _private_key(account)
        cents = to_cents(payment.amount)
        expires_at = timezone.now() + datetime.timedelta(days=account.expiry_days)
        response = _call(
            "POST",
            f"{_base(account)}/orders",
            what="create order",
            key=key,
            body=self._order_body(payment, cents=cents, expires_at=expires_at),
            headers={"Idempotency-Key": str(payment.idempotency_key)},
        )
        if not 200 <= response.status_code < 300:
            raise _failure("create order", response)
        return self._started(
            _json_object(response, "create order"), cents=cents, fallback_expiry=expires_at
        )

    def _order_body(self, payment, *, cents: int, expires_at: datetime.datetime) -> dict:
        contract = payment.contract
        customer = {"name": contract.holder_name, "email": _email_for(contract)}
        if contract.phone:
            customer["phone"] = str(contract.phone)
        return {
            "currency": payment.currency.upper(),
            "customer_info": customer,
            "line_items": [
                {
                    "name": payment.concept or payment.provider.name,
                    "unit_price": cents,
                    "quantity": 1,
                }
            ],
            "charges": [
                {"payment_method": {"type": "cash", "expires_at": int(expires_at.timestamp())}}
            ],
            "metadata": {
                "payment_public_id": str(payment.public_id),
                "contract": contract.number,
                "provider": payment.provider.code,
            },
        }

    def _started(self, order: dict, *, cents: int, fallback_expiry: datetime.datetime) -> Started:
        order_id = order.get("id")
        if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
            raise GatewayError("oxxopay create order: the answer has no order id")
        amount = order.get("amount")
        if amount is not None and (isinstance(amount, bool) or amount != cents):
            raise GatewayError(
                f"oxxopay create order: order {order_id} is for {_token(amount)} cents, not {cents}"
            )
        method = _first_charge(order).get("payment_method")
        method = method if isinstance(method, dict) else {}
        reference = method.get("reference")
        if not isinstance(reference, str) or not REFERENCE.fullmatch(reference):
            raise GatewayError(f"oxxopay create order: order {order_id} has no 14-digit reference")
        barcode_url = method.get("barcode_url")
        return Started(
            external_id=order_id,
            reference=reference,
            barcode_url=barcode_url if _is_http_url(barcode_url) else "",
            expires_at=_aware(method.get("expires_at")) or fallback_expiry,
        )

    # Webhooks: believe the gateway's answer to our own request, not the delivery.

    def webhook(self, *, request, account) -> list[RemotePayment]:
        try:
            event = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise WebhookRejected("not JSON") from None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise WebhookRejected("not an OxxoPay event")
        if event["type"] != PAID_EVENT:
            return []
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id or len(event_id) > EVENT_ID_MAX:
            raise WebhookRejected("the event has no id")
        order_id = self._order_id_of(event)
        order = self._order_fetch(account, order_id)
        if order is None:
            raise WebhookRejected("the gateway does not know that order")
        metadata = order.get("metadata") if isinstance(order.get("metadata"), dict) else {}
        public_id = str(metadata.get("payment_public_id") or "")
        if order.get("payment_status") != "paid":
            # Not paid by the gateway's own account: a forgery, or news ahead of the order.
            # The event id is kept apart so that the genuine delivery of this same event,
            # once the order is paid, is still processed (webhooks_apply dedupes by id).
            return [
                RemotePayment(
                    event_id=f"{event_id}:not_paid",
                    external_id=order_id,
                    paid=False,
                    payment_public_id=public_id,
                    extra={
                        "type": PAID_EVENT,
                        "payment_status": _token(order.get("payment_status")),
                    },
                )
            ]
        amount, currency = _order_money(order, order_id)
        paid_at = _aware(_first_charge(order).get("paid_at")) or _aware(event.get("created_at"))
        return [
            RemotePayment(
                event_id=event_id,
                external_id=order_id,
                paid=True,
                amount=amount,
                currency=currency,
                paid_at=paid_at,
                payment_public_id=public_id,
                extra={"type": PAID_EVENT},
            )
        ]

    def _order_id_of(self, event: dict) -> str:
        """The order an event is about: data.object is the order (or, in older
        deliveries, its charge, which names the order in order_id)."""
        data = event.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        if not isinstance(obj, dict):
            raise WebhookRejected("the event has no object")
        order_id = obj.get("order_id") if obj.get("object") == "charge" else obj.get("id")
        if not isinstance(order_id, str) or not ORDER_ID.fullmatch(order_id):
            raise WebhookRejected("the event names no order")
        return order_id

    # Asked directly: the poller, when a webhook never came.

    def fetch(self, *, payment, account) -> RemotePayment | None:
        """The order start() made for this payment, as the gateway has it now."""
        order_id = payment.external_id
        if not order_id:
            return None
        if not ORDER_ID.fullmatch(order_id):
            raise GatewayError(f"oxxopay get order: {_token(order_id)} is not an order id")
        order = self._order_fetch(account, order_id)
        if order is None:
            raise GatewayError(f"oxxopay get order: the gateway does not know order {order_id}")
        metadata = order.get("metadata") if isinstance(order.get("metadata"), dict) else {}
        public_id = str(metadata.get("payment_public_id") or "")
        if public_id != str(payment.public_id):
            raise GatewayError(f"oxxopay get order: order {order_id} is for another payment")
        status = order.get("payment_status")
        if status != "paid":
            return RemotePayment(
                event_id=f"poll:{order_id}",
                external_id=order_id,
                paid=False,
                payment_public_id=public_id,
                extra={"payment_status": _token(status)},
            )
        amount, currency = _order_money(order, order_id)
        return RemotePayment(
            event_id=f"poll:{order_id}",
            external_id=order_id,
            paid=True,
            amount=amount,
            currency=currency,
            paid_at=_aware(_first_charge(order).get("paid_at")),
            payment_public_id=public_id,
        )

    def _order_fetch(self, account, order_id: str) -> dict | None:
        """GET /orders/{id}: the order, or None when the gateway does not know it."""
        key = _private_key(account)
        response = _call(
            "GET", f"{_base(account)}/orders/{quote(order_id)}", what="get order", key=key
        )
        if response.status_code == 404:
            return None
        if not 200 <= response.status_code < 300:
            raise _failure("get order", response)
        order = _json_object(response, "get order")
        if order.get("id") != order_id:
            raise GatewayError(f"oxxopay get order: asked for {order_id}, got another order")
        return order

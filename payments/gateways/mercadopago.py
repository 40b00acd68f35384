"""Mercado Pago: Checkout Pro preferences and payment notifications (webhooks).

Starting a payment creates a preference (POST /checkout/preferences) carrying our payment's
public id as `external_reference` and its idempotency key as `X-Idempotency-Key`; the
subscriber is sent to its `init_point`.

A notification (POST to `notification_url`, `?data.id=…&type=payment`) is verified with
the webhook secret: the `x-signature` header holds `ts=…,v1=…`, and v1 is the hex
HMAC-SHA256 of the manifest `id:{data.id};request-id:{x-request-id};ts:{ts};` (data.id in
lower case when alphanumeric; a pair whose value did not come with the notification is
left out). A notification only says "payment N changed": the facts come from asking Mercado
Pago for payment N (GET /v1/payments/{id}) with our access token. Mercado Pago documents no
tolerance for `ts`, so none is enforced: a replayed notification only makes us ask again,
and what we credit is what Mercado Pago answers, once per (payment, status).

Asked directly (the poller, when a notification never came): our Payment's external id is
the preference's, not a Mercado Pago payment's (those exist only once the subscriber pays,
one per attempt), so the approved payments are searched by the `external_reference` we
set on the preference (GET /v1/payments/search).

Money: amounts are Decimal everywhere. Mercado Pago wants `unit_price` as a JSON number,
and the stdlib encoder cannot write a Decimal as one, so `_json_number` converts to float at
the JSON boundary only, after checking that the float's shortest repr is the same decimal
(always true for our amounts: at most 14 significant digits, within a double's 15). Answers
are parsed with `parse_float=Decimal`, so no float is ever read back.
"""

import datetime
import hashlib
import hmac
import json
import logging
import re
from decimal import Decimal, InvalidOperation

import requests
from django.utils import timezone

from . import GatewayError, PaymentUrls, RemotePayment, Started, WebhookRejected

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.mercadopago.com"
# Seconds to wait for Mercado Pago; the subscriber (or Mercado Pago's retry) is waiting.
TIMEOUT_SECONDS = 10.0
# Notification types acted on; anything else (merchant_order, plans…) is acknowledged.
PAYMENT_TYPE = "payment"
APPROVED = "approved"
# How many approved payments one search asks for: a preference paid twice is rare, and
# the first approval is the one that counts.
SEARCH_LIMIT = 10
# Payment ids are integers; nothing else reaches the URL we fetch.
_PAYMENT_ID = re.compile(r"^[0-9]{1,30}$")
_ALPHANUMERIC = re.compile(r"^[A-Za-z0-9]+$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")


def _json_number(amount: Decimal) -> float:
    """A Decimal as the float json writes with the very same digits, or GatewayError."""
    number = float(amount)
    if Decimal(repr(number)) != amount:
        raise GatewayError(f"mercadopago: amount {amount} cannot be sent exactly")
    return number


def _iso(moment: datetime.datetime) -> str:
    """Mercado Pago's date format: 2026-02-28T12:00:00.000-03:00."""
    return moment.isoformat(timespec="milliseconds")


def _api_base(account) -> str:
    return (account.base_url or DEFAULT_API_BASE).rstrip("/")


def _access_token(account) -> str:
    token = account.credentials.get("access_token", "")
    if not token:
        raise GatewayError("mercadopago: the account has no access token")
    return token


def _request(method: str, url: str, *, token: str, what: str, **kwargs) -> dict:
    """One call to Mercado Pago; its JSON answer, or GatewayError naming no secret.

    No failure is `final`: Mercado Pago documents the key as returning what was already
    created, not as replaying errors, so a retry keeps the key and cannot make a second one.
    """
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    try:
        response = requests.request(
            method, url, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False, **kwargs
        )
    except requests.Timeout:
        raise GatewayError(f"mercadopago {what}: timeout") from None
    except requests.RequestException as error:
        raise GatewayError(f"mercadopago {what}: {type(error).__name__}") from None
    if not 200 <= response.status_code < 300:
        request_id = response.headers.get("x-request-id", "-")[:64]
        raise GatewayError(
            f"mercadopago {what}: http_status={response.status_code} request_id={request_id}"
        )
    try:
        body = response.json(parse_float=Decimal)
    except ValueError:
        raise GatewayError(f"mercadopago {what}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise GatewayError(f"mercadopago {what}: unexpected answer")
    return body


def _aware(value) -> datetime.datetime | None:
    """Mercado Pago's ISO 8601 dates (with offset) as aware datetimes; naive ones as UTC."""
    if not value:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        raise GatewayError("mercadopago: unreadable date in payment") from None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment


class MercadoPagoAdapter:
    code = "mercadopago"
    methods = ("checkout",)

    def start(self, *, payment, account, urls: PaymentUrls, method: str) -> Started:
        if method not in self.methods:
            raise GatewayError(f"mercadopago: unknown method {method!r}")
        token = _access_token(account)
        now = timezone.now().replace(microsecond=0)
        expires_at = now + datetime.timedelta(days=account.expiry_days)
        tz = payment.provider.tzinfo
        body = {
            "items": [
                {
                    "id": str(payment.public_id),
                    "title": (payment.concept or payment.provider.name)[:250],
                    "quantity": 1,
                    "currency_id": payment.currency,
                    "unit_price": _json_number(payment.amount),
                }
            ],
            "external_reference": str(payment.public_id),
            "notification_url": urls.notification,
            "back_urls": {
                "success": urls.success,
                "failure": urls.cancel,
                "pending": urls.success,
            },
            "auto_return": "approved",
            # A monthly bill or a prepaid period is paid at once, not in instalments.
            "payment_methods": {"installments": 1},
            # The checkout link, and tickets paid in cash (Rapipago, Pago Fácil…), end
            # together with our payment: Mercado Pago refunds a ticket paid after this.
            "expires": True,
            "expiration_date_from": _iso(timezone.localtime(now, tz)),
            "expiration_date_to": _iso(timezone.localtime(expires_at, tz)),
            "date_of_expiration": _iso(timezone.localtime(expires_at, tz)),
            "metadata": {
                "payment_public_id": str(payment.public_id),
                "contract": payment.contract.number,
                "provider": payment.provider.code,
            },
        }
        preference = _request(
            "POST",
            f"{_api_base(account)}/checkout/preferences",
            token=token,
            what="create preference",
            json=body,
            headers={"X-Idempotency-Key": str(payment.idempotency_key)},
        )
        preference_id = str(preference.get("id") or "")
        checkout_url = str(preference.get("init_point") or "")
        if not preference_id or not checkout_url.startswith("https://"):
            raise GatewayError("mercadopago create preference: no id or init_point in the answer")
        return Started(external_id=preference_id, checkout_url=checkout_url, expires_at=expires_at)

    def webhook(self, *, request, account) -> list[RemotePayment]:
        notification = _body(request)
        data = notification.get("data") if isinstance(notification.get("data"), dict) else {}
        data_id = request.GET.get("data.id") or str(data.get("id") or "")
        kind = request.GET.get("type") or str(notification.get("type") or "")
        secret = account.credentials.get("webhook_secret", "")
        if not secret:
            raise WebhookRejected("the account has no webhook secret")
        if not data_id:
            raise WebhookRejected("no data.id in the notification")
        # Every notification is signed, whatever it is about: one that is not is refused
        # before we tell its sender anything.
        verify_signature(
            data_id=data_id,
            request_id=request.headers.get("X-Request-Id", ""),
            header=request.headers.get("X-Signature", ""),
            secret=secret,
        )
        if kind != PAYMENT_TYPE:
            return []
        if not _PAYMENT_ID.match(data_id):
            raise WebhookRejected("data.id is not a payment id")
        remote = _request(
            "GET",
            f"{_api_base(account)}/v1/payments/{data_id}",
            token=_access_token(account),
            what="get payment",
        )
        found = _remote_payment(remote, what="get payment")
        if found.external_id != data_id:
            raise GatewayError("mercadopago get payment: answered about another payment")
        return [found]

    # Asked directly: the poller, when a notification never came.

    def fetch(self, *, payment, account) -> RemotePayment | None:
        """The first approved Mercado Pago payment made for our payment's preference, or
        None while there is none (not paid yet, or every attempt rejected)."""
        if not payment.external_id:
            return None
        reference = str(payment.public_id)
        what = "search payments"
        answer = _request(
            "GET",
            f"{_api_base(account)}/v1/payments/search",
            token=_access_token(account),
            what=what,
            params={
                "external_reference": reference,
                "status": APPROVED,
                "sort": "date_created",
                "criteria": "asc",
                "limit": SEARCH_LIMIT,
            },
        )
        results = answer.get("results")
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            raise GatewayError(f"mercadopago {what}: unexpected answer")
        found = [_remote_payment(item, what=what) for item in results]
        # A filter Mercado Pago did not apply would list the account's other payments:
        # none of them may pay for this one.
        if any(remote.payment_public_id != reference for remote in found):
            raise GatewayError(f"mercadopago {what}: answered about another payment")
        return next((remote for remote in found if remote.paid), None)


def _body(request) -> dict:
    """The notification's JSON body, or {}: the query string is what Mercado Pago signs,
    and the body is only a fallback for data.id and type."""
    try:
        body = json.loads(request.body)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _remote_payment(remote: dict, *, what: str) -> RemotePayment:
    """A payment as Mercado Pago describes it (GET /v1/payments/{id}, or one result of a
    search)."""
    try:
        payment_id = str(remote["id"])
        status = str(remote["status"])
        amount = Decimal(str(remote["transaction_amount"]))
        currency = str(remote["currency_id"]).upper()
    except (KeyError, TypeError, InvalidOperation):
        raise GatewayError(f"mercadopago {what}: unexpected payment shape") from None
    paid = status == APPROVED
    return RemotePayment(
        event_id=f"payment:{payment_id}:{status}"[:120],
        external_id=payment_id,
        paid=paid,
        amount=amount,
        currency=currency,
        paid_at=_aware(remote.get("date_approved")) if paid else None,
        payment_public_id=str(remote.get("external_reference") or ""),
        extra={"status": status, "status_detail": str(remote.get("status_detail") or "")},
    )


def signature_manifest(*, data_id: str, request_id: str, ts: str) -> str:
    """The signed text, as Mercado Pago documents it: pairs it did not send are left out."""
    if _ALPHANUMERIC.match(data_id):
        data_id = data_id.lower()
    manifest = ""
    if data_id:
        manifest += f"id:{data_id};"
    if request_id:
        manifest += f"request-id:{request_id};"
    if ts:
        manifest += f"ts:{ts};"
    return manifest


def verify_signature(*, data_id: str, request_id: str, header: str, secret: str) -> None:
    """Raise WebhookRejected unless x-signature's v1 is the HMAC of the manifest."""
    ts = signature = ""
    for item in header.split(","):
        key, _sep, value = item.strip().partition("=")
        if key.strip() == "ts":
            ts = value.strip()
        elif key.strip() == "v1":
            signature = value.strip()
    if not (ts and signature and signature.isascii() and _HEX.match(signature)):
        raise WebhookRejected("missing or malformed x-signature")
    manifest = signature_manifest(data_id=data_id, request_id=request_id, ts=ts)
    expected = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise WebhookRejected("signature does not match")

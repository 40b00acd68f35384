"""A local stand-in for api.stripe.com: Stripe's documented response shapes, and webhook
signing done the way Stripe documents it (HMAC-SHA256 of "{t}.{raw body}")."""

import hashlib
import hmac
import json
import time
from urllib.parse import parse_qsl

from werkzeug import Request, Response

SECRET_KEY = "sk_test_51AntenaLocalOnly0123456789abcdef"
WEBHOOK_SECRET = "whsec_AntenaLocalOnlyWebhookSecret0123"

VOUCHER_NUMBER = "12345678901234657890123456789012"
EXPIRES_AFTER = 1_893_455_999  # 2029-12-31 23:59:59 UTC


def form(request: Request) -> dict[str, str]:
    """The form-encoded body as Stripe receives it: flat keys like `line_items[0][quantity]`."""
    return dict(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))


def payment_intent_oxxo(params: dict[str, str], *, pi_id: str = "pi_3OxxoAntena0001") -> dict:
    """What POST /v1/payment_intents answers for a confirmed OXXO intent."""
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": int(params["amount"]),
        "amount_received": 0,
        "currency": params["currency"],
        "status": "requires_action",
        "payment_method_types": ["oxxo"],
        "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
        "livemode": False,
        "client_secret": f"{pi_id}_secret_local",
        "created": int(time.time()),
        "next_action": {
            "type": "oxxo_display_details",
            "oxxo_display_details": {
                "expires_after": EXPIRES_AFTER,
                "hosted_voucher_url": f"https://payments.stripe.com/oxxo/voucher/test_{pi_id}",
                "number": VOUCHER_NUMBER,
            },
        },
    }


def checkout_session(params: dict[str, str], *, cs_id: str = "cs_test_a1Antena0001") -> dict:
    """What POST /v1/checkout/sessions answers in payment mode."""
    amount = int(params["line_items[0][price_data][unit_amount]"])
    return {
        "id": cs_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_subtotal": amount,
        "amount_total": amount,
        "currency": params["line_items[0][price_data][currency]"],
        "client_reference_id": params.get("client_reference_id"),
        "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "success_url": params["success_url"],
        "cancel_url": params.get("cancel_url"),
        "expires_at": EXPIRES_AFTER,
        "url": f"https://checkout.stripe.com/c/pay/{cs_id}#fidkdWxOYHwnPyd1blpxYHZxWjA0",
        "livemode": False,
    }


def error(status: int, type_: str, message: str, **extra) -> Response:
    body = {"error": {"type": type_, "message": message, **extra}}
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={"Request-Id": "req_local0001"},
    )


def ok(body: dict) -> Response:
    return Response(
        json.dumps(body),
        status=200,
        content_type="application/json",
        headers={"Request-Id": "req_local0002"},
    )


def event(kind: str, obj: dict, *, event_id: str = "evt_1AntenaLocal0001") -> dict:
    return {
        "id": event_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
    }


def signature_header(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# Our side of a Stripe OXXO payment, for the webhook tests.


def account_for(provider):
    """The ISP's Stripe account with this fake's keys."""
    from payments.models import GatewayAccount

    account = GatewayAccount(provider=provider, gateway="stripe")
    account.credentials = {"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET}
    account.save()
    return account


def oxxo_payment_for(contract, *, intent_id: str, reference: str = "12345678901234"):
    """A pending OXXO voucher for the contract's plan, as Stripe made it."""
    import datetime

    from django.utils import timezone

    from payments.models import Payment

    return Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="stripe",
        method="oxxo",
        plan=contract.plan,
        amount=contract.plan.price,
        currency="MXN",
        reference=reference,
        external_id=intent_id,
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )


def intent_succeeded_body(payment, *, event_id: str) -> bytes:
    """The `payment_intent.succeeded` delivery for that payment, paid in full."""
    return json.dumps(
        event(
            "payment_intent.succeeded",
            {
                "id": payment.external_id,
                "object": "payment_intent",
                "amount": int(payment.amount * 100),
                "amount_received": int(payment.amount * 100),
                "currency": "mxn",
                "status": "succeeded",
                "metadata": {"payment_public_id": str(payment.public_id)},
            },
            event_id=event_id,
        )
    ).encode()

"""Subscriber payment pages, and the gateways' webhooks."""

import logging

from allauth.core.ratelimit import consume_or_429
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.selectors import invoice_for_user
from core.pagination import page_get
from core.ratelimits import client_ip, strike, strikes_exceeded
from core.tenancy import request_contracts
from core.text import nul_replaced
from plans.selectors import prepaid_plan_for, promotions_active_for, promotions_by_plan

from .codes import barcode_svg, qr_svg
from .gateways import GatewayError, PaymentUrls, WebhookRejected, adapter_for
from .models import Gateway, Payment, WebhookDelivery
from .selectors import gateway_options_for, payment_for_user, payments_for, payments_pending_for
from .services import (
    PaymentError,
    WebhookFact,
    payment_cancel,
    payment_promise_make,
    payment_start,
)
from .voucher import voucher_pdf
from .webhooks import webhook_delivery_accept, webhook_delivery_close, webhook_delivery_store

logger = logging.getLogger(__name__)

GATEWAY_FAILED = _("No pudimos generar tu referencia, intenta de nuevo.")


def _urls_for(request: HttpRequest):
    def build(payment: Payment) -> PaymentUrls:
        detail = reverse("payment_detail", args=[payment.public_id])
        return PaymentUrls(
            success=request.build_absolute_uri(detail),
            cancel=request.build_absolute_uri(detail),
            notification=request.build_absolute_uri(
                reverse("webhook", args=[payment.gateway, payment.provider.code])
            ),
        )

    return build


@login_required
def plan_purchase(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Adquirir: the chosen plan, its promotion, and the ISP's payment methods."""
    _contracts, contract = request_contracts(request)
    plan = prepaid_plan_for(contract=contract, plan_id=plan_id) if contract else None
    if plan is None:
        raise Http404
    promotions = promotions_by_plan(
        plans=[plan], promotions=promotions_active_for(contract=contract)
    )[plan.pk]
    context = {
        "plan": plan,
        "promotions": promotions,
        "options": gateway_options_for(contract=contract),
        "pending": payments_pending_for(contract=contract, plan=plan),
    }
    return render(request, "plans/purchase.html", context)


def _is_number(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= 18


@login_required
@require_POST
def payment_new(request: HttpRequest) -> HttpResponse:
    """Adquirir → a method, or PAGAR → a method: make (or show again) the payment."""
    _contracts, contract = request_contracts(request)
    if contract is None:
        raise Http404
    plan = invoice = None
    if _is_number(request.POST.get("plan", "")):
        plan = prepaid_plan_for(contract=contract, plan_id=int(request.POST["plan"]))
        back = reverse("plan_purchase", args=[plan.pk]) if plan else None
    elif _is_number(request.POST.get("invoice", "")):
        invoice = invoice_for_user(user=request.user, number=int(request.POST["invoice"]))
        if invoice is not None:
            contract = invoice.contract
            back = reverse("invoice_pay", args=[invoice.number])
    if plan is None and invoice is None:
        raise Http404
    gateway, _sep, method = request.POST.get("method", "").partition(":")
    if gateway not in Gateway.values:
        messages.error(request, _("Elige un medio de pago."))
        return redirect(back)
    limited = consume_or_429(request, action="payment_start", key=f"contract:{contract.pk}")
    if limited:
        return limited
    try:
        payment = payment_start(
            contract=contract,
            gateway=gateway,
            method=method,
            plan=plan,
            invoice=invoice,
            urls_for=_urls_for(request),
        )
    except PaymentError as error:
        messages.error(request, str(error))
        return redirect(back)
    except GatewayError as error:
        logger.warning("gateway failed gateway=%s contract_id=%s: %s", gateway, contract.pk, error)
        messages.error(request, GATEWAY_FAILED)
        return redirect(back)
    if payment.checkout_url and not payment.reference:
        return redirect(payment.checkout_url)
    return redirect("payment_detail", payment.public_id)


@login_required
def payment_list(request: HttpRequest) -> HttpResponse:
    """Every reference and online payment: pending, paid, expired and cancelled."""
    _contracts, contract = request_contracts(request)
    if contract is None:
        raise Http404
    page = page_get(request, lambda rows: payments_for(contract=contract, rows=rows), size=20)
    return render(request, "payments/payment_list.html", {"page": page})


@login_required
def payment_detail(request: HttpRequest, public_id) -> HttpResponse:
    """The reference page: reference, barcode, QR, amount, expiry and instructions."""
    payment = payment_for_user(user=request.user, public_id=public_id)
    if payment is None:
        raise Http404
    context = {"payment": payment, "provider": payment.provider}
    if payment.reference and payment.status == Payment.Status.PENDING:
        context["barcode"] = barcode_svg(payment.reference, scalable=True)
        context["qr"] = qr_svg(payment.reference)
    return render(request, "payments/payment_detail.html", context)


@login_required
def payment_voucher(request: HttpRequest, public_id) -> HttpResponse:
    payment = payment_for_user(user=request.user, public_id=public_id)
    if payment is None or not payment.reference:
        raise Http404
    response = HttpResponse(voucher_pdf(payment=payment), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="referencia-{payment.reference}.pdf"'
    return response


@login_required
@require_POST
def payment_cancel_view(request: HttpRequest, public_id) -> HttpResponse:
    payment = payment_for_user(user=request.user, public_id=public_id)
    if payment is None:
        raise Http404
    try:
        payment_cancel(payment=payment, actor=request.user)
        messages.success(
            request,
            _("Cancelamos la referencia %(reference)s.")
            % {"reference": payment.reference or payment.concept},
        )
    except PaymentError as error:
        messages.error(request, str(error))
    return redirect("home")


@login_required
def invoice_pay(request: HttpRequest, number: int) -> HttpResponse:
    """ "Seleccione el Pago": vencimiento, detalle, importe, and the ISP's methods."""
    invoice = invoice_for_user(user=request.user, number=number)
    if invoice is None or invoice.amount_due == 0:
        raise Http404
    options = gateway_options_for(contract=invoice.contract)
    lines = list(invoice.lines.all())
    return render(
        request,
        "payments/invoice_pay.html",
        {"invoice": invoice, "lines": lines, "options": options},
    )


@login_required
@require_POST
def promise_new(request: HttpRequest) -> HttpResponse:
    _contracts, contract = request_contracts(request)
    if contract is None:
        raise Http404
    limited = consume_or_429(request, action="payment_promise", key=f"contract:{contract.pk}")
    if limited:
        return limited
    try:
        promise = payment_promise_make(contract=contract, actor=request.user)
        messages.success(
            request,
            _("Listo: tu servicio sigue activo hasta el %(date)s.")
            % {"date": promise.ends_on.strftime("%d/%m/%Y")},
        )
    except PaymentError as error:
        messages.error(request, str(error))
    return redirect("home")


# Headers worth keeping with a delivery; never Authorization or cookies.
_KEPT_HEADERS = (
    "Content-Type",
    "Stripe-Signature",
    "X-Signature",
    "X-Request-Id",
    "Digest",
    "User-Agent",
)


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, gateway: str, provider_code: str) -> JsonResponse:
    """Store the raw delivery, verify it, keep its facts for the worker, answer fast.

    A delivery for no ISP's enabled account is answered 404 and not stored; one larger
    than WEBHOOK_MAX_BYTES, 413. Deliveries that fail (no account, a bad signature) count
    against their source address (WEBHOOK_REJECTED_PER_MINUTE); past the limit it gets
    429 before anything is read or stored. A verified delivery never counts.
    """
    if gateway not in Gateway.values or gateway == Gateway.REFERENCE:
        raise Http404
    if not (provider_code.isascii() and provider_code.isdigit() and len(provider_code) <= 12):
        raise Http404
    client = client_ip(request) or "unknown"
    if strikes_exceeded(
        scope="webhook", client=client, limit=settings.WEBHOOK_REJECTED_PER_MINUTE, seconds=60
    ):
        return JsonResponse({"error": "too many rejected deliveries"}, status=429)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        strike(scope="webhook", client=client, seconds=60)
        return JsonResponse({"error": "bad Content-Length"}, status=400)
    if declared > settings.WEBHOOK_MAX_BYTES:
        return JsonResponse({"error": "delivery too large"}, status=413)
    raw = request.body
    if len(raw) > settings.WEBHOOK_MAX_BYTES:
        return JsonResponse({"error": "delivery too large"}, status=413)
    delivery, account = webhook_delivery_store(
        gateway=gateway,
        provider_code=provider_code,
        # Kept as text for staff to read; PostgreSQL refuses a NUL in text. Signatures are
        # checked on the bytes as received.
        body=nul_replaced(raw.decode("utf-8", errors="replace")),
        headers={
            name: nul_replaced(request.headers[name])
            for name in _KEPT_HEADERS
            if name in request.headers
        },
    )
    if account is None:
        strike(scope="webhook", client=client, seconds=60)
        return JsonResponse({"error": "unknown gateway account"}, status=404)
    try:
        facts = adapter_for(gateway).webhook(request=request, account=account)
    except WebhookRejected as error:
        webhook_delivery_close(delivery, WebhookDelivery.Outcome.REJECTED, str(error))
        strike(scope="webhook", client=client, seconds=60)
        return JsonResponse({"error": str(error)}, status=400)
    except GatewayError as error:
        # We could not confirm with the gateway: ask it to deliver again later.
        webhook_delivery_close(delivery, WebhookDelivery.Outcome.RECEIVED, str(error))
        return JsonResponse({"error": "try again later"}, status=503)
    # Verified: acknowledge now; the worker credits and records the outcome on the delivery.
    if not facts:
        webhook_delivery_close(
            delivery, WebhookDelivery.Outcome.IGNORED, "no payment in this event"
        )
        return JsonResponse({"received": True, "outcomes": []})
    outcomes = webhook_delivery_accept(
        delivery=delivery,
        facts=[WebhookFact(account.provider_id, gateway, fact) for fact in facts],
    )
    return JsonResponse({"received": True, "outcomes": outcomes})

"""Subscriber payment pages, and the gateways' webhooks."""

import logging

from allauth.core.ratelimit import consume_or_429
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.context_processors import request_contracts
from accounts.models import Provider
from billing.pagination import page_get
from billing.selectors import invoice_for_user
from plans.selectors import prepaid_plan_for, promotions_active_for, promotions_by_plan

from .codes import barcode_svg, qr_svg
from .gateways import GatewayError, PaymentUrls, WebhookRejected, adapter_for
from .models import Gateway, GatewayAccount, Payment, WebhookDelivery
from .selectors import gateway_options_for, payment_for_user, payments_for, payments_pending_for
from .services import (
    PaymentError,
    WebhookFact,
    payment_cancel,
    payment_promise_make,
    payment_start,
)
from .tasks import webhook_deliveries_credit_task
from .voucher import voucher_pdf
from .webhooks import webhook_credit_wake, webhook_delivery_verified

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
        "pending": payments_pending_for(contract=contract).filter(plan=plan),
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
    page = page_get(request, payments_for(contract=contract), size=20)
    return render(request, "payments/payment_list.html", {"page": page})


@login_required
def payment_detail(request: HttpRequest, public_id) -> HttpResponse:
    """The reference page: reference, barcode, QR, amount, expiry and instructions."""
    payment = payment_for_user(user=request.user, public_id=public_id)
    if payment is None:
        raise Http404
    context = {"payment": payment, "provider": payment.provider}
    if payment.reference and payment.status == Payment.Status.PENDING:
        context["barcode"] = barcode_svg(payment.reference)
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


_DELIVERY_FIELDS = [
    field
    for field in WebhookDelivery._meta.concrete_fields
    if field is not WebhookDelivery._meta.pk
]
_ACCOUNT_FIELDS = GatewayAccount._meta.concrete_fields
# Every delivery row is inserted; the account comes back only when it exists and is on.
# Only table and column names from the models are formatted in; values are parameters.
_DELIVERY_STORE_SQL = """
WITH delivery AS (
    INSERT INTO {delivery_table} ({delivery_columns}) VALUES ({placeholders}) RETURNING id
)
SELECT delivery.id, {account_columns}
FROM delivery
LEFT JOIN {account_table} account
    ON account.gateway = %s AND account.is_enabled
    AND account.provider_id = (SELECT id FROM {provider_table} WHERE code = %s)
""".format(  # noqa: S608
    delivery_table=WebhookDelivery._meta.db_table,
    delivery_columns=", ".join(field.column for field in _DELIVERY_FIELDS),
    placeholders=", ".join("%s" for _field in _DELIVERY_FIELDS),
    account_table=GatewayAccount._meta.db_table,
    account_columns=", ".join(f"account.{field.column}" for field in _ACCOUNT_FIELDS),
    provider_table=Provider._meta.db_table,
)


def _delivery_store(
    *, gateway: str, provider_code: str, body: str, headers: dict[str, str]
) -> tuple[WebhookDelivery, GatewayAccount | None]:
    """Store the raw delivery (committed before anything else happens) and find the
    ISP's enabled account for this gateway, or None.

    On PostgreSQL both happen in one statement: the webhook answer's time is mostly CPU,
    and the two ORM queries cost about 0.8 ms more per delivery than this statement
    (docs/performance.md, "Webhook acknowledgement"). Other databases use the ORM.
    """
    delivery = WebhookDelivery(
        gateway=gateway,
        provider_code=provider_code[:12],
        body=body,
        headers=headers,
        received_at=timezone.now(),
    )
    if connection.vendor != "postgresql":
        delivery.save(force_insert=True)
        account = GatewayAccount.objects.filter(
            provider__code=provider_code, gateway=gateway, is_enabled=True
        ).first()
        return delivery, account
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVERY_STORE_SQL,
            [
                *(
                    field.get_db_prep_save(getattr(delivery, field.attname), connection)
                    for field in _DELIVERY_FIELDS
                ),
                gateway,
                provider_code,
            ],
        )
        delivery.pk, *account_values = cursor.fetchone()
    delivery._state.adding = False
    if account_values[0] is None:
        return delivery, None
    return delivery, GatewayAccount.from_db(
        connection.alias, [field.attname for field in _ACCOUNT_FIELDS], account_values
    )


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, gateway: str, provider_code: str) -> JsonResponse:
    """Store the raw delivery, verify it, keep its facts for the worker, answer fast."""
    if gateway not in Gateway.values or gateway == Gateway.REFERENCE:
        raise Http404
    delivery, account = _delivery_store(
        gateway=gateway,
        provider_code=provider_code,
        body=request.body.decode("utf-8", errors="replace")[:100_000],
        headers={name: request.headers[name] for name in _KEPT_HEADERS if name in request.headers},
    )
    if account is None:
        _delivery_close(delivery, WebhookDelivery.Outcome.REJECTED, "no such gateway account")
        return JsonResponse({"error": "unknown gateway account"}, status=404)
    try:
        facts = adapter_for(gateway).webhook(request=request, account=account)
    except WebhookRejected as error:
        _delivery_close(delivery, WebhookDelivery.Outcome.REJECTED, str(error))
        return JsonResponse({"error": str(error)}, status=400)
    except GatewayError as error:
        # We could not confirm with the gateway: ask it to deliver again later.
        _delivery_close(delivery, WebhookDelivery.Outcome.RECEIVED, str(error))
        return JsonResponse({"error": "try again later"}, status=503)
    # Verified: acknowledge now; the worker credits and records the outcome on the delivery.
    if not facts:
        _delivery_close(delivery, WebhookDelivery.Outcome.IGNORED, "no payment in this event")
        return JsonResponse({"received": True, "outcomes": []})
    webhook_delivery_verified(
        delivery=delivery,
        facts=[WebhookFact(account.provider_id, gateway, fact) for fact in facts],
    )
    webhook_credit_wake()
    if webhook_deliveries_credit_task.app.conf.task_always_eager:
        # No worker (tests, `make run` without Redis): credited already, say how.
        delivery.refresh_from_db(fields=["facts"])
        return JsonResponse(
            {
                "received": True,
                "outcomes": [item.get("outcome", "queued") for item in delivery.facts],
            }
        )
    return JsonResponse({"received": True, "outcomes": ["queued"] * len(facts)})


def _delivery_close(delivery: WebhookDelivery, outcome: str, detail: str) -> None:
    delivery.outcome = outcome
    delivery.detail = detail[:300]
    delivery.save(update_fields=["outcome", "detail", "event_id"])

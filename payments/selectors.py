"""Reads of payments, scoped to the subscriber's own contracts."""

import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contract, User
from billing.models import Invoice, ServiceHold
from billing.selectors import ledger_totals
from core.money import money_quantize
from core.queries import Param, Prepared
from plans.models import Plan

from .gateways import adapter_for
from .models import GatewayAccount, Payment, PaymentPromise


def gateway_options_for(*, contract: Contract) -> list[tuple[str, str, str]]:
    """(gateway, method, label) the ISP offers, in a stable order."""
    labels = {
        ("oxxopay", "cash"): "OxxoPay",
        ("stripe", "oxxo"): "OXXO",
        ("reference", "cash"): _("Referencia de pago"),
        ("stripe", "card"): _("Tarjeta"),
        ("mercadopago", "checkout"): "Mercado Pago",
    }
    accounts = GatewayAccount.objects.filter(
        provider_id=contract.provider_id, is_enabled=True
    ).order_by("gateway")
    options = []
    for account in accounts:
        methods = adapter_for(account.gateway).methods
        for method in methods:
            label = labels.get((account.gateway, method), method)
            if account.label:
                # The ISP's own words; a gateway with several methods keeps each one's name.
                label = f"{account.label}: {label}" if len(methods) > 1 else account.label
            options.append((account.gateway, method, label))
    order = list(labels)
    return sorted(options, key=lambda o: order.index(o[:2]) if o[:2] in order else 99)


def _payments_shown():
    """The contract's payments that reached the subscriber (a reference, a checkout or a
    voucher), newest first."""
    return (
        Payment.objects.filter(contract_id=Param("contract"))
        .exclude(reference="", checkout_url="", voucher_url="")
        .select_related("plan", "invoice")
        .order_by("-created_at", "-pk")
    )


_PAYMENTS = Prepared(_payments_shown)
_PAYMENTS_PENDING = Prepared(
    lambda: _payments_shown().filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=Param("now", DateTimeField())),
        status="pending",
    )
)


def payments_for(*, contract: Contract, rows: slice = slice(None)) -> list[Payment]:
    """Every payment of the contract that reached the subscriber, newest first."""
    return _PAYMENTS.list(contract=contract.pk, rows=rows)


def payments_pending_for(*, contract: Contract, plan: Plan | None = None) -> list[Payment]:
    """References the subscriber can still pay (Inicio; Adquirir: those for `plan`),
    newest first: those of `payments_for` still pending and not expired."""
    pending = _PAYMENTS_PENDING.list(contract=contract.pk, now=timezone.now())
    return pending if plan is None else [p for p in pending if p.plan_id == plan.pk]


def payment_for_user(*, user: User, public_id: str) -> Payment | None:
    """One of the user's own payments by its public id; None for anybody else's."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    if not user.is_authenticated:
        return None
    return (
        Payment.objects.select_related("contract__provider", "plan", "invoice", "provider")
        .filter(public_id=public_id, contract__user=user)
        .first()
    )


@dataclass(frozen=True)
class Standing:
    """Where a contract's account stands: what Inicio shows of it and what decides whether
    a payment promise is allowed (`payments.services.promise_eligibility`)."""

    balance: Decimal  # Balance C/C, negative when the subscriber owes
    overdue_invoice: int | None  # the number of the oldest invoice past due and unpaid
    promises_used: int  # promises made for the period a promise would cover now
    on_hold: bool  # suspended by the ISP (a hold not lifted)


def _standing():
    def of_contract(model):
        return model.objects.filter(contract_id=OuterRef("pk")).order_by()

    overdue = (
        of_contract(Invoice)
        .filter(
            status=Invoice.Status.ISSUED,
            due_date__lt=Param("today", DateField()),
            amount_paid__lt=F("total"),
        )
        .order_by("due_date")
        .values("number")[:1]
    )
    money = DecimalField(max_digits=14, decimal_places=2)
    return (
        Contract.objects.filter(pk=Param("contract"))
        .order_by()  # one row: not the model's order, which joins the ISP for its code
        .annotate(
            overdue_invoice=Subquery(overdue),
            # A prepaid promise covers the vigencia that ran out, a postpaid one the oldest
            # overdue invoice (the keys payment_promise_make records).
            promise_key=Case(
                When(
                    billing_mode=Contract.BillingMode.PREPAID,
                    then=Param("prepaid_key", CharField()),
                ),
                default=Concat(Value("factura:"), "overdue_invoice", output_field=CharField()),
            ),
        )
        .values(
            "overdue_invoice",
            balance=Coalesce(
                Subquery(ledger_totals(OuterRef("pk")), output_field=money),
                Value(Decimal("0"), output_field=money),
            ),
            promises_used=Coalesce(
                Subquery(
                    of_contract(PaymentPromise)
                    .filter(period_key=OuterRef("promise_key"))
                    .values("contract_id")
                    .annotate(count=Count("pk"))
                    .values("count")
                ),
                0,
            ),
            on_hold=Exists(of_contract(ServiceHold).filter(lifted_at=None)),
        )
    )


_STANDING = Prepared(_standing)


def account_standing(*, contract: Contract) -> Standing:
    """The contract's balance, oldest overdue invoice, promises used and hold, in one
    query whatever its history."""
    (row,) = _STANDING.list(
        contract=contract.pk,
        today=contract.provider.today(),
        prepaid_key=promise_key_prepaid(contract=contract),
    )
    # SQLite sums decimals as floats: back to exact cents.
    return Standing(**{**row, "balance": money_quantize(row["balance"])})


def promise_key_prepaid(*, contract: Contract) -> str:
    """The period a prepaid contract's promise covers: the vigencia that ran out."""
    return f"vigencia:{contract.paid_until or 'none'}"

"""Reads of payments, scoped to the subscriber's own contracts."""

import uuid

from django.db.models import DateTimeField, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contract, User
from core.queries import Param, Prepared
from plans.models import Plan

from .gateways import adapter_for
from .models import GatewayAccount, Payment


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

"""Reads of billing, scoped to the subscriber's own contracts."""

import datetime
from decimal import Decimal

from django.db.models import F, QuerySet, Sum, Window

from accounts.models import Contract, User
from core.money import money_quantize
from core.queries import Param, Prepared
from plans.models import Plan

from .models import Invoice, InvoiceLine, LedgerEntry, ServiceChange, ServicePeriod


def ledger_totals(contract) -> QuerySet:
    """The sum of a contract's entries, one row of `total` (none without entries):
    `contract` is a value, a `Param` or an `OuterRef` (a subquery's contract)."""
    return (
        LedgerEntry.objects.filter(contract_id=contract)
        .values("contract_id")
        .annotate(total=Sum("amount"))
        .order_by()
        .values("total")
    )


_BALANCE = Prepared(lambda: ledger_totals(Param("contract")).values_list("total", flat=True))


def ledger_balance(*, contract: Contract) -> Decimal:
    """Balance C/C: the sum of every entry (negative when the subscriber owes)."""
    totals = _BALANCE.list(contract=contract.pk)
    # SQLite sums decimals as floats: back to exact cents.
    return money_quantize(totals[0] if totals else Decimal("0"))


_STATEMENT = Prepared(
    lambda: (
        LedgerEntry.objects.filter(contract_id=Param("contract"))
        .annotate(
            running_balance=Window(Sum("amount"), order_by=[F("occurred_on").asc(), F("id").asc()])
        )
        .order_by("-occurred_on", "-id")
    )
)


def statement_entries(*, contract: Contract, rows: slice = slice(None)) -> list[LedgerEntry]:
    """The contract's entries, newest first, each with the balance right after it."""
    return _STATEMENT.list(contract=contract.pk, rows=rows)


_INVOICES = Prepared(
    lambda: Invoice.objects.filter(contract_id=Param("contract")).order_by("-issue_date", "-number")
)


def invoices_for(*, contract: Contract, rows: slice = slice(None)) -> list[Invoice]:
    """The contract's invoices, newest first, each knowing its ISP (the contract's)."""
    invoices = _INVOICES.list(contract=contract.pk, rows=rows)
    for invoice in invoices:
        invoice.provider = contract.provider
    return invoices


_LAST_INVOICE = Prepared(
    lambda: (
        Invoice.objects.filter(contract_id=Param("contract"))
        .exclude(status=Invoice.Status.VOID)
        .order_by("-issue_date", "-number")[:1]
    )
)


def invoice_last(*, contract: Contract) -> Invoice | None:
    """The newest invoice of `invoices_for` that is not void (Inicio's ÚLTIMA FACTURA)."""
    for invoice in _LAST_INVOICE.list(contract=contract.pk):
        invoice.provider = contract.provider  # the contract's own ISP, already loaded
        return invoice
    return None


_INVOICE_OF_USER = Prepared(
    lambda: (
        Invoice.objects.select_related("contract")
        .filter(
            provider_id=Param("provider"), number=Param("number"), contract__user_id=Param("user")
        )
        .order_by("pk")[:1]
    )
)
_INVOICE_LINES = Prepared(lambda: InvoiceLine.objects.filter(invoice_id=Param("invoice")))


def invoice_for_user(*, user: User, number: int) -> Invoice | None:
    """One of the user's own invoices by its number, knowing its contract and ISP (the
    login's); None for anybody else's."""
    if not user.is_authenticated or user.provider_id is None:
        return None
    for invoice in _INVOICE_OF_USER.list(provider=user.provider_id, number=number, user=user.pk):
        invoice.provider = invoice.contract.provider = user.provider
        return invoice
    return None


def invoice_lines(*, invoice: Invoice) -> list[InvoiceLine]:
    return _INVOICE_LINES.list(invoice=invoice.pk)


def service_next_plan(*, contract: Contract) -> tuple[Plan, datetime.date] | None:
    """The next plan the contract switches to and the day it does: the first period it
    bought that starts after today (on the ISP's calendar) with a plan other than the one
    in effect. None when every later period is of the same plan, or there is none."""
    period = (
        ServicePeriod.objects.filter(contract=contract, starts_on__gt=contract.provider.today())
        .exclude(plan_id=contract.plan_id)
        .select_related("plan")
        .order_by("starts_on", "pk")
        .first()
    )
    return None if period is None else (period.plan, period.starts_on)


def service_changes_recent(*, contract: Contract, limit: int = 5) -> list[ServiceChange]:
    """The contract's last service changes, newest first, with the plan each one left."""
    return list(
        ServiceChange.objects.filter(contract=contract)
        .select_related("plan_to")
        .order_by("-created_at", "-pk")[:limit]
    )

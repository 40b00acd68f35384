"""History for `seed_demo`: months of prepaid periods and invoices like seed 001's."""

import datetime
from decimal import Decimal

from django.db import transaction

from accounts.models import Contract, Provider

from .models import InvoiceCounter, LedgerEntry, ServicePeriod
from .recompute import contracts_recompute
from .services import LineSpec, invoice_issue, invoices_settle, ledger_record

# Seed 001's invoice list starts at Factura Nº 18154.
DEMO_FIRST_INVOICE_NUMBER = 18154


@transaction.atomic
def prepaid_history_seed(*, contract: Contract, months: int = 6) -> None:
    """Monthly OxxoPay payments, each buying one period, ending at the contract's vigencia."""
    if LedgerEntry.objects.filter(contract=contract).exists():
        return
    plan = contract.plan
    ends_on = contract.paid_until or contract.provider.today()
    for month in reversed(range(months)):
        period_end = ends_on - datetime.timedelta(days=plan.period_days * month)
        period_start = period_end - datetime.timedelta(days=plan.period_days)
        paid_on = period_start - datetime.timedelta(days=1)
        payment = ledger_record(
            contract=contract,
            kind=LedgerEntry.Kind.PAYMENT,
            amount=plan.price,
            description="Pago OxxoPay",
            occurred_on=paid_on,
        )
        ledger_record(
            contract=contract,
            kind=LedgerEntry.Kind.CHARGE,
            amount=-plan.price,
            description=f"{plan.name} {plan.period_days} días",
            occurred_on=paid_on,
        )
        ServicePeriod.objects.create(
            contract=contract,
            plan=plan,
            starts_on=period_start,
            ends_on=period_end,
            paid_by=payment,
            description=f"{plan.name} {plan.period_days} días",
        )


@transaction.atomic
def postpaid_history_seed(*, contract: Contract, months: int = 6) -> None:
    """Six monthly invoices, the last one IMPAGA, the first at the older price (seed 001)."""
    if LedgerEntry.objects.filter(contract=contract).exists():
        return
    InvoiceCounter.objects.get_or_create(
        provider=contract.provider, defaults={"next_number": DEMO_FIRST_INVOICE_NUMBER}
    )
    plan = contract.plan
    today = contract.provider.today()
    for month in reversed(range(months)):
        period_start = today - datetime.timedelta(days=30 * month + 5)
        period_end = period_start + datetime.timedelta(days=30)
        price = Decimal("2190.00") if month == months - 1 else plan.price
        label = f"{plan.name} {period_start:%d/%m/%Y} – {period_end:%d/%m/%Y}"
        invoice = invoice_issue(
            contract=contract,
            lines=[LineSpec(description=label, amount=price)],
            issue_date=period_start,
            due_date=period_start + datetime.timedelta(days=20),
            period_start=period_start,
            period_end=period_end,
        )
        if month > 0:
            paid_on = invoice.due_date - datetime.timedelta(days=3)
            ledger_record(
                contract=contract,
                kind=LedgerEntry.Kind.PAYMENT,
                amount=price,
                description=f"Pago factura Nº {invoice.number}",
                invoice_id=invoice.pk,
                occurred_on=paid_on,
            )
            invoices_settle(credits=[(contract.pk, price)])


def vigencias_backed_and_recomputed(*, provider: Provider) -> None:
    """The demo's unclaimed contracts were given a vigencia: a period behind each, then
    the recompute (so one whose vigencia passed shows suspended, as it would be)."""
    for contract in Contract.objects.filter(
        provider=provider, paid_until__isnull=False, periods__isnull=True
    ).select_related("plan"):
        ServicePeriod.objects.create(
            contract=contract,
            plan=contract.plan,
            starts_on=contract.paid_until - datetime.timedelta(days=contract.plan.period_days),
            ends_on=contract.paid_until,
            description=f"{contract.plan.name} {contract.plan.period_days} días",
        )
    contracts_recompute(provider=provider)

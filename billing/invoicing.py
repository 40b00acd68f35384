"""Postpaid invoicing: on each contract's billing day (its own, or its ISP's) the invoice
for the month that starts that day, with the plan's price and a running discount, once
per contract and period however often it runs (a unique key on the period), numbered
without gaps (billing.services.invoice_issue takes the ISP's counter under a lock).

A billing day of 29 to 31 falls on the month's last day in shorter months. Fiscal
stamping (CFDI 4.0, Argentina's CAE) is out of scope: INVOICE_STAMPER names a function
an ISP's stamping service provides, called with each issued invoice; it fills
`Invoice.fiscal_folio`.
"""

import calendar
import datetime
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.module_loading import import_string

from accounts.models import Contract, Provider
from core.money import money_format, money_quantize
from notifications.models import Kind
from notifications.services import Message, notifications_send
from plans.models import Promotion
from plans.selectors import promotions_active_for, promotions_by_plan

from .models import Invoice
from .services import LineSpec, invoice_issue

logger = logging.getLogger(__name__)


def billing_date(*, day: int, year: int, month: int) -> datetime.date:
    """The billing day in that month: 29 to 31 fall on the last day of a shorter month."""
    return datetime.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _next_month(date: datetime.date, *, day: int) -> datetime.date:
    year, month = (date.year + 1, 1) if date.month == 12 else (date.year, date.month + 1)
    return billing_date(day=day, year=year, month=month)


def invoices_issue_due(*, provider: Provider | None = None, on: datetime.date | None = None) -> int:
    """Issue the invoices whose billing day is `on` (default: each ISP's today); returns
    how many were issued. Those issued already for the period are left alone."""
    issued = 0
    providers = [provider] if provider is not None else Provider.objects.filter(is_active=True)
    for each in providers:
        day = on or each.today()
        last_day = calendar.monthrange(day.year, day.month)[1]
        # Billing days that fall on `day`: itself, and 29–31 on a shorter month's last day.
        days = list(range(day.day, 32)) if day.day == last_day else [day.day]
        contracts = (
            Contract.objects.filter(
                Q(billing_day__in=days) | Q(billing_day=None) & Q(provider__billing_day__in=days),
                provider=each,
                billing_mode=Contract.BillingMode.POSTPAID,
            )
            .exclude(status=Contract.Status.CANCELLED)
            .exclude(
                pk__in=Invoice.objects.filter(
                    provider=each, period_start=day, status=Invoice.Status.ISSUED
                ).values("contract_id")
            )
            .select_related("plan", "provider")
            .order_by("pk")
        )
        # The running promotions of a zone, read once per zone, not once per contract.
        promotions: dict[int, list[Promotion]] = {}
        for contract in contracts:
            if contract.zone_id not in promotions:
                promotions[contract.zone_id] = promotions_active_for(contract=contract)
            if _invoice_of_period(
                contract=contract, starts_on=day, promotions=promotions[contract.zone_id]
            ):
                issued += 1
    return issued


def _invoice_of_period(
    *, contract: Contract, starts_on: datetime.date, promotions: list[Promotion]
) -> bool:
    provider = contract.provider
    plan = contract.plan
    billing_day = contract.billing_day or provider.billing_day
    ends_on = _next_month(starts_on, day=billing_day) - datetime.timedelta(days=1)
    period = f"{starts_on:%d/%m/%Y} – {ends_on:%d/%m/%Y}"
    lines = [LineSpec(description=f"{plan.name} · {period}", amount=plan.price)]
    promotion = next(
        (
            promotion
            for promotion in promotions_by_plan(plans=[plan], promotions=promotions)[plan.pk]
            if promotion.effect == Promotion.Effect.DISCOUNT
        ),
        None,
    )
    if promotion is not None:
        lines.append(
            LineSpec(
                description=promotion.title,
                amount=-money_quantize(plan.price * promotion.discount_percent / 100),
            )
        )
    due_date = starts_on + datetime.timedelta(days=provider.invoice_due_days)
    try:
        with transaction.atomic():
            invoice = invoice_issue(
                contract=contract,
                lines=lines,
                due_date=due_date,
                issue_date=starts_on,
                period_start=starts_on,
                period_end=ends_on,
                second_due_date=(
                    due_date + datetime.timedelta(days=provider.second_due_days)
                    if provider.second_due_days
                    else None
                ),
                second_due_surcharge=provider.second_due_surcharge,
            )
            notifications_send(
                messages=[
                    Message(
                        contract_id=contract.pk,
                        kind=Kind.INVOICE_ISSUED,
                        event=f"invoice:{invoice.pk}",
                        values={
                            "factura": str(invoice.number),
                            "monto": money_format(invoice.total, provider=provider),
                            "vencimiento": invoice.due_date.strftime("%d/%m/%Y"),
                        },
                    )
                ]
            )
    except IntegrityError:
        # Issued meanwhile by another run: the period has its invoice (and its number
        # went back with this transaction: no gap).
        return False
    if settings.INVOICE_STAMPER:
        transaction.on_commit(lambda: import_string(settings.INVOICE_STAMPER)(invoice=invoice))
    logger.info("invoice of period contract_id=%s period=%s", contract.pk, starts_on)
    return True

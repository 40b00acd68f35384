"""Postpaid invoicing: on each contract's billing day (its own, or its ISP's) the invoice
for the month that starts that day, with the plan's price and a running discount, once
per contract and period however often it runs (a unique key on the period), numbered
without gaps (billing.services.invoice_issue takes the ISP's counter under a lock).

A plan changed during a billed period is prorated on the next invoice: for each change
made after the previous invoice was issued, one line of (new price − old price) × the
days left of that period from the change's day ÷ the period's days, at the plans' prices
of today (a charge for a better plan, a credit for a lesser one).

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
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from accounts.models import Contract, Provider
from core.money import money_format, money_quantize
from notifications.models import Kind
from notifications.services import Message, notifications_send
from plans.models import Promotion
from plans.selectors import promotions_active_for, promotions_by_plan

from .models import Invoice, ServiceChange
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
        contracts = list(contracts)
        prorations = plan_changes_prorated(provider=each, contracts=contracts, starts_on=day)
        # The running promotions of a zone, read once per zone, not once per contract.
        promotions: dict[int, list[Promotion]] = {}
        for contract in contracts:
            if contract.zone_id not in promotions:
                promotions[contract.zone_id] = promotions_active_for(contract=contract)
            if _invoice_of_period(
                contract=contract,
                starts_on=day,
                promotions=promotions[contract.zone_id],
                prorations=prorations.get(contract.pk, []),
            ):
                issued += 1
    return issued


def plan_changes_prorated(
    *, provider: Provider, contracts: list[Contract], starts_on: datetime.date
) -> dict[int, list[LineSpec]]:
    """The proration lines of each contract whose plan changed during the period that ends
    the day before `starts_on`, after that period's invoice was issued (two queries)."""
    previous = {
        invoice.contract_id: invoice
        for invoice in Invoice.objects.filter(
            contract_id__any=[contract.pk for contract in contracts],
            status=Invoice.Status.ISSUED,
            period_end=starts_on - datetime.timedelta(days=1),
        ).only("contract_id", "period_start", "period_end", "created_at")
    }
    if not previous:
        return {}
    changes = (
        ServiceChange.objects.filter(
            contract_id__any=list(previous),
            event=ServiceChange.Event.PLAN_CHANGED,
            created_at__gte=min(invoice.created_at for invoice in previous.values()),
        )
        .exclude(plan_from=None)
        .select_related("plan_from", "plan_to")
        .order_by("created_at", "pk")
    )
    lines: dict[int, list[LineSpec]] = {}
    for change in changes:
        invoice = previous[change.contract_id]
        changed_on = timezone.localdate(change.created_at, timezone=provider.tzinfo)
        if change.created_at <= invoice.created_at or changed_on > invoice.period_end:
            continue
        period_days = (invoice.period_end - invoice.period_start).days + 1
        days = (invoice.period_end - changed_on).days + 1
        difference = change.plan_to.price - change.plan_from.price
        if not difference:
            continue
        lines.setdefault(change.contract_id, []).append(
            LineSpec(
                description=_(
                    "Cambio de plan %(old)s → %(new)s desde el %(date)s (%(days)s de %(of)s días)"
                )
                % {
                    "old": change.plan_from.name,
                    "new": change.plan_to.name,
                    "date": changed_on.strftime("%d/%m/%Y"),
                    "days": days,
                    "of": period_days,
                },
                amount=money_quantize(difference * days / period_days),
            )
        )
    return lines


def _invoice_of_period(
    *,
    contract: Contract,
    starts_on: datetime.date,
    promotions: list[Promotion],
    prorations: list[LineSpec],
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
    if sum(line.amount for line in lines + prorations) > 0:
        lines.extend(prorations)
    else:
        # A credit for a lesser plan larger than this invoice: left to staff (an adjustment)
        # rather than an invoice of nothing.
        logger.warning("proration left out contract_id=%s period=%s", contract.pk, starts_on)
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

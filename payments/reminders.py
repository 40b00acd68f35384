"""Reminders before money is due: at 7, 3, 1 and 0 days before prepaid credit runs out
(the días de crédito Inicio shows) or before a postpaid invoice falls due, with the
amount, the date and how to pay (the pending reference when there is one).

Each is written once per contract, date and day, so the hourly job may run any number of
times. One that waits for the end of quiet hours is not sent if the contract was paid
past that vigencia meanwhile, or is withdrawn when its invoice is paid or voided
(billing.services)."""

import datetime
import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contract, Provider
from billing.models import Invoice
from core.money import money_format
from core.text import digits_grouped
from notifications.models import Kind
from notifications.services import Message, notifications_send

from .models import Payment

logger = logging.getLogger(__name__)

REMINDER_DAYS = (7, 3, 1, 0)


@transaction.atomic
def reminders_send(*, now: datetime.datetime | None = None) -> int:
    """Write today's reminders of every ISP; returns how many were written (one per
    contract and date, whatever its channels)."""
    now = now or timezone.now()
    messages = []
    for provider in Provider.objects.filter(is_active=True):
        today = timezone.localdate(now, timezone=provider.tzinfo)
        dates = {today + datetime.timedelta(days=days): days for days in REMINDER_DAYS}
        messages += _credit_reminders(provider=provider, dates=dates, now=now)
        messages += _invoice_reminders(provider=provider, dates=dates, now=now)
    notifications_send(messages=messages, now=now)
    if messages:
        logger.info("reminders written contracts=%s", len(messages))
    return len(messages)


def _how_to_pay(payment: Payment | None) -> str:
    if payment is not None and payment.reference:
        return _("con la referencia %(reference)s") % {
            "reference": digits_grouped(payment.reference)
        }
    return _("desde el portal")


def _pending(*, now: datetime.datetime, **lookups) -> list[Payment]:
    return list(
        Payment.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            status=Payment.Status.PENDING,
            **lookups,
        ).order_by("created_at")
    )


def _credit_reminders(
    *, provider: Provider, dates: dict[datetime.date, int], now: datetime.datetime
) -> list[Message]:
    contracts = list(
        Contract.objects.filter(
            provider=provider,
            billing_mode=Contract.BillingMode.PREPAID,
            status=Contract.Status.ACTIVE,
            paid_until__in=list(dates),
        ).select_related("plan")
    )
    pending = {
        payment.contract_id: payment
        for payment in _pending(now=now, contract__in=contracts, invoice=None)
    }
    messages = []
    for contract in contracts:
        payment = pending.get(contract.pk)
        days = dates[contract.paid_until]
        messages.append(
            Message(
                contract_id=contract.pk,
                kind=Kind.CREDIT_REMINDER,
                event=f"reminder:{contract.paid_until.isoformat()}:{days}",
                values={
                    "dias": str(days),
                    "vigencia": contract.paid_until.strftime("%d/%m/%Y"),
                    "monto": money_format(
                        payment.amount if payment else contract.plan.price, provider=provider
                    ),
                    "como_pagar": _how_to_pay(payment),
                },
                covers_until=contract.paid_until,
            )
        )
    return messages


def _invoice_reminders(
    *, provider: Provider, dates: dict[datetime.date, int], now: datetime.datetime
) -> list[Message]:
    invoices = list(
        Invoice.objects.filter(
            provider=provider,
            status=Invoice.Status.ISSUED,
            due_date__in=list(dates),
            amount_paid__lt=F("total"),
        )
        .exclude(contract__status=Contract.Status.CANCELLED)
        .order_by("pk")
    )
    pending = {payment.invoice_id: payment for payment in _pending(now=now, invoice__in=invoices)}
    messages = []
    for invoice in invoices:
        days = dates[invoice.due_date]
        messages.append(
            Message(
                contract_id=invoice.contract_id,
                kind=Kind.INVOICE_REMINDER,
                event=f"{invoice.reminder_event}{days}",
                values={
                    "dias": str(days),
                    "factura": str(invoice.number),
                    "vencimiento": invoice.due_date.strftime("%d/%m/%Y"),
                    "monto": money_format(invoice.amount_due, provider=provider),
                    "como_pagar": _how_to_pay(pending.get(invoice.pk)),
                },
            )
        )
    return messages

"""Reminders before prepaid credit runs out: at 7, 3, 1 and 0 días de crédito (the number
Inicio shows), with the amount, the vigencia and how to pay (the pending reference when
there is one). Each is written once per contract, vigencia and day, so the hourly job may
run any number of times; one that waits for the end of quiet hours is not sent if the
contract was paid past that vigencia meanwhile. Invoice reminders come with invoicing."""

import datetime
import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Contract, Provider
from core.money import money_format
from notifications.models import Kind
from notifications.services import Message, notifications_send

from .models import Payment

logger = logging.getLogger(__name__)

REMINDER_DAYS = (7, 3, 1, 0)


def reference_grouped(reference: str) -> str:
    """A reference read aloud in groups of four: 1113 2417 2894 941."""
    return " ".join(reference[start : start + 4] for start in range(0, len(reference), 4))


@transaction.atomic
def credit_reminders_send(*, now: datetime.datetime | None = None) -> int:
    """Write today's reminders of every ISP; returns how many contracts were reminded."""
    now = now or timezone.now()
    messages = []
    for provider in Provider.objects.filter(is_active=True):
        today = timezone.localdate(now, timezone=provider.tzinfo)
        vigencias = {today + datetime.timedelta(days=days): days for days in REMINDER_DAYS}
        contracts = list(
            Contract.objects.filter(
                provider=provider,
                billing_mode=Contract.BillingMode.PREPAID,
                status=Contract.Status.ACTIVE,
                paid_until__in=list(vigencias),
            ).select_related("plan")
        )
        pending = {
            payment.contract_id: payment
            for payment in Payment.objects.filter(
                Q(expires_at__isnull=True) | Q(expires_at__gt=now),
                contract__in=contracts,
                status=Payment.Status.PENDING,
            ).order_by("created_at")
        }
        for contract in contracts:
            payment = pending.get(contract.pk)
            if payment is not None and payment.reference:
                how = _("con la referencia %(reference)s") % {
                    "reference": reference_grouped(payment.reference)
                }
                amount = payment.amount
            else:
                how = _("desde el portal")
                amount = contract.plan.price
            days = vigencias[contract.paid_until]
            messages.append(
                Message(
                    contract_id=contract.pk,
                    kind=Kind.CREDIT_REMINDER,
                    event=f"reminder:{contract.paid_until.isoformat()}:{days}",
                    values={
                        "dias": str(days),
                        "vigencia": contract.paid_until.strftime("%d/%m/%Y"),
                        "monto": money_format(amount, provider=provider),
                        "como_pagar": how,
                    },
                    covers_until=contract.paid_until,
                )
            )
    notifications_send(messages=messages, now=now)
    if messages:
        logger.info("credit reminders written contracts=%s", len(messages))
    return len(messages)

"""The safety net for a webhook that never came: pending gateway payments older than
POLL_AFTER are asked about through their adapter (`fetch`), and those the gateway says
are paid go through `payments_confirm`, which credits each once whatever else reports it
(the webhook arriving later says "already paid"). Self-issued references have no gateway
to ask: their money arrives by settlement files and agents."""

import datetime
import logging

from django.db.models import F, Q
from django.utils import timezone

from .gateways import GatewayError, adapter_for
from .models import GatewayAccount, Payment
from .services import PaymentReport, payments_confirm

logger = logging.getLogger(__name__)

POLL_AFTER = datetime.timedelta(minutes=15)
# A reference that expired may still have been paid just before: asked about this long.
POLL_EXPIRED_FOR = datetime.timedelta(days=3)
POLL_BATCH = 100


def payments_poll(*, now: datetime.datetime | None = None) -> int:
    """Ask the gateways about the least recently asked pending payments; returns how many
    were credited."""
    now = now or timezone.now()
    candidates = list(
        Payment.objects.filter(
            Q(status=Payment.Status.PENDING)
            | Q(status=Payment.Status.EXPIRED, expires_at__gt=now - POLL_EXPIRED_FOR),
            created_at__lte=now - POLL_AFTER,
        )
        .exclude(gateway="reference")
        .exclude(external_id="")
        .order_by(F("polled_at").asc(nulls_first=True), "created_at")[:POLL_BATCH]
    )
    if not candidates:
        return 0
    Payment.objects.filter(pk__any=[payment.pk for payment in candidates]).update(polled_at=now)
    accounts = {
        (account.provider_id, account.gateway): account
        for account in GatewayAccount.objects.filter(
            provider_id__in={payment.provider_id for payment in candidates}
        )
    }
    reports = []
    for payment in candidates:
        account = accounts.get((payment.provider_id, payment.gateway))
        adapter = adapter_for(payment.gateway)
        if account is None or not hasattr(adapter, "fetch"):
            continue
        try:
            remote = adapter.fetch(payment=payment, account=account)
        except GatewayError as error:
            logger.warning("poll: %s payment_id=%s: %s", payment.gateway, payment.pk, error)
            continue
        if remote is None or not remote.paid:
            continue
        reports.append(
            PaymentReport(
                payment_id=payment.pk,
                amount=remote.amount,
                currency=remote.currency,
                paid_at=remote.paid_at or now,
                note="consultado a la pasarela",
                source=f"poll:{payment.gateway}",
            )
        )
    if not reports:
        return 0
    confirmations = payments_confirm(reports=reports, source="poll")
    credited = sum(confirmation.credited for confirmation in confirmations)
    logger.info("poll: asked=%s paid=%s credited=%s", len(candidates), len(reports), credited)
    return credited

"""Verified webhook deliveries, credited by the worker many at a time.

The web answers a gateway as soon as its delivery is stored and verified: the facts it
verified are kept on the delivery (outcome «verified») and a worker is woken. The worker
takes every verified delivery waiting, 100 at a time, and credits their facts with one
`webhooks_apply` call (one `payments_confirm`). In a burst of deliveries that
costs the worker a fraction of one task per delivery, on the cores the web answers need
too (docs/performance.md, "Webhook acknowledgement").

Waking is one cache key: the first delivery after the worker started draining sets it
and queues one task, which starts a second later; those arriving while it is set queue
nothing, because the drain that follows will see them. The beat runs a drain every
minute too, for a worker that died between taking the key and finishing.
"""

import datetime
import logging
import math
import time
from dataclasses import asdict
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import Provider
from core.bulk import rows_update
from core.locks import rows_locked

from .gateways import RemotePayment
from .models import GatewayAccount, WebhookDelivery
from .services import WebhookFact, webhooks_apply

logger = logging.getLogger(__name__)

WAKE_KEY = "webhooks:credit-queued"
# A woken worker that never came (a lost message, a worker killed) holds the key this
# long at most; the next delivery after it wakes another. A drain queued behind a long
# task meanwhile is harmless: the second finds what the first left.
WAKE_SECONDS = 10
# The worker starts this long after the first delivery that woke it, so that those
# arriving meanwhile (a gateway's burst) are credited together rather than one by one.
WAKE_DELAY_SECONDS = 1.0
# Deliveries per transaction. The worker is niced below the web, but its PostgreSQL
# backend is not: smaller transactions let the web's answers in between them (with 500,
# the burst a drain overlapped answered its slowest delivery about 20 ms later).
BATCH_SIZE = 100
Outcome = WebhookDelivery.Outcome


def fact_to_json(fact: WebhookFact) -> dict:
    """JSON-safe: Decimal and datetime as strings."""
    remote = asdict(fact.remote)
    remote["amount"] = str(fact.remote.amount) if fact.remote.amount is not None else None
    remote["paid_at"] = fact.remote.paid_at.isoformat() if fact.remote.paid_at else None
    return {"provider_id": fact.provider_id, "gateway": fact.gateway, "remote": remote}


def fact_from_json(data: dict) -> WebhookFact:
    remote = data["remote"]
    return WebhookFact(
        provider_id=data["provider_id"],
        gateway=data["gateway"],
        remote=RemotePayment(
            **{
                **remote,
                "amount": Decimal(remote["amount"]) if remote["amount"] is not None else None,
                "paid_at": datetime.datetime.fromisoformat(remote["paid_at"])
                if remote["paid_at"]
                else None,
            }
        ),
    )


_DELIVERY_FIELDS = [
    field
    for field in WebhookDelivery._meta.concrete_fields
    if field is not WebhookDelivery._meta.pk
]
_ACCOUNT_FIELDS = GatewayAccount._meta.concrete_fields
# The ISP's enabled account for the gateway, and the delivery stored only when there is
# one: a delivery for no account is answered 404 and leaves nothing behind.
# Only table and column names from the models are formatted in; values are parameters.
_DELIVERY_STORE_SQL = """
WITH account AS (
    SELECT {account_columns}
    FROM {account_table} account
    WHERE account.gateway = %s AND account.is_enabled
        AND account.provider_id = (SELECT id FROM {provider_table} WHERE code = %s)
), delivery AS (
    INSERT INTO {delivery_table} ({delivery_columns})
    SELECT {placeholders} FROM account
    RETURNING id
)
SELECT delivery.id, account.* FROM account, delivery
""".format(  # noqa: S608
    delivery_table=WebhookDelivery._meta.db_table,
    delivery_columns=", ".join(field.column for field in _DELIVERY_FIELDS),
    placeholders=", ".join("%s" for _field in _DELIVERY_FIELDS),
    account_table=GatewayAccount._meta.db_table,
    account_columns=", ".join(f"account.{field.column}" for field in _ACCOUNT_FIELDS),
    provider_table=Provider._meta.db_table,
)


def webhook_delivery_store(
    *, gateway: str, provider_code: str, body: str, headers: dict[str, str]
) -> tuple[WebhookDelivery | None, GatewayAccount | None]:
    """Find the ISP's enabled account for this gateway and, when there is one, store the
    raw delivery (committed before anything else happens); else (None, None).

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
        account = GatewayAccount.objects.filter(
            provider__code=provider_code, gateway=gateway, is_enabled=True
        ).first()
        if account is None:
            return None, None
        delivery.save(force_insert=True)
        return delivery, account
    with connection.cursor() as cursor:
        cursor.execute(
            _DELIVERY_STORE_SQL,
            [
                gateway,
                provider_code,
                *(
                    field.get_db_prep_save(getattr(delivery, field.attname), connection)
                    for field in _DELIVERY_FIELDS
                ),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None, None
    delivery.pk, *account_values = row
    delivery._state.adding = False
    return delivery, GatewayAccount.from_db(
        connection.alias, [field.attname for field in _ACCOUNT_FIELDS], account_values
    )


def webhook_delivery_close(delivery: WebhookDelivery, outcome: str, detail: str) -> None:
    """A delivery that ends here, with nothing for the worker: its outcome and why."""
    delivery.outcome = outcome
    delivery.detail = detail[:300]
    delivery.save(update_fields=["outcome", "detail", "event_id"])


def webhook_delivery_accept(*, delivery: WebhookDelivery, facts: list[WebhookFact]) -> list[str]:
    """Keep what a verified delivery says was paid and wake the worker to credit it.

    Returns what to tell the gateway for each fact: "queued", or, where tasks run in
    the request (tests, `make run` without Redis), how it was credited already.
    """
    from .tasks import webhook_deliveries_credit_task

    delivery.facts = [fact_to_json(fact) for fact in facts]
    delivery.outcome = Outcome.VERIFIED
    delivery.event_id = facts[0].remote.event_id[:120]
    delivery.save(update_fields=["facts", "outcome", "event_id"])
    webhook_credit_wake()
    if not webhook_deliveries_credit_task.app.conf.task_always_eager:
        return ["queued"] * len(facts)
    delivery.refresh_from_db(fields=["facts"])
    return [item.get("outcome", "queued") for item in delivery.facts]


# When this process last queued a drain (time.monotonic()).
_queued_at = -math.inf


def webhook_credit_wake() -> None:
    """Have a worker credit the verified deliveries: one task however many arrive."""
    global _queued_at  # noqa: PLW0603 (one number per process, see below)
    from .tasks import webhook_deliveries_credit_task

    if (
        not webhook_deliveries_credit_task.app.conf.task_always_eager
        and time.monotonic() - _queued_at < WAKE_DELAY_SECONDS / 2
    ):
        # The drain this process queued cannot have started yet (it waits a second), so
        # it will see this delivery: no need to ask Redis. The half second is margin for
        # a worker whose clock runs ahead; past it, the key decides as usual.
        return
    # Before the task's start is set: publishing may take a while, and the half second
    # must not outlast the second the drain waits.
    asked_at = time.monotonic()
    if cache.add(WAKE_KEY, "queued", timeout=WAKE_SECONDS):
        try:
            webhook_deliveries_credit_task.apply_async(countdown=WAKE_DELAY_SECONDS)
        except Exception:  # noqa: BLE001 (the delivery is kept; the beat credits it)
            # The broker is down: the gateway still gets its answer, since the delivery
            # is on record, and the next delivery or the beat's drain takes it.
            logger.exception("webhook credit not queued; the next drain takes it")
            cache.delete(WAKE_KEY)
            return
        _queued_at = asked_at


def webhook_deliveries_credit() -> int:
    """Credit every verified delivery waiting, oldest first; returns how many."""
    # Taken first: a delivery verified from now on wakes another drain, and one
    # verified before is seen by the look-ups below.
    cache.delete(WAKE_KEY)
    total = 0
    while done := _batch_credit():
        total += done
    return total


def _batch_credit() -> int:
    with transaction.atomic():
        # Two drains at once (two worker processes) take different deliveries.
        deliveries = list(
            rows_locked(WebhookDelivery.objects, skip_locked=True)
            .filter(outcome=Outcome.VERIFIED)
            .order_by("pk")
            .only("pk", "facts")[:BATCH_SIZE]
        )
        if not deliveries:
            return 0
        try:
            with transaction.atomic():
                outcomes = webhooks_apply(
                    facts=[fact_from_json(item) for d in deliveries for item in d.facts]
                )
        except Exception:  # noqa: BLE001 (each delivery is tried on its own below)
            logger.warning("webhook batch redone one delivery at a time count=%s", len(deliveries))
            for delivery in deliveries:
                _delivery_credit(delivery)
        else:
            position = 0
            for delivery in deliveries:
                _outcomes_record(delivery, outcomes[position : position + len(delivery.facts)])
                position += len(delivery.facts)
        rows_update(WebhookDelivery, objects=deliveries, fields=["facts", "outcome", "detail"])
    logger.info("webhook deliveries credited count=%s", len(deliveries))
    return len(deliveries)


def _delivery_credit(delivery: WebhookDelivery) -> None:
    """One delivery's facts on their own; one that cannot be credited is marked failed
    (staff see it among the gateway notices) instead of holding up the others."""
    try:
        with transaction.atomic():
            outcomes = webhooks_apply(facts=[fact_from_json(item) for item in delivery.facts])
    except OperationalError:
        # A deadlock, a lost connection, a timeout: nothing wrong with the delivery. The
        # whole drain is undone and the task tries again later (it retries on this).
        raise
    except Exception as error:  # noqa: BLE001 (recorded on the delivery and logged)
        logger.exception("webhook delivery not credited delivery_id=%s", delivery.pk)
        delivery.outcome = Outcome.FAILED
        delivery.detail = f"{type(error).__name__}: {error}"[:300]
        return
    _outcomes_record(delivery, outcomes)


def _outcomes_record(delivery: WebhookDelivery, outcomes: list[str]) -> None:
    for item, outcome in zip(delivery.facts, outcomes, strict=True):
        item["outcome"] = outcome
    delivery.outcome = Outcome.DUPLICATE if set(outcomes) == {"duplicate"} else Outcome.PROCESSED
    delivery.detail = ", ".join(outcomes)[:300]


def webhook_deliveries_purge(*, now: datetime.datetime | None = None) -> int:
    """Delete the deliveries that never verified (rejected, or received while the gateway
    could not confirm them) older than WEBHOOK_UNVERIFIED_DAYS; returns how many.

    Verified deliveries stay: they are the evidence of what was credited.
    """
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.WEBHOOK_UNVERIFIED_DAYS)
    deleted, _by_model = WebhookDelivery.objects.filter(
        outcome__in=[Outcome.REJECTED, Outcome.RECEIVED], received_at__lt=cutoff
    ).delete()
    logger.info("unverified webhook deliveries purged count=%s", deleted)
    return deleted

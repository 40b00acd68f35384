"""The recompute: each contract's vigencia, plan in effect and service status, derived
from its service periods, its payment promise and the ISP's holds.

One source of truth (DESIGN.md): payments, imports and staff add periods, promises and
holds; only this writes `paid_until`, `plan` and `status` from them (cancellation aside,
which it never touches). It is safe to run at any time, twice, at once, or again after a
crash: the same facts give the same contract, and a change is recorded once because the
contract is locked while it is decided.

Contracts are taken in chunks of `RECOMPUTE_CHUNK_SIZE`, each in its own transaction and
in a constant number of statements whatever its size: lock the chunk (reading its rows),
read its periods and holds by its id range, decide in Python, then write what changed
(one UPDATE, one INSERT of service changes, one of network deliveries).
"""

import datetime
import logging
from collections.abc import Collection
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from accounts.models import Contract, Provider
from core.bulk import rows_insert, rows_update
from core.locks import rows_locked
from core.outbox import outbox_enqueue, outbox_task
from notifications.models import Kind
from notifications.services import Message, notifications_send

from .models import Invoice, ServiceChange, ServiceHold, ServicePeriod

logger = logging.getLogger(__name__)

Reason = ServiceChange.Reason
Status = Contract.Status


class Facts(NamedTuple):
    """What one contract's service is derived from (a tuple: a chunk makes thousands)."""

    contract_id: int
    billing_mode: str
    status: str
    plan_id: int
    paid_until: datetime.date | None
    promise_until: datetime.date | None
    periods_end: datetime.date | None
    plan_today: int | None
    held: bool
    # Postpaid: the due date of its oldest invoice still owed.
    owed_since: datetime.date | None = None


class Decision(NamedTuple):
    paid_until: datetime.date | None
    plan_id: int
    status: str
    status_reason: str


# Plain strings: a recompute decides a million contracts, and an enum member is looked up
# on every access.
ACTIVE, SUSPENDED = Status.ACTIVE.value, Status.SUSPENDED.value
POSTPAID = Contract.BillingMode.POSTPAID.value
NO_CREDIT, PAYMENT, PROMISE, STAFF = (
    Reason.NO_CREDIT.value,
    Reason.PAYMENT.value,
    Reason.PROMISE.value,
    Reason.STAFF.value,
)


def service_decide(
    facts: Facts,
    *,
    today: datetime.date,
    grace_days: int,
    cause: str | None = None,
    suspend_after_days: int = 0,
) -> Decision:
    """The contract's service today, on the ISP's calendar.

    Vigencia is the end of its last period (service runs while today < vigencia: días de
    crédito > 0), plus the ISP's grace days. The plan is the one of the period running
    today, if any. A promise keeps service through its last day. A hold suspends whatever
    the credit. Postpaid service runs until an invoice is owed `suspend_after_days` past
    its due date (the ISP's rule). `cause` names why a reactivation happened when the
    caller knows (a hold lifted).
    """
    paid_until = facts.periods_end
    if facts.held:
        status, reason = SUSPENDED, STAFF
    elif facts.billing_mode == POSTPAID:
        owed = facts.owed_since
        if owed is not None and (today - owed).days >= suspend_after_days:
            status, reason = SUSPENDED, NO_CREDIT
        else:
            status, reason = ACTIVE, cause or PAYMENT
    elif paid_until is not None and (paid_until - today).days + grace_days > 0:
        status, reason = ACTIVE, cause or PAYMENT
    elif facts.promise_until is not None and today <= facts.promise_until:
        status, reason = ACTIVE, cause or PROMISE
    else:
        status, reason = SUSPENDED, NO_CREDIT
    return Decision(paid_until, facts.plan_today or facts.plan_id, status, reason)


def contracts_recompute(
    *,
    provider: Provider | None = None,
    contract_ids: Collection[int] | None = None,
    cause: str | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """Recompute the service of every contract (of `provider`, or only `contract_ids`);
    returns how many service changes were recorded.

    Called by the beat's job for everybody, and inside the transaction of whatever moved
    a contract's facts (a payment credited, a promise made, a hold placed or lifted) for
    those contracts, so that the subscriber sees the result on the next page.
    """
    now = now or timezone.now()
    providers = Provider.objects.order_by("pk")
    if provider is not None:
        providers = providers.filter(pk=provider.pk)
    if contract_ids is not None:
        contract_ids = sorted(set(contract_ids))
        if not contract_ids:
            return 0
        providers = providers.filter(contracts__pk__any=contract_ids).distinct()
    changes = 0
    for each in providers:
        today = timezone.localdate(now, timezone=each.tzinfo)
        after = 0
        while True:
            with transaction.atomic():
                # Lock, read, decide, write.
                rows = _chunk_locked(provider=each, after=after, contract_ids=contract_ids)
                if not rows:
                    break
                decided = {
                    facts.contract_id: (
                        facts,
                        service_decide(
                            facts,
                            today=today,
                            grace_days=each.grace_days,
                            cause=cause,
                            suspend_after_days=each.suspend_after_days,
                        ),
                    )
                    for facts in _chunk_facts(
                        rows=rows, today=today, sparse=contract_ids is not None
                    )
                }
                changes += _chunk_write(provider=each, decided=decided, now=now)
            if len(rows) < settings.RECOMPUTE_CHUNK_SIZE:
                break  # the last chunk: no need to ask for another
            after = rows[-1][0]
    return changes


# The contract's own facts, read by the statement that locks it.
CONTRACT_FACTS = ("pk", "billing_mode", "status", "plan_id", "paid_until", "promise_until")


def _chunk_locked(*, provider: Provider, after: int, contract_ids: list[int] | None) -> list[tuple]:
    """Lock the next chunk of the ISP's contracts that are not cancelled, by primary key
    (the order every service locks contracts in), and read their own facts: a row locked
    is read as last committed."""
    contracts = Contract.objects.filter(provider=provider, pk__gt=after).exclude(
        status=Status.CANCELLED
    )
    if contract_ids is not None:
        contracts = contracts.filter(pk__any=contract_ids)
    return list(
        rows_locked(contracts).values_list(*CONTRACT_FACTS)[: settings.RECOMPUTE_CHUNK_SIZE]
    )


def _chunk_facts(*, rows: list[tuple], today: datetime.date, sparse: bool) -> list[Facts]:
    """The periods and holds of the locked chunk, read after the lock (what was committed
    before it is what is decided on): of a whole chunk, by one scan of its id range
    rather than a lookup per contract (docs/performance.md, "Recompute"); of a few
    contracts (`sparse`: a settlement batch's, spread over the ISP), by their ids."""
    if sparse:
        of_chunk = {"contract_id__any": [row[0] for row in rows]}
    else:
        of_chunk = {"contract_id__gte": rows[0][0], "contract_id__lte": rows[-1][0]}
    periods = ServicePeriod.objects.filter(**of_chunk)
    periods_end = dict(
        periods.order_by()
        .values("contract_id")
        .annotate(end=Max("ends_on"))
        .values_list("contract_id", "end")
    )
    # The plan of the period running today (of two, the one that started last). Nearly
    # every contract runs on its own plan: only those with a running period of another
    # plan are read in full, not a row per contract (docs/performance.md, "Recompute").
    running = periods.filter(starts_on__lte=today, ends_on__gt=today)
    switching = set(
        running.exclude(plan_id=F("contract__plan_id")).values_list("contract_id", flat=True)
    )
    plan_today: dict[int, tuple] = {}
    for contract_id, starts_on, pk, plan_id in running.filter(
        contract_id__any=switching
    ).values_list("contract_id", "starts_on", "pk", "plan_id"):
        if contract_id not in plan_today or (starts_on, pk) > plan_today[contract_id][:2]:
            plan_today[contract_id] = (starts_on, pk, plan_id)
    held = set(
        ServiceHold.objects.filter(lifted_at=None, **of_chunk).values_list("contract_id", flat=True)
    )
    # Postpaid contracts only (none in most chunks of a prepaid ISP: no statement then).
    postpaid = [row[0] for row in rows if row[1] == POSTPAID]
    owed_since = (
        dict(
            Invoice.objects.filter(
                contract_id__any=postpaid,
                status=Invoice.Status.ISSUED,
                amount_paid__lt=F("total"),
            )
            .order_by()
            .values("contract_id")
            .annotate(since=Min("due_date"))
            .values_list("contract_id", "since")
        )
        if postpaid
        else {}
    )
    return [
        Facts(
            *row,
            periods_end.get(row[0]),
            plan_today[row[0]][2] if row[0] in plan_today else None,
            row[0] in held,
            owed_since.get(row[0]),
        )
        for row in rows
    ]


def _chunk_write(
    *, provider: Provider, decided: dict[int, tuple[Facts, Decision]], now: datetime.datetime
) -> int:
    """Write the contracts whose service changed, a ServiceChange for each change, and
    what the ISP's network must hear of them."""
    changed = []
    records = []
    for contract_id, (facts, decision) in decided.items():
        if (facts.paid_until, facts.plan_id, facts.status) == (
            decision.paid_until,
            decision.plan_id,
            decision.status,
        ):
            continue
        changed.append(
            Contract(
                pk=contract_id,
                paid_until=decision.paid_until,
                plan_id=decision.plan_id,
                status=decision.status,
                updated_at=now,
            )
        )
        if decision.status != facts.status:
            records.append(
                ServiceChange(
                    provider_id=provider.pk,
                    contract_id=contract_id,
                    event=(
                        ServiceChange.Event.SUSPENDED
                        if decision.status == Status.SUSPENDED
                        else ServiceChange.Event.REACTIVATED
                    ),
                    reason=decision.status_reason,
                    status_from=facts.status,
                    status_to=decision.status,
                    plan_from_id=facts.plan_id,
                    plan_to_id=decision.plan_id,
                    paid_until=decision.paid_until,
                    created_at=now,
                )
            )
        if decision.plan_id != facts.plan_id:
            records.append(
                ServiceChange(
                    provider_id=provider.pk,
                    contract_id=contract_id,
                    event=ServiceChange.Event.PLAN_CHANGED,
                    reason=Reason.PLAN,
                    status_from=facts.status,
                    status_to=decision.status,
                    plan_from_id=facts.plan_id,
                    plan_to_id=decision.plan_id,
                    paid_until=decision.paid_until,
                    created_at=now,
                )
            )
    if not changed:
        return 0
    rows_update(Contract, objects=changed, fields=["paid_until", "plan", "status", "updated_at"])
    service_changes_record(provider=provider, changes=records)
    if records:
        logger.info(
            "service recomputed provider=%s contracts=%s changes=%s",
            provider.code,
            len(changed),
            len(records),
        )
    return len(records)


def service_changes_record(*, provider: Provider, changes: list[ServiceChange]) -> None:
    """Append the service changes of one ISP and what its network must hear of them; the
    notices its subscribers get (suspended, reactivated) are written by the worker right
    after the commit, off the recompute's path (docs/performance.md, "Recompute")."""
    from .network import network_deliveries_new

    rows_insert(ServiceChange, objects=changes)
    network_deliveries_new(provider=provider, changes=changes)
    told = [change.pk for change in changes if change.event in NOTICES]
    if told:
        outbox_enqueue(task=service_notices_send, kwargs={"change_ids": told})


NOTICES = {
    ServiceChange.Event.SUSPENDED: Kind.SERVICE_SUSPENDED,
    ServiceChange.Event.REACTIVATED: Kind.SERVICE_REACTIVATED,
}


@outbox_task
def service_notices_send(*, change_ids: list[int]) -> None:
    """Tell subscribers their service was suspended or is back (not a cancellation):
    once per change, whatever the retries."""
    reasons = dict(ServiceChange.Reason.choices)
    changes = ServiceChange.objects.filter(pk__any=change_ids).exclude(status_to=Status.CANCELLED)
    notifications_send(
        messages=[
            Message(
                contract_id=change.contract_id,
                kind=NOTICES[change.event],
                event=f"change:{change.pk}",
                values={
                    "motivo": str(reasons[change.reason]),
                    "vigencia": (
                        change.paid_until.strftime("%d/%m/%Y") if change.paid_until else ""
                    ),
                },
            )
            for change in changes
        ],
    )

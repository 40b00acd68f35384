"""Reads of plans and promotions for a subscriber's contract (its ISP and zone)."""

from django.db.models import DateField, F

from accounts.models import Contract
from core.queries import Param, Prepared

from .models import Plan, Promotion

_PROMOTIONS_RUNNING = Prepared(
    lambda: (
        Promotion.objects.filter(
            provider_id=Param("provider"),
            is_active=True,
            starts_on__lte=Param("today", DateField()),
            ends_on__gte=Param("today", DateField()),
        )
        .annotate(zone_limit=F("zones"), plan_limit=F("plans"))
        .order_by("ends_on", "pk")
    )
)


def promotions_active_for(*, contract: Contract) -> list[Promotion]:
    """Promotions running today (ISP calendar) in the contract's zone (or in every zone),
    each with `plan_ids`, the plans it is limited to (empty: every plan).

    One query, one row per promotion and each zone and plan it is limited to, sorted out
    here: an ISP runs a handful of promotions over a few zones and plans, and this plain
    join costs Django a third of what "no zone or this zone" as two EXISTS in SQL and a
    prefetch of the plans did (docs/performance.md)."""
    rows = _PROMOTIONS_RUNNING.list(provider=contract.provider_id, today=contract.provider.today())
    promotions: dict[int, Promotion] = {}
    zones: dict[int, set] = {}
    plans: dict[int, set] = {}
    for row in rows:
        promotions.setdefault(row.pk, row)
        zones.setdefault(row.pk, set()).add(row.zone_limit)
        plans.setdefault(row.pk, set()).add(row.plan_limit)
    running = []
    for pk, promotion in promotions.items():
        if zones[pk] == {None} or contract.zone_id in zones[pk]:
            promotion.plan_ids = plans[pk] - {None}
            running.append(promotion)
    return running


_PREPAID_PLANS = Prepared(
    lambda: Plan.objects.filter(
        provider_id=Param("provider"),
        zones=Param("zone"),
        is_active=True,
        billing_mode=Contract.BillingMode.PREPAID,
    ).order_by("price", "name")
)


def prepaid_plans_for(*, contract: Contract) -> list[Plan]:
    """Planes prepago: active prepaid plans of the ISP offered in the contract's zone."""
    return _PREPAID_PLANS.list(provider=contract.provider_id, zone=contract.zone_id)


def prepaid_plan_for(*, contract: Contract, plan_id: int) -> Plan | None:
    return next((plan for plan in prepaid_plans_for(contract=contract) if plan.pk == plan_id), None)


def promotions_by_plan(
    *, plans: list[Plan], promotions: list[Promotion]
) -> dict[int, list[Promotion]]:
    """Which of the running promotions apply to each plan (no plans listed: all plans)."""
    result: dict[int, list[Promotion]] = {plan.pk: [] for plan in plans}
    for promotion in promotions:
        for plan in plans:
            if not promotion.plan_ids or plan.pk in promotion.plan_ids:
                result[plan.pk].append(promotion)
    return result

"""Reads of plans and promotions for a subscriber's contract (its ISP and zone)."""

from django.db.models import DateField, F, Prefetch, QuerySet, prefetch_related_objects

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
        .annotate(zone_limit=F("zones"))
        .order_by("ends_on", "pk")
    )
)


def promotions_active_for(*, contract: Contract, with_plans: bool = True) -> list[Promotion]:
    """Promotions running today (ISP calendar) in the contract's zone (or in every zone),
    with their plan ids unless `with_plans` is False (Inicio shows them, not their plans:
    one query instead of two).

    One row per promotion and zone it is limited to (none: every zone), the zone picked
    here: an ISP runs a handful of promotions, and a plain join costs Django a third of
    what "no zone or this zone" as two EXISTS in SQL did (docs/performance.md)."""
    rows = _PROMOTIONS_RUNNING.list(provider=contract.provider_id, today=contract.provider.today())
    zones: dict[int, set] = {}
    promotions: dict[int, Promotion] = {}
    for row in rows:
        promotions.setdefault(row.pk, row)
        zones.setdefault(row.pk, set()).add(row.zone_limit)
    running = [
        promotion
        for promotion in promotions.values()
        if zones[promotion.pk] == {None} or contract.zone_id in zones[promotion.pk]
    ]
    if with_plans:
        prefetch_related_objects(running, Prefetch("plans", queryset=Plan.objects.only("id")))
    return running


def prepaid_plans_for(*, contract: Contract) -> QuerySet[Plan]:
    """Planes prepago: active prepaid plans of the ISP offered in the contract's zone."""
    return Plan.objects.filter(
        provider_id=contract.provider_id,
        zones=contract.zone_id,
        is_active=True,
        billing_mode=Contract.BillingMode.PREPAID,
    ).order_by("price", "name")


def prepaid_plan_for(*, contract: Contract, plan_id: int) -> Plan | None:
    return prepaid_plans_for(contract=contract).filter(pk=plan_id).first()


def promotions_by_plan(
    *, plans: list[Plan], promotions: list[Promotion]
) -> dict[int, list[Promotion]]:
    """Which of the running promotions apply to each plan (no plans listed: all plans)."""
    result: dict[int, list[Promotion]] = {plan.pk: [] for plan in plans}
    for promotion in promotions:
        plan_ids = {plan.pk for plan in promotion.plans.all()}
        for plan in plans:
            if not plan_ids or plan.pk in plan_ids:
                result[plan.pk].append(promotion)
    return result

"""Reads of plans and promotions for a subscriber's contract (its ISP and zone)."""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.models import Contract

from .models import Plan, Promotion


def promotions_active_for(*, contract: Contract, with_plans: bool = True) -> list[Promotion]:
    """Promotions running today (ISP calendar) in the contract's zone (or in every zone),
    with their plan ids unless `with_plans` is False (Inicio shows them, not their plans:
    one query instead of two)."""
    today = contract.provider.today()
    zones = Promotion.zones.through.objects.filter(promotion_id=OuterRef("pk"))
    promotions = Promotion.objects.filter(
        Q(~Exists(zones)) | Q(Exists(zones.filter(zone_id=contract.zone_id))),
        provider_id=contract.provider_id,
        is_active=True,
        starts_on__lte=today,
        ends_on__gte=today,
    ).order_by("ends_on", "pk")
    if with_plans:
        promotions = promotions.prefetch_related(
            Prefetch("plans", queryset=Plan.objects.only("id"))
        )
    return list(promotions)


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

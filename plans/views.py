"""Planes prepago and the Adquirir page."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.context_processors import request_contracts

from .selectors import (
    prepaid_plan_for,
    prepaid_plans_for,
    promotions_active_for,
    promotions_by_plan,
)


@login_required
def prepaid_plans(request: HttpRequest) -> HttpResponse:
    _contracts, contract = request_contracts(request)
    if contract is None:
        raise Http404
    plans = list(prepaid_plans_for(contract=contract))
    promotions = promotions_by_plan(
        plans=plans, promotions=promotions_active_for(contract=contract)
    )
    offers = [(plan, promotions[plan.pk]) for plan in plans]
    return render(request, "plans/prepaid_plans.html", {"offers": offers})


@login_required
def plan_purchase(request: HttpRequest, plan_id: int) -> HttpResponse:
    """Adquirir: the chosen plan and how to pay for it."""
    _contracts, contract = request_contracts(request)
    plan = prepaid_plan_for(contract=contract, plan_id=plan_id) if contract else None
    if plan is None:
        raise Http404
    promotions = promotions_by_plan(
        plans=[plan], promotions=promotions_active_for(contract=contract)
    )[plan.pk]
    return render(request, "plans/purchase.html", {"plan": plan, "promotions": promotions})

"""Planes prepago. (Adquirir, which needs the payment methods, lives in payments.)"""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.tenancy import request_contracts

from .selectors import (
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

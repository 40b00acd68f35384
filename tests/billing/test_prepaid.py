"""prepaid_extend: a period starts at max(today, vigencia); credit days go up at once."""

import datetime

import pytest
import time_machine

from billing.models import ServicePeriod
from billing.services import BillingError, Extension, prepaid_extend
from tests.factories import ContractFactory, PlanFactory

pytestmark = pytest.mark.django_db

NOON_MEXICO = datetime.datetime(2026, 11, 23, 18, 0, tzinfo=datetime.UTC)


@pytest.fixture
def contract():
    return ContractFactory(paid_until=datetime.date(2026, 11, 30), plan__period_days=30)


def _extend(contract, plan, description, days=None):
    extension = Extension(contract=contract, plan=plan, description=description, days=days)
    return prepaid_extend(extensions=[extension])[0]


@time_machine.travel(NOON_MEXICO, tick=False)
def test_a_period_bought_before_expiry_stacks_on_the_vigencia(contract):
    assert contract.credit_days() == 7
    period = _extend(contract, contract.plan, "Plan Básico")
    contract.refresh_from_db()
    assert (period.starts_on, period.ends_on) == (
        datetime.date(2026, 11, 30),
        datetime.date(2026, 12, 30),
    )
    assert contract.paid_until == datetime.date(2026, 12, 30)
    assert contract.credit_days() == 37


@time_machine.travel(NOON_MEXICO, tick=False)
def test_a_period_bought_after_expiry_starts_today():
    contract = ContractFactory(paid_until=datetime.date(2026, 10, 1), plan__period_days=30)
    _extend(contract, contract.plan, "Plan Básico")
    contract.refresh_from_db()
    assert contract.paid_until == datetime.date(2026, 12, 23)
    assert contract.credit_days() == 30


@time_machine.travel(NOON_MEXICO, tick=False)
def test_three_purchases_stack_end_to_end(contract):
    bigger = PlanFactory(provider=contract.provider, period_days=60)
    _extend(contract, contract.plan, "uno")
    _extend(contract, bigger, "dos")
    _extend(contract, contract.plan, "tres", days=5)
    periods = list(
        ServicePeriod.objects.filter(starts_on__gte=datetime.date(2026, 11, 30))
        .order_by("starts_on")
        .values_list("starts_on", "ends_on")
    )
    assert periods == [
        (datetime.date(2026, 11, 30), datetime.date(2026, 12, 30)),
        (datetime.date(2026, 12, 30), datetime.date(2027, 2, 28)),
        (datetime.date(2027, 2, 28), datetime.date(2027, 3, 5)),
    ]
    contract.refresh_from_db()
    assert contract.paid_until == datetime.date(2027, 3, 5)


def test_the_day_boundary_uses_the_isp_calendar():
    contract = ContractFactory(paid_until=None)
    # 23:30 in Mexico City on the 23rd is already the 24th in UTC.
    with time_machine.travel(datetime.datetime(2026, 11, 24, 5, 30, tzinfo=datetime.UTC)):
        period = _extend(contract, contract.plan, "x")
    assert period.starts_on == datetime.date(2026, 11, 23)


def test_a_period_of_no_days_is_refused(contract):
    with pytest.raises(BillingError):
        _extend(contract, contract.plan, "x", days=0)
    assert ServicePeriod.objects.filter(contract=contract).count() == 1  # the opening one

"""The recompute: vigencia, plan in effect and service status from periods, promises and
holds, on each ISP's calendar; each change recorded once."""

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Contract
from billing.models import ServiceChange, ServiceHold, ServicePeriod
from billing.recompute import contracts_recompute
from billing.services import ServiceOrder, service_orders_apply
from payments.models import Payment
from payments.services import PaymentReport, payment_promise_make, payments_confirm
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
VIGENCIA = datetime.date(2026, 12, 1)


def _changes(contract) -> list[tuple[str, str]]:
    return list(
        ServiceChange.objects.filter(contract=contract)
        .order_by("pk")
        .values_list("event", "reason")
    )


def _contract(provider=None, **kwargs):
    provider = provider or ProviderFactory(code="111", handle_domain="kona")
    return ContractFactory(provider=provider, paid_until=VIGENCIA, **kwargs)


@pytest.mark.parametrize(
    ("time_zone", "last_minute", "first_minute"),
    [
        # Midnight of the 1st in Mexico City is 06:00 UTC; in Córdoba, 03:00 UTC.
        (
            "America/Mexico_City",
            datetime.datetime(2026, 12, 1, 5, 59, tzinfo=UTC),
            datetime.datetime(2026, 12, 1, 6, 0, 3, tzinfo=UTC),
        ),
        (
            "America/Argentina/Cordoba",
            datetime.datetime(2026, 12, 1, 2, 59, tzinfo=UTC),
            datetime.datetime(2026, 12, 1, 3, 0, 3, tzinfo=UTC),
        ),
    ],
)
def test_service_is_cut_at_the_isps_midnight_when_credit_runs_out(
    time_zone, last_minute, first_minute
):
    provider = ProviderFactory(code="111", time_zone=time_zone)
    contract = _contract(provider)

    with time_machine.travel(last_minute, tick=False):
        assert contracts_recompute() == 0
        contract.refresh_from_db()
        assert (contract.status, contract.credit_days()) == ("active", 1)
    with time_machine.travel(first_minute, tick=False):
        assert contracts_recompute() == 1
        contract.refresh_from_db()
        assert (contract.status, contract.credit_days()) == ("suspended", 0)

    assert _changes(contract) == [("contract.suspended", "sin_credito")]
    change = ServiceChange.objects.get(contract=contract)
    assert (change.status_from, change.status_to, change.paid_until) == (
        "active",
        "suspended",
        VIGENCIA,
    )


def test_grace_days_keep_service_after_the_vigencia():
    provider = ProviderFactory(code="111", grace_days=2)
    contract = _contract(provider)

    with time_machine.travel(datetime.datetime(2026, 12, 2, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert contract.status == "active"
    with time_machine.travel(datetime.datetime(2026, 12, 3, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert contract.status == "suspended"


def test_running_it_again_changes_and_records_nothing():
    contract = _contract()
    with time_machine.travel(datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), tick=False):
        assert contracts_recompute() == 1
        before = Contract.objects.values().get(pk=contract.pk)
        assert contracts_recompute() == 0
        assert contracts_recompute() == 0
    assert Contract.objects.values().get(pk=contract.pk) == before
    assert len(_changes(contract)) == 1


def test_a_payment_restores_a_suspended_contract_at_once():
    contract = _contract()
    noon = datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC)
    with time_machine.travel(noon, tick=False):
        contracts_recompute()
        payment = Payment.objects.create(
            provider=contract.provider,
            contract=contract,
            gateway="reference",
            plan=contract.plan,
            amount=contract.plan.price,
            currency="MXN",
            reference="11100000000017",
        )
        payments_confirm(
            reports=[
                PaymentReport(
                    payment_id=payment.pk, amount=contract.plan.price, currency="MXN", paid_at=noon
                )
            ],
            source="agent",
        )
    contract.refresh_from_db()
    assert (contract.status, contract.paid_until) == ("active", datetime.date(2027, 1, 4))
    assert _changes(contract) == [
        ("contract.suspended", "sin_credito"),
        ("contract.reactivated", "pago"),
    ]


def test_a_promise_restores_service_and_its_end_suspends_it_again():
    contract = _contract(user=None)
    user = UserFactory(provider=contract.provider)
    contract.user = user
    contract.save()
    with time_machine.travel(datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
        payment_promise_make(contract=contract, actor=user)
        contract.refresh_from_db()
        assert (contract.status, contract.promise_until) == ("active", datetime.date(2026, 12, 8))
    # The promise covers its last day, not the next.
    with time_machine.travel(datetime.datetime(2026, 12, 8, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert contract.status == "active"
    with time_machine.travel(datetime.datetime(2026, 12, 9, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert contract.status == "suspended"
    assert _changes(contract) == [
        ("contract.suspended", "sin_credito"),
        ("contract.reactivated", "promesa"),
        ("contract.suspended", "sin_credito"),
    ]


def test_a_bought_period_of_another_plan_switches_the_plan_the_day_it_starts():
    contract = _contract()
    basico = contract.plan
    avanzado = PlanFactory(provider=contract.provider, name="Plan Avanzado", download_mbps=20)
    ServicePeriod.objects.create(
        contract=contract,
        plan=avanzado,
        starts_on=VIGENCIA,
        ends_on=VIGENCIA + datetime.timedelta(days=30),
        description="Plan Avanzado 30 días",
    )
    with time_machine.travel(datetime.datetime(2026, 11, 30, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert (contract.plan, contract.paid_until) == (basico, datetime.date(2026, 12, 31))
    with time_machine.travel(datetime.datetime(2026, 12, 1, 6, 1, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert (contract.plan, contract.status) == (avanzado, "active")
    assert _changes(contract) == [("contract.plan_changed", "plan")]
    change = ServiceChange.objects.get(contract=contract)
    assert (change.plan_from, change.plan_to) == (basico, avanzado)


def test_a_hold_suspends_whatever_the_credit_until_staff_lift_it():
    contract = _contract()
    staff = UserFactory(provider=contract.provider, is_staff=True)
    with time_machine.travel(datetime.datetime(2026, 11, 20, 18, 0, tzinfo=UTC), tick=False):
        service_orders_apply(
            orders=[ServiceOrder(contract=contract, held=True, reason="Equipo robado")],
            actor=staff,
        )
        contract.refresh_from_db()
        assert contract.status == "suspended"
        contracts_recompute()
        contract.refresh_from_db()
        assert contract.status == "suspended"
        service_orders_apply(orders=[ServiceOrder(contract=contract, held=False)], actor=staff)
    contract.refresh_from_db()
    assert contract.status == "active"
    hold = ServiceHold.objects.get(contract=contract)
    assert (hold.created_by, hold.lifted_by, hold.reason) == (staff, staff, "Equipo robado")
    assert _changes(contract) == [
        ("contract.suspended", "staff"),
        ("contract.reactivated", "staff"),
    ]


def test_a_hold_needs_a_reason_and_a_refused_order_changes_nothing():
    from billing.services import BillingError

    contract = _contract()
    with pytest.raises(BillingError):
        service_orders_apply(orders=[ServiceOrder(contract=contract, held=True)], actor=None)
    assert not ServiceHold.objects.exists()
    contract.refresh_from_db()
    assert contract.status == "active"


def test_a_cancelled_contract_is_never_touched():
    contract = _contract(status=Contract.Status.CANCELLED)
    with time_machine.travel(datetime.datetime(2027, 3, 1, 18, 0, tzinfo=UTC), tick=False):
        assert contracts_recompute() == 0
    contract.refresh_from_db()
    assert (contract.status, contract.paid_until) == ("cancelled", VIGENCIA)


def test_postpaid_service_follows_holds_not_vigencia():
    contract = _contract(billing_mode=Contract.BillingMode.POSTPAID)
    with time_machine.travel(datetime.datetime(2027, 3, 1, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert contract.status == "active"


def test_the_vigencia_is_the_end_of_the_last_period():
    contract = _contract()
    Contract.objects.filter(pk=contract.pk).update(paid_until=datetime.date(2030, 1, 1))
    with time_machine.travel(datetime.datetime(2026, 11, 20, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
    contract.refresh_from_db()
    assert contract.paid_until == VIGENCIA


def _expired_contracts(count: int, provider) -> list[Contract]:
    plan = PlanFactory(provider=provider, price=Decimal("250.00"))
    return [
        ContractFactory(provider=provider, plan=plan, paid_until=VIGENCIA) for _ in range(count)
    ]


def _queries_of_a_recompute(count: int) -> tuple[int, int]:
    provider = ProviderFactory()
    contracts = _expired_contracts(count, provider)
    with (
        time_machine.travel(datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        changes = contracts_recompute(provider=provider)
    assert changes == len(contracts)
    return len(queries), changes


def test_the_number_of_statements_does_not_grow_with_the_contracts_of_a_chunk():
    few, _ = _queries_of_a_recompute(3)
    many, _ = _queries_of_a_recompute(60)
    assert few == many


def test_contracts_are_taken_in_chunks_and_every_one_is_decided(settings):
    settings.RECOMPUTE_CHUNK_SIZE = 7
    provider = ProviderFactory()
    contracts = _expired_contracts(20, provider)
    with time_machine.travel(datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), tick=False):
        assert contracts_recompute(provider=provider) == 20
    assert set(
        Contract.objects.filter(pk__in=[c.pk for c in contracts]).values_list("status", flat=True)
    ) == {"suspended"}


def test_one_isp_at_a_time_when_asked():
    kona = _contract()
    other = _contract(ProviderFactory(code="222"))
    with time_machine.travel(datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), tick=False):
        assert contracts_recompute(provider=kona.provider) == 1
    other.refresh_from_db()
    assert other.status == "active"


def test_a_promise_is_offered_to_a_contract_cut_for_want_of_credit_not_to_one_held():
    from payments.services import promise_eligibility

    contract = _contract()
    staff = UserFactory(provider=contract.provider, is_staff=True)
    with time_machine.travel(datetime.datetime(2026, 12, 5, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
        contract.refresh_from_db()
        assert contract.status == "suspended"
        assert promise_eligibility(contract=contract) is not None
        service_orders_apply(
            orders=[ServiceOrder(contract=contract, held=True, reason="Fraude")], actor=staff
        )
        contract.refresh_from_db()
        assert promise_eligibility(contract=contract) is None


def test_a_cancellation_is_told_as_a_cut_and_its_undoing_restores_a_contract_with_credit():
    contract = _contract()
    with time_machine.travel(datetime.datetime(2026, 11, 20, 18, 0, tzinfo=UTC), tick=False):
        service_orders_apply(orders=[ServiceOrder(contract=contract, cancelled=True)], actor=None)
        contract.refresh_from_db()
        assert contract.status == "cancelled"
        service_orders_apply(orders=[ServiceOrder(contract=contract, cancelled=False)], actor=None)
    contract.refresh_from_db()
    assert contract.status == "active"
    changes = ServiceChange.objects.filter(contract=contract).order_by("pk")
    assert list(changes.values_list("event", "status_to")) == [
        ("contract.suspended", "cancelled"),
        ("contract.reactivated", "active"),
    ]


def test_staff_changing_the_plan_keep_a_later_plan_the_subscriber_bought():
    contract = _contract()
    avanzado = PlanFactory(provider=contract.provider, name="Plan Avanzado")
    intermedio = PlanFactory(provider=contract.provider, name="Plan Intermedio")
    ServicePeriod.objects.create(
        contract=contract,
        plan=avanzado,
        starts_on=VIGENCIA,
        ends_on=VIGENCIA + datetime.timedelta(days=30),
        description="comprado",
    )
    with time_machine.travel(datetime.datetime(2026, 11, 20, 18, 0, tzinfo=UTC), tick=False):
        contracts_recompute()
        service_orders_apply(orders=[ServiceOrder(contract=contract, plan=intermedio)], actor=None)
        contract.refresh_from_db()
        assert contract.plan == intermedio
    plans = list(
        ServicePeriod.objects.filter(contract=contract)
        .order_by("starts_on")
        .values_list("plan__name", flat=True)
    )
    assert plans == ["Plan Intermedio", "Plan Avanzado"]


def test_a_vigencia_outside_the_accepted_years_is_refused():
    from billing.services import BillingError

    contract = _contract()
    with pytest.raises(BillingError):
        service_orders_apply(
            orders=[ServiceOrder(contract=contract, vigencia=datetime.date(9999, 12, 31))],
            actor=None,
        )
    assert ServicePeriod.objects.filter(contract=contract).count() == 1

"""Servicios: the plan in effect, the next plan bought, and the last service changes."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from billing.models import ServiceChange, ServicePeriod
from billing.recompute import contracts_recompute
from tests.factories import ContractFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db

# Noon in Mexico City: juan's vigencia (conftest: today + 5 days) is 15/12/2026.
TODAY = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=datetime.UTC)
AVANZADO_STARTS = datetime.datetime(2026, 12, 15, 18, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def avanzado(juan):
    return PlanFactory(
        provider=juan.provider,
        name="Plan Avanzado",
        price=Decimal("450.00"),
        download_mbps=20,
        upload_mbps=5,
    )


def _period(contract, plan, starts_on, days=30):
    return ServicePeriod.objects.create(
        contract=contract,
        plan=plan,
        starts_on=starts_on,
        ends_on=starts_on + datetime.timedelta(days=days),
        description="Compra de plan",
    )


def _change(contract, event, reason, *, plan=None, at=TODAY):
    return ServiceChange.objects.create(
        provider=contract.provider,
        contract=contract,
        event=event,
        reason=reason,
        plan_to=plan or contract.plan,
        created_at=at,
    )


def _services(client, user):
    client.force_login(user)
    response = client.get("/servicios/")
    assert response.status_code == 200
    return response.text


def test_shows_the_plan_in_effect_and_its_vigencia(client, juan):
    page = _services(client, juan)
    for text in (
        "Plan Básico",
        "10 Mb",
        "2 Mb",
        "$250.00",
        "30 días",
        "Prepago",
        'Vigencia</dt><dd data-testid="vigencia">15/12/2026',
        "Activo",
        "Calle Pino 45, CDMX",
    ):
        assert text in page
    assert "Siguiente plan" not in page
    assert "Aún no hay cambios en tu servicio." in page


def test_a_later_period_of_another_plan_shows_as_the_next_plan(client, juan, avanzado):
    contract = juan.contracts.get()
    _period(contract, avanzado, datetime.date(2026, 12, 15))
    contracts_recompute(contract_ids=[contract.pk])

    page = _services(client, juan)

    assert '<dd data-testid="plan">Plan Básico</dd>' in page
    assert "Siguiente plan: Plan Avanzado desde el 15/12/2026" in page
    assert 'Vigencia</dt><dd data-testid="vigencia">14/01/2027' in page


def test_the_next_plan_is_the_first_later_period_of_another_plan(client, juan, avanzado):
    contract = juan.contracts.get()
    basico = contract.plan
    _period(contract, basico, datetime.date(2026, 12, 15))
    _period(contract, avanzado, datetime.date(2027, 1, 14))
    _period(contract, basico, datetime.date(2027, 2, 13))
    contracts_recompute(contract_ids=[contract.pk])

    page = _services(client, juan)

    assert page.count("Siguiente plan") == 1
    assert "Siguiente plan: Plan Avanzado desde el 14/01/2027" in page


def test_later_periods_of_the_same_plan_show_no_next_plan(client, juan):
    contract = juan.contracts.get()
    _period(contract, contract.plan, datetime.date(2026, 12, 15))
    _period(contract, contract.plan, datetime.date(2027, 1, 14))
    contracts_recompute(contract_ids=[contract.pk])

    page = _services(client, juan)

    assert "Siguiente plan" not in page
    assert 'Vigencia</dt><dd data-testid="vigencia">13/02/2027' in page


def test_once_the_period_starts_the_next_plan_is_the_plan_in_effect(client, juan, avanzado):
    contract = juan.contracts.get()
    _period(contract, avanzado, datetime.date(2026, 12, 15))
    contracts_recompute(contract_ids=[contract.pk])

    with time_machine.travel(AVANZADO_STARTS, tick=False):
        contracts_recompute(contract_ids=[contract.pk])
        page = _services(client, juan)

    assert '<dd data-testid="plan">Plan Avanzado</dd>' in page
    for text in ("20 Mb", "5 Mb", "$450.00"):
        assert text in page
    assert "Siguiente plan" not in page
    assert "<td>15/12/2026</td>" in page
    assert "Cambio de plan a Plan Avanzado" in page
    assert "<td>Cambio de plan</td>" in page


def test_suspension_and_reactivation_show_in_words_with_why(client, juan):
    contract = juan.contracts.get()
    with time_machine.travel(datetime.datetime(2026, 12, 16, 18, 0, tzinfo=datetime.UTC)):
        contracts_recompute(contract_ids=[contract.pk])
    with time_machine.travel(datetime.datetime(2026, 12, 17, 18, 0, tzinfo=datetime.UTC)):
        _period(contract, contract.plan, datetime.date(2026, 12, 17))
        contracts_recompute(contract_ids=[contract.pk], cause=ServiceChange.Reason.PAYMENT)
        page = _services(client, juan)

    rows = page.split('data-testid="service-change"')[1:]
    assert len(rows) == 2
    # Newest first.
    assert "<td>17/12/2026</td>" in rows[0]
    assert "Servicio reactivado" in rows[0] and "<td>Pago</td>" in rows[0]
    assert "<td>16/12/2026</td>" in rows[1]
    assert "Servicio suspendido" in rows[1] and "<td>Sin crédito</td>" in rows[1]


def test_every_reason_reads_in_words(client, juan):
    contract = juan.contracts.get()
    Event, Reason = ServiceChange.Event, ServiceChange.Reason
    _change(contract, Event.SUSPENDED, Reason.STAFF)
    _change(contract, Event.REACTIVATED, Reason.PROMISE)

    page = _services(client, juan)

    assert "<td>El ISP</td>" in page
    assert "<td>Promesa de pago</td>" in page


def test_only_the_last_five_changes_newest_first(client, juan):
    contract = juan.contracts.get()
    for day in range(1, 8):
        _change(
            contract,
            ServiceChange.Event.SUSPENDED,
            ServiceChange.Reason.NO_CREDIT,
            at=datetime.datetime(2026, 11, day, 18, 0, tzinfo=datetime.UTC),
        )

    page = _services(client, juan)

    rows = page.split('data-testid="service-change"')[1:]
    assert [row.split("<td>")[1].split("</td>")[0] for row in rows] == [
        "07/11/2026",
        "06/11/2026",
        "05/11/2026",
        "04/11/2026",
        "03/11/2026",
    ]


def test_another_subscribers_changes_and_periods_never_show(client, juan):
    provider = juan.provider
    neighbour_plan = PlanFactory(provider=provider, name="Plan Vecino")
    neighbour = ContractFactory(
        provider=provider,
        user=UserFactory(provider=provider),
        zone=juan.contracts.get().zone,
        paid_until=datetime.date(2026, 12, 15),
    )
    _period(neighbour, neighbour_plan, datetime.date(2026, 12, 15))
    _change(neighbour, ServiceChange.Event.PLAN_CHANGED, ServiceChange.Reason.PLAN)
    _change(
        neighbour,
        ServiceChange.Event.PLAN_CHANGED,
        ServiceChange.Reason.PLAN,
        plan=neighbour_plan,
    )

    page = _services(client, juan)

    assert "Plan Vecino" not in page
    assert "Siguiente plan" not in page
    assert 'data-testid="service-change"' not in page
    assert "Aún no hay cambios en tu servicio." in page


def _history(contract, plans, size):
    """`size` later periods alternating plans, and `size` service changes."""
    starts_on = contract.paid_until
    for index in range(size):
        plan = plans[index % len(plans)]
        _period(contract, plan, starts_on)
        starts_on += datetime.timedelta(days=30)
        _change(
            contract,
            ServiceChange.Event.PLAN_CHANGED,
            ServiceChange.Reason.PLAN,
            plan=plan,
            at=TODAY - datetime.timedelta(days=size - index),
        )
    contracts_recompute(contract_ids=[contract.pk])


# The login with its contracts (with plan and zone), next plan, service changes (the
# session comes from the cache, the ISP from the portals' map).
SERVICES_QUERIES = 3


@pytest.mark.parametrize("size", [1, 30])
def test_the_page_costs_the_same_queries_at_any_history_size(
    client, juan, avanzado, size, django_assert_num_queries
):
    contract = juan.contracts.get()
    _history(contract, [avanzado, contract.plan], size)
    client.force_login(juan)
    client.get("/servicios/")  # the ISPs' portal hosts are read once, then cached

    with django_assert_num_queries(SERVICES_QUERIES):
        response = client.get("/servicios/")

    assert response.status_code == 200
    assert "Siguiente plan: Plan Avanzado desde el 15/12/2026" in response.text
    assert response.text.count('data-testid="service-change"') == min(size, 5)

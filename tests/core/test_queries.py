"""core.queries.Prepared: a read compiled once per process gives what its queryset gives."""

import datetime
from unittest import mock

import pytest
from django.db.models import DateField
from django.db.models.sql.compiler import SQLCompiler

from accounts.models import Contract
from core.queries import Param, Prepared
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, ZoneFactory

pytestmark = pytest.mark.django_db

BY_PROVIDER = Prepared(
    lambda: (
        Contract.objects.filter(provider_id=Param("provider"))
        .select_related("plan", "zone")
        .order_by("number")
    )
)
PAID_UNTIL_BEFORE = Prepared(
    lambda: (
        Contract.objects.filter(paid_until__lt=Param("day", DateField()))
        .order_by("number")
        .values_list("number", flat=True)
    )
)


@pytest.fixture
def two_isps():
    kona, interatos = ProviderFactory(code="111"), ProviderFactory(code="222")
    for provider, numbers in ((kona, ["1", "2"]), (interatos, ["7"])):
        zone, plan = ZoneFactory(provider=provider), PlanFactory(provider=provider)
        for number in numbers:
            ContractFactory(provider=provider, number=number, zone=zone, plan=plan)
    return kona, interatos


def test_each_call_gets_the_rows_of_its_own_values(two_isps):
    kona, interatos = two_isps

    assert [c.number for c in BY_PROVIDER.list(provider=kona.pk)] == ["1", "2"]
    assert [c.number for c in BY_PROVIDER.list(provider=interatos.pk)] == ["7"]
    assert BY_PROVIDER.list(provider=0) == []


def test_rows_come_with_their_related_rows_in_one_query(two_isps, django_assert_num_queries):
    kona, _interatos = two_isps
    expected = list(
        Contract.objects.filter(provider=kona).select_related("plan", "zone").order_by("number")
    )

    with django_assert_num_queries(1):
        contracts = BY_PROVIDER.list(provider=kona.pk)
        names = [(c.plan.name, c.zone.name) for c in contracts]

    assert contracts == expected
    assert names == [(c.plan.name, c.zone.name) for c in expected]


def test_the_sql_is_built_once_and_dates_are_prepared_for_the_database(two_isps):
    kona, _interatos = two_isps
    today = kona.today()
    Contract.objects.filter(number="1").update(paid_until=today - datetime.timedelta(days=3))
    Contract.objects.filter(number="2").update(paid_until=today + datetime.timedelta(days=3))
    Contract.objects.filter(number="7").update(paid_until=None)
    PAID_UNTIL_BEFORE.list(day=today)  # compiled here, once for the test's database

    with mock.patch.object(SQLCompiler, "as_sql", side_effect=AssertionError("compiled again")):
        assert PAID_UNTIL_BEFORE.list(day=today) == ["1"]
        assert PAID_UNTIL_BEFORE.list(day=today + datetime.timedelta(days=10)) == ["1", "2"]


def test_walking_far_pages_keeps_a_bounded_number_of_compiled_shapes(two_isps):
    kona, _interatos = two_isps
    numbers = []
    for start in range(40):
        page = BY_PROVIDER.list(provider=kona.pk, rows=slice(start, start + 1))
        numbers += [contract.number for contract in page]

    assert numbers == ["1", "2"]
    assert len(BY_PROVIDER._compiled) <= Prepared.SHAPES_KEPT

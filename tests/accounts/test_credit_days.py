"""Días de crédito restantes are counted on the ISP's calendar, not the server's."""

import datetime

import pytest
import time_machine

from tests.factories import ContractFactory, ProviderFactory

pytestmark = pytest.mark.django_db

MEXICO = datetime.timezone(datetime.timedelta(hours=-6))


@pytest.fixture
def contract():
    kona = ProviderFactory(time_zone="America/Mexico_City")
    return ContractFactory(provider=kona, paid_until=datetime.date(2026, 11, 30))


@pytest.mark.parametrize(
    ("local_time", "expected"),
    [
        (datetime.datetime(2026, 11, 23, 23, 30, tzinfo=MEXICO), 7),  # 05:30 UTC on the 24th
        (datetime.datetime(2026, 11, 24, 0, 30, tzinfo=MEXICO), 6),
        (datetime.datetime(2026, 11, 29, 23, 59, tzinfo=MEXICO), 1),
        (datetime.datetime(2026, 11, 30, 12, 0, tzinfo=MEXICO), 0),
        (datetime.datetime(2026, 12, 10, 12, 0, tzinfo=MEXICO), 0),
    ],
)
def test_credit_days_turn_over_at_local_midnight(contract, local_time, expected):
    with time_machine.travel(local_time, tick=False):
        assert contract.credit_days() == expected


def test_no_vigencia_means_no_credit(contract):
    contract.paid_until = None
    assert contract.credit_days() == 0


def test_another_time_zone_counts_on_its_own_calendar():
    cordoba = ProviderFactory(time_zone="America/Argentina/Cordoba")
    contract = ContractFactory(provider=cordoba, paid_until=datetime.date(2026, 11, 30))
    # 03:30 UTC on the 24th: still the 23rd in Mexico City, already the 24th in Córdoba.
    with time_machine.travel(datetime.datetime(2026, 11, 24, 3, 30, tzinfo=datetime.UTC)):
        assert contract.credit_days() == 6  # 00:30 on the 24th in Córdoba (UTC-3)

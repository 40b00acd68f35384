import datetime
from decimal import Decimal

import pytest

from payments.models import GatewayAccount
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory


@pytest.fixture
def kona():
    return ProviderFactory(code="111", name="KONA", handle_domain="kona")


@pytest.fixture
def juan(kona):
    """A prepaid KONA subscriber in zone Norte with Plan Básico (30 days, $250)."""
    zone = ZoneFactory(provider=kona, name="Norte")
    plan = PlanFactory(provider=kona, name="Plan Básico", price=Decimal("250.00"), period_days=30)
    plan.zones.add(zone)
    user = UserFactory(provider=kona, username="juan@kona")
    ContractFactory(
        provider=kona,
        number="1002",
        user=user,
        zone=zone,
        plan=plan,
        paid_until=kona.today() + datetime.timedelta(days=5),
    )
    return user


@pytest.fixture
def reference_account(kona):
    return GatewayAccount.objects.create(
        provider=kona, gateway="reference", reference_prefix="111", expiry_days=3
    )

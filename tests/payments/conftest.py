import pytest

from payments.models import GatewayAccount


@pytest.fixture
def reference_account(kona):
    return GatewayAccount.objects.create(
        provider=kona, gateway="reference", reference_prefix="111", expiry_days=3
    )

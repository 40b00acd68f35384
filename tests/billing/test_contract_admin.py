"""Staff order a contract's service in its admin page; vigencia and status follow."""

import datetime

import pytest

from accounts.roles import ISP_ADMIN_ROLE
from billing.models import ServiceChange, ServiceHold
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_without_totp")]


@pytest.fixture
def contract():
    provider = ProviderFactory(code="111", handle_domain="kona")
    return ContractFactory(
        provider=provider, paid_until=provider.today() + datetime.timedelta(days=10)
    )


def _post(client, contract, **service):
    client.force_login(staff_of(contract.provider, ISP_ADMIN_ROLE))
    return client.post(
        f"/admin/accounts/contract/{contract.pk}/change/",
        {
            "provider": contract.provider.pk,
            "number": contract.number,
            "holder_name": contract.holder_name,
            "installation_address": contract.installation_address,
            "phone": contract.phone,
            "zone": contract.zone_id,
            "plan": contract.plan_id,
            "billing_mode": contract.billing_mode,
            **service,
        },
    )


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ({"vigencia": "9999-12-31"}, "Indica una fecha entre los años 2000 y 2099."),
        ({"vigencia": "2020-01-01"}, "La vigencia ya llega al"),
        ({"held": "on"}, "Indica el motivo de la suspensión."),
    ],
)
def test_a_wrong_service_order_is_named_on_its_field_and_changes_nothing(
    client, contract, service, message
):
    response = _post(client, contract, **service)
    assert response.status_code == 200
    assert message in response.text
    assert not ServiceHold.objects.exists()
    assert not ServiceChange.objects.exists()
    contract.refresh_from_db()
    assert contract.status == "active"


def test_a_plan_chosen_in_the_admin_is_a_recorded_change(client, contract):
    avanzado = PlanFactory(provider=contract.provider, name="Plan Avanzado")
    response = _post(client, contract, plan=avanzado.pk)
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.plan == avanzado
    change = ServiceChange.objects.get()
    assert (change.event, change.reason, change.plan_to) == (
        "contract.plan_changed",
        "staff",
        avanzado,
    )


def test_the_page_shows_the_service_history(client, contract):
    _post(client, contract, held="on", hold_reason="Antena dañada")
    page = client.get(f"/admin/accounts/contract/{contract.pk}/change/").text
    assert "Antena dañada" in page
    assert "suspendido" in page


@pytest.mark.parametrize(
    ("country", "typed", "stored", "shown"),
    [
        ("MX", "55 1234 5678", "+525512345678", "55 1234 5678"),
        ("AR", "0351 15-412-3456", "+5493514123456", "0351 15-412-3456"),
    ],
)
def test_the_phone_is_typed_and_shown_as_the_isp_writes_it(
    client, contract, country, typed, stored, shown
):
    contract.provider.country = country
    contract.provider.save()

    response = _post(client, contract, phone=typed)

    assert response.status_code == 302, response.text
    contract.refresh_from_db()
    assert str(contract.phone) == stored
    page = client.get(f"/admin/accounts/contract/{contract.pk}/change/").text
    assert f'value="{shown}"' in page


def test_a_phone_that_is_not_one_is_refused_and_changes_nothing(client, contract):
    before = str(contract.phone)

    response = _post(client, contract, phone="55 1234")

    assert response.status_code == 200
    assert "phone" in response.context["adminform"].form.errors
    contract.refresh_from_db()
    assert str(contract.phone) == before

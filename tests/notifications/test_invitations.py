"""Invitations: each unclaimed contract told its number and its ISP's portal by SMS, once
unless sent again by hand, paced, never at night, recorded on the contract."""

import datetime

import pytest
import time_machine

from accounts import sms
from accounts.models import Contract
from accounts.roles import ISP_ADMIN_ROLE
from core.models import AuditEntry
from notifications.models import Notification
from notifications.services import contracts_invite, notifications_deliver
from tests.factories import ContractFactory, ProviderFactory, UserFactory, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_without_totp")]

UTC = datetime.UTC
NOON_MX = datetime.datetime(2026, 12, 10, 18, 0, tzinfo=UTC)


@pytest.fixture
def kona():
    return ProviderFactory(code="111", name="KONA", handle_domain="kona")


def _action(client, provider, action, contracts):
    client.force_login(staff_of(provider, ISP_ADMIN_ROLE))
    return client.post(
        "/admin/accounts/contract/",
        {"action": action, "_selected_action": [contract.pk for contract in contracts]},
    )


@time_machine.travel(NOON_MX, tick=False)
def test_staff_invite_the_selected_contracts_once_each(client, kona):
    rosa = ContractFactory(provider=kona, number="1001", phone="+525512345678")
    claimed = ContractFactory(provider=kona, number="1002", user=UserFactory(provider=kona))

    response = _action(client, kona, "invite", [rosa, claimed])
    _action(client, kona, "invite", [rosa, claimed])  # a second click: nothing more
    notifications_deliver()

    assert response.status_code == 302
    assert [(message.to, message.body) for message in sms.outbox] == [
        (
            "+525512345678",
            "KONA: tu número de contrato es 1001. Crea tu cuenta con este celular en "
            "http://127.0.0.1:8000/p/111/cuenta/crear/ y consulta y paga tu servicio.",
        )
    ]
    rosa.refresh_from_db()
    assert rosa.invited_at == NOON_MX
    assert Contract.objects.get(pk=claimed.pk).invited_at is None
    assert AuditEntry.objects.filter(action="contract.invited", object_id=str(rosa.pk)).count() == 1


@time_machine.travel(NOON_MX, tick=False)
def test_an_invitation_is_sent_again_only_by_hand(client, kona):
    rosa = ContractFactory(provider=kona, number="1001", phone="+525512345678")
    _action(client, kona, "invite", [rosa])
    notifications_deliver()

    with time_machine.travel(NOON_MX + datetime.timedelta(days=2), tick=False):
        _action(client, kona, "invite_again", [rosa])
        notifications_deliver()

    assert len([m for m in sms.outbox if "1001" in m.body]) == 2


@time_machine.travel(NOON_MX, tick=False)
def test_another_isps_staff_cannot_invite_these_contracts(client, kona):
    rosa = ContractFactory(provider=kona, number="1001")
    other = ProviderFactory(code="222", handle_domain="interatos")

    _action(client, other, "invite", [rosa])

    assert not Notification.objects.exists()
    assert Contract.objects.get(pk=rosa.pk).invited_at is None


def test_invitations_are_paced_and_wait_for_the_morning(kona, settings):
    settings.INVITATIONS_PER_MINUTE = 30
    contracts = [ContractFactory(provider=kona, number=str(1000 + n)) for n in range(3)]
    # 20:59:59 in Mexico City: the first leaves at once, the next two would fall at night.
    evening = datetime.datetime(2026, 12, 11, 2, 59, 59, tzinfo=UTC)
    contracts_invite(contract_ids=[c.pk for c in contracts], again=False, actor=None, now=evening)
    later = [ContractFactory(provider=kona, number="2000")]
    contracts_invite(contract_ids=[c.pk for c in later], again=False, actor=None, now=evening)

    morning = datetime.datetime(2026, 12, 11, 14, 0, tzinfo=UTC)  # 08:00
    assert list(
        Notification.objects.filter(channel="sms")
        .order_by("send_after")
        .values_list("send_after", flat=True)
    ) == [
        evening,
        morning,
        morning + datetime.timedelta(seconds=2),
        morning + datetime.timedelta(seconds=4),  # the second batch queues after the first
    ]


@time_machine.travel(NOON_MX, tick=False)
def test_import_contracts_with_invite_invites_the_files_new_contracts(kona, tmp_path):
    from django.core.management import call_command

    from tests.factories import PlanFactory, ZoneFactory

    ZoneFactory(provider=kona, name="Centro")
    PlanFactory(provider=kona, name="Plan Básico")
    path = tmp_path / "contratos.csv"
    path.write_text(
        "provider_code,contract_number,holder_name,installation_address,phone,email,"
        "zone,plan,billing_mode,paid_until,status\r\n"
        "111,1001,Rosa Martínez,Av. Juárez 120,55 1234 5678,,Centro,Plan Básico,prepaid,"
        "2026-12-30,active\r\n"
    )

    call_command("import_contracts", str(path), "--invite")
    call_command("import_contracts", str(path), "--invite")
    notifications_deliver()

    assert [message.to for message in sms.outbox] == ["+525512345678"]
    assert Contract.objects.get(number="1001").invited_at == NOON_MX

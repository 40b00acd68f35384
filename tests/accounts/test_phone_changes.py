"""A contract's phone is the one that gets its codes: after staff or an import change it,
the reset code goes to the new number, and the old number is told."""

import io

import pytest

from accounts import sms
from accounts.roles import ISP_ADMIN_ROLE
from billing.imports import contracts_import
from tests.factories import ContractFactory, PlanFactory, UserFactory, ZoneFactory, staff_of

from .helpers import last_sms_code

pytestmark = pytest.mark.django_db

OLD = "+525512345678"
NEW = "+525587654321"
HEADER = (
    "provider_code,contract_number,holder_name,installation_address,phone,email,"
    "zone,plan,billing_mode,paid_until,status\n"
)


@pytest.fixture
def rosa(kona):
    zone = ZoneFactory(provider=kona, name="Centro")
    plan = PlanFactory(provider=kona, name="Plan Básico")
    user = UserFactory(provider=kona, username="rosa@kona", phone="")
    contract = ContractFactory(
        provider=kona,
        number="1001",
        holder_name="Rosa Martínez",
        installation_address="Calle 1",
        phone=OLD,
        zone=zone,
        plan=plan,
        user=user,
    )
    return contract


def reset(client, login="rosa@kona"):
    return client.post("/cuenta/recuperar/", {"login": login})


def test_after_an_import_changes_the_phone_the_reset_code_goes_to_the_new_one(
    client, kona, rosa, django_capture_on_commit_callbacks
):
    # given: the ISP gave the contract a new number (the old one may be recycled)
    line = f"111,1001,Rosa Martínez,Calle 1,{NEW[3:]},,Centro,Plan Básico,prepaid,,active\n"
    with django_capture_on_commit_callbacks(execute=True):
        report = contracts_import(rows_file=io.BytesIO((HEADER + line).encode()))
    assert report.updated == 1
    (notice,) = sms.outbox
    assert notice.to == OLD
    assert "el número del contrato 1001 cambió" in notice.body
    sms.outbox.clear()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        reset(client)

    # then
    assert [message.to for message in sms.outbox] == [NEW]
    assert last_sms_code()


def test_a_phone_changed_in_the_admin_is_audited_and_the_old_number_told(
    client, kona, rosa, settings, django_capture_on_commit_callbacks
):
    settings.ADMIN_REQUIRE_MFA = False
    client.force_login(staff_of(kona, ISP_ADMIN_ROLE))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/accounts/contract/{rosa.pk}/change/",
            {
                "provider": kona.pk,
                "number": "1001",
                "holder_name": rosa.holder_name,
                "installation_address": rosa.installation_address,
                "phone": NEW,
                "zone": rosa.zone_id,
                "plan": rosa.plan_id,
                "billing_mode": "prepaid",
                "paid_until": rosa.paid_until.isoformat(),
                "status": "active",
                "user": rosa.user_id,
            },
        )

    assert response.status_code == 302
    assert [message.to for message in sms.outbox] == [OLD]
    from core.models import AuditEntry

    assert AuditEntry.objects.get(object_id=str(rosa.pk)).changes["phone"] == [OLD, NEW]


def test_a_login_with_several_contracts_gets_the_code_on_each_number_once(
    client, kona, rosa, django_capture_on_commit_callbacks
):
    ContractFactory(provider=kona, user=rosa.user, phone=NEW)
    ContractFactory(provider=kona, user=rosa.user, phone=NEW)
    ContractFactory(provider=kona, user=rosa.user, phone="+525500001111", status="cancelled")

    with django_capture_on_commit_callbacks(execute=True):
        reset(client)

    assert sorted(message.to for message in sms.outbox) == sorted([OLD, NEW])
    assert len({message.body for message in sms.outbox}) == 1  # one code, on both


def test_a_copy_of_a_phone_kept_on_the_login_gets_nothing(
    client, kona, rosa, django_capture_on_commit_callbacks
):
    rosa.user.phone = "+525599998888"  # what claims copied before
    rosa.user.save()

    with django_capture_on_commit_callbacks(execute=True):
        reset(client)

    assert [message.to for message in sms.outbox] == [OLD]

"""Support agents: find a payment by reference, contract or phone; confirm cash, audited."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from accounts.roles import SUPPORT_ROLE
from billing.models import LedgerEntry
from payments.models import Payment, PaymentEvent
from tests.factories import ContractFactory, ProviderFactory, UserFactory, staff_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_totp_in_these_tests(settings):
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def payment(juan):
    contract = juan.contracts.get()
    return Payment.objects.create(
        provider=contract.provider,
        contract=contract,
        gateway="reference",
        plan=contract.plan,
        amount=Decimal("250.00"),
        currency="MXN",
        reference="11100000000018",
        expires_at=timezone.now() + timezone.timedelta(days=3),
    )


@pytest.fixture
def agent(kona):
    return staff_of(kona, SUPPORT_ROLE, username="agente")


@pytest.mark.parametrize(
    "query", ["11100000000018", "1110 0000 0000 18", "1002", "55 1234 5678", "+525512345678"]
)
def test_agents_find_a_payment_by_reference_contract_or_phone(client, agent, payment, query):
    client.force_login(agent)
    page = client.get("/admin/agentes/", {"q": query})
    assert page.status_code == 200
    assert "11100000000018" in page.text
    assert "$250.00" in page.text


def test_a_search_that_matches_nothing_says_so(client, agent, payment):
    client.force_login(agent)
    assert "No encontramos pagos" in client.get("/admin/agentes/", {"q": "999"}).text


def test_confirming_cash_credits_once_and_records_who_and_why(client, agent, payment, juan):
    client.force_login(agent)
    url = f"/admin/agentes/pagos/{payment.pk}/"
    page = client.get(url)
    assert "Confirmar pago en efectivo" in page.text
    local_now = timezone.localtime(timezone.now(), payment.provider.tzinfo)
    data = {
        "amount": "250.00",
        "paid_at": local_now.strftime("%Y-%m-%d %H:%M"),
        "note": "ticket OXXO 4411, el abonado mandó foto",
    }
    response = client.post(url, data)
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == "paid"
    event = PaymentEvent.objects.get(payment=payment, kind="paid")
    assert (event.actor, event.source, event.note) == (
        agent,
        "agent",
        "ticket OXXO 4411, el abonado mandó foto",
    )
    assert LedgerEntry.objects.get(kind="payment").created_by == agent
    assert "Confirmar pago en efectivo" not in client.get(url).text
    assert client.post(url, data).status_code == 403  # already paid: nothing to confirm
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    contract = juan.contracts.get()
    assert contract.credit_days() == 35


def test_a_confirmation_without_a_note_is_refused_and_changes_nothing(client, agent, payment):
    client.force_login(agent)
    response = client.post(
        f"/admin/agentes/pagos/{payment.pk}/",
        {"amount": "250.00", "paid_at": "2026-11-22 10:00", "note": ""},
    )
    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert not LedgerEntry.objects.exists()


def test_a_different_amount_is_held_for_review(client, agent, payment):
    client.force_login(agent)
    client.post(
        f"/admin/agentes/pagos/{payment.pk}/",
        {"amount": "200.00", "paid_at": "2026-11-22 10:00", "note": "faltan 50"},
    )
    payment.refresh_from_db()
    assert payment.status == "held"
    assert not LedgerEntry.objects.exists()


def test_agents_of_another_isp_do_not_see_the_payment(client, payment):
    other = ProviderFactory(code="222", handle_domain="interatos")
    outsider = UserFactory(provider=other, is_staff=True)
    outsider.groups.add(Group.objects.get(name=SUPPORT_ROLE))
    client.force_login(outsider)
    page = client.get("/admin/agentes/", {"q": "11100000000018"}).text
    assert "No encontramos pagos" in page
    assert "$250.00" not in page
    assert client.get(f"/admin/agentes/pagos/{payment.pk}/").status_code == 404


def test_the_agents_group_can_do_nothing_else(agent):
    codenames = set(
        Permission.objects.filter(group__name="Agentes de soporte").values_list(
            "codename", flat=True
        )
    )
    assert codenames == {"view_payment", "confirm_payment", "view_paymentevent", "view_contract"}


def test_staff_without_the_permission_get_403(client, kona, payment):
    plain = UserFactory(provider=kona, is_staff=True)
    client.force_login(plain)
    assert client.get("/admin/agentes/").status_code == 403
    assert client.get(f"/admin/agentes/pagos/{payment.pk}/").status_code == 403


def test_the_console_needs_totp_like_the_rest_of_the_admin(client, agent, settings):
    settings.ADMIN_REQUIRE_MFA = True
    client.force_login(agent)
    response = client.get("/admin/agentes/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/totp/activate/")


def test_subscribers_cannot_open_the_console(client, juan):
    client.force_login(juan)
    response = client.get("/admin/agentes/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_a_stranger_contract_number_does_not_leak_other_providers(client, agent, kona):
    other = ProviderFactory(code="222", handle_domain="interatos")
    contract = ContractFactory(provider=other, number="1002")
    Payment.objects.create(
        provider=other,
        contract=contract,
        gateway="reference",
        plan=contract.plan,
        amount=Decimal("9.00"),
        currency="ARS",
        reference="22200000000011",
    )
    client.force_login(agent)
    assert "22200000000011" not in client.get("/admin/agentes/", {"q": "1002"}).text


@pytest.mark.parametrize("paid_at", ["0001-01-01 00:00", "9999-12-31 23:59", "1999-01-01 10:00"])
def test_a_confirm_date_out_of_range_is_a_400_and_credits_nothing(client, agent, payment, paid_at):
    client.force_login(agent)

    response = client.post(
        f"/admin/agentes/pagos/{payment.pk}/",
        {"amount": "250.00", "paid_at": paid_at, "note": "ticket"},
    )

    assert response.status_code == 400
    assert "La fecha debe estar entre los años 2000 y 2099." in response.text
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert not LedgerEntry.objects.exists()


def test_the_confirm_date_is_read_in_the_isps_time_zone(client, agent, payment, settings):
    settings.TIME_ZONE = "UTC"
    client.force_login(agent)
    local = timezone.localtime(
        timezone.now() - timezone.timedelta(hours=2), payment.provider.tzinfo
    ).replace(second=0, microsecond=0)

    client.post(
        f"/admin/agentes/pagos/{payment.pk}/",
        {"amount": "250.00", "paid_at": local.strftime("%Y-%m-%d %H:%M"), "note": "ticket"},
    )

    payment.refresh_from_db()
    assert payment.paid_at == local


@pytest.mark.parametrize("query", ["\x00", "1110\x000000", "55\x1b12"])
def test_a_search_with_control_characters_is_a_400_not_a_500(client, agent, payment, query):
    client.force_login(agent)

    response = client.get("/admin/agentes/", {"q": query})

    assert response.status_code == 400
    assert "La búsqueda lleva caracteres de control" in response.text


def test_the_admin_search_box_ignores_a_nul(client, agent, payment):
    client.force_login(agent)

    response = client.get("/admin/payments/payment/", {"q": "11100000000018\x00"})

    assert response.status_code == 200
    assert "11100000000018" in response.text

"""The audit trail: every write that matters leaves who, when, from where and what changed,
bulk paths included; staff read it on each object's page and in «Auditoría», per ISP."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.roles import BILLING_ROLE, ISP_ADMIN_ROLE, SUPPORT_ROLE
from billing.imports import contracts_import
from billing.models import LedgerEntry, ServicePeriod
from billing.services import LineSpec, invoice_issue
from core.models import AppendOnlyError, AuditEntry
from payments.models import GatewayAccount, Payment, PaymentEvent, SettlementImport
from payments.services import payment_start
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, ZoneFactory, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("admin_without_totp")]

CLIENT_IP = "203.0.113.7"


@pytest.fixture
def contract(kona):
    zone = ZoneFactory(provider=kona, name="Centro")
    plan = PlanFactory(provider=kona, name="Plan Básico", price=Decimal("250.00"))
    plan.zones.add(zone)
    return ContractFactory(
        provider=kona,
        number="1001",
        holder_name="Rosa Martínez",
        zone=zone,
        plan=plan,
        paid_until=kona.today() + datetime.timedelta(days=5),
    )


def cash_reference(contract) -> Payment:
    """A pending self-issued reference for the contract's plan, as Adquirir makes it."""
    GatewayAccount.objects.create(
        provider=contract.provider, gateway="reference", reference_prefix="111"
    )
    return payment_start(
        contract=contract,
        gateway="reference",
        method="cash",
        plan=contract.plan,
        urls_for=lambda _payment: None,
    )


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("pk"))


def staff_client(client, user):
    client.force_login(user)
    client.defaults["REMOTE_ADDR"] = CLIENT_IP
    return client


def test_a_contract_changed_in_the_admin_records_every_field_before_and_after(
    client, kona, contract
):
    # given
    admin = staff_of(kona, ISP_ADMIN_ROLE, username="admin@kona")
    staff_client(client, admin)
    url = f"/admin/accounts/contract/{contract.pk}/change/"
    vigencia_before = contract.paid_until

    # when
    response = client.post(
        url,
        {
            "provider": kona.pk,
            "number": "1001",
            "holder_name": "Rosa Martínez Ruiz",
            "installation_address": contract.installation_address,
            "phone": "+525587654321",
            "zone": contract.zone_id,
            "plan": contract.plan_id,
            "billing_mode": "prepaid",
            "vigencia": "2027-01-15",
            "held": "on",
            "hold_reason": "Equipo en revisión",
        },
    )

    # then: the fields as changed, and the service as ordered (derived by the recompute)
    assert response.status_code == 302
    (entry,) = entries("admin.changed")
    assert entry.changes == {
        "holder_name": ["Rosa Martínez", "Rosa Martínez Ruiz"],
        "phone": ["+525512345678", "+525587654321"],
    }
    (ordered,) = entries("contract.service_ordered")
    assert ordered.changes == {
        "paid_until": [contract.paid_until.isoformat(), "2027-01-15"],
        "hold": [None, "Equipo en revisión"],
    }
    assert ordered.actor == admin
    contract.refresh_from_db()
    assert (contract.paid_until, contract.status) == (datetime.date(2027, 1, 15), "suspended")
    assert (entry.actor, entry.provider, entry.channel, entry.ip_address) == (
        admin,
        kona,
        "admin",
        CLIENT_IP,
    )
    assert entry.object_id == str(contract.pk)
    # Shown on the contract's own page, in the staff member's language.
    page = client.get(url).text
    assert 'id="audit-trail"' in page
    assert "Modificado en la administración" in page
    assert "Servicio cambiado por el ISP" in page
    assert f"vigencia: {vigencia_before.isoformat()} → 2027-01-15" in page
    assert "suspensión por el ISP: — → Equipo en revisión" in page


def test_a_save_that_changes_nothing_records_nothing(client, kona, contract):
    staff_client(client, staff_of(kona, ISP_ADMIN_ROLE))
    page = client.get(f"/admin/accounts/contract/{contract.pk}/change/")
    assert page.status_code == 200

    client.post(
        f"/admin/accounts/contract/{contract.pk}/change/",
        {
            "provider": kona.pk,
            "number": "1001",
            "holder_name": contract.holder_name,
            "installation_address": contract.installation_address,
            "phone": contract.phone,
            "zone": contract.zone_id,
            "plan": contract.plan_id,
            "billing_mode": "prepaid",
            "paid_until": contract.paid_until.isoformat(),
            "status": "active",
        },
    )

    assert entries("admin.changed") == []


def test_invoices_issued_and_voided_adjustments_and_reversals_are_audited(client, kona, contract):
    # given
    clerk = staff_of(kona, BILLING_ROLE, username="cajera")
    staff_client(client, clerk)
    due_date = kona.today() + datetime.timedelta(days=20)

    # when
    client.post(
        "/admin/billing/invoice/emitir/",
        {
            "contract": contract.pk,
            "description": "Noviembre",
            "amount": "250.00",
            "due_date": due_date.isoformat(),
        },
    )
    invoice = contract.invoices.get()
    client.post(f"/admin/billing/invoice/{invoice.pk}/anular/", {"reason": "Emitida por error"})
    client.post(
        "/admin/billing/ledgerentry/ajuste/",
        {"contract": contract.pk, "amount": "-40.00", "reason": "Visita técnica"},
    )
    adjustment = LedgerEntry.objects.get(kind="adjustment")
    client.post(f"/admin/billing/ledgerentry/{adjustment.pk}/revertir/", {"reason": "No procedía"})

    # then
    (issued,) = entries("invoice.issued")
    (voided,) = entries("invoice.voided")
    (adjusted,) = entries("ledger.adjusted")
    (reversed_,) = entries("ledger.reversed")
    assert issued.changes == {
        "number": [None, "1"],
        "total": [None, "250.00"],
        "due_date": [None, due_date.isoformat()],
    }
    assert (voided.changes, voided.note) == ({"status": ["issued", "void"]}, "Emitida por error")
    assert (adjusted.changes, adjusted.note) == ({"amount": [None, "-40.00"]}, "Visita técnica")
    assert reversed_.changes == {"amount": ["-40.00", "40.00"]}
    for entry in (issued, voided, adjusted, reversed_):
        assert (entry.actor, entry.provider, entry.ip_address) == (clerk, kona, CLIENT_IP)
    assert {issued.object_id, voided.object_id} == {str(invoice.pk)}
    assert {adjusted.object_id, reversed_.object_id} == {str(contract.pk)}


def test_a_cash_payment_confirmed_by_an_agent_is_audited_with_the_vigencia_it_moved(
    client, kona, contract
):
    # given
    payment = cash_reference(contract)
    agent = staff_of(kona, SUPPORT_ROLE, username="agente")
    staff_client(client, agent)
    paid_at = timezone.localtime(timezone.now(), kona.tzinfo).strftime("%Y-%m-%d %H:%M")

    # when
    client.post(
        f"/admin/agentes/pagos/{payment.pk}/",
        {"amount": "250.00", "paid_at": paid_at, "note": "ticket 4411"},
    )

    # then
    (confirmed,) = entries("payment.confirmed_by_hand")
    (extended,) = entries("contract.vigencia_extended")
    assert (confirmed.actor, confirmed.object_id, confirmed.ip_address) == (
        agent,
        str(payment.pk),
        CLIENT_IP,
    )
    assert confirmed.changes == {"paid_amount": [None, "250.00"]}
    assert confirmed.note == "credited · ticket 4411"
    assert extended.actor == agent
    assert extended.object_id == str(contract.pk)
    after = contract.paid_until + datetime.timedelta(days=30)
    assert extended.changes == {"paid_until": [contract.paid_until.isoformat(), after.isoformat()]}


def test_a_settlement_file_is_audited_when_received_and_applied(
    client, kona, contract, django_capture_on_commit_callbacks
):
    # given
    payment = cash_reference(contract)
    clerk = staff_of(kona, BILLING_ROLE, username="cajera")
    staff_client(client, clerk)
    paid_at = (timezone.now() - datetime.timedelta(hours=1)).replace(microsecond=0).isoformat()
    content = f"reference,amount,paid_at,folio\n{payment.reference},250.00,{paid_at},F-1\n"

    # when
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/payments/settlementimport/subir/",
            {
                "provider": kona.pk,
                "parser": "generic",
                "settlement_file": SimpleUploadedFile("oxxo.csv", content.encode()),
            },
        )

    # then
    (received,) = entries("settlement.received")
    (applied,) = entries("settlement.applied")
    assert (received.actor, received.channel, received.ip_address) == (clerk, "admin", CLIENT_IP)
    assert received.note.startswith("oxxo.csv · SHA-256 ")
    assert applied.actor == clerk
    assert "Acreditadas 1" in applied.note
    # Each contract's new vigencia is kept by its service period and the payment's events
    # (append-only), not by one audit row per line: a file may hold 100,000.
    assert entries("contract.vigencia_extended") == []
    period = ServicePeriod.objects.exclude(paid_by=None).get(contract=contract)
    assert (period.starts_on, period.ends_on) == (
        contract.paid_until,
        contract.paid_until + datetime.timedelta(days=30),
    )
    assert PaymentEvent.objects.get(payment=payment, kind="paid").source == (
        f"settlement:{SettlementImport.objects.get().pk}"
    )


def test_a_contract_import_audits_each_contract_it_creates_or_changes(kona, contract):
    # given: 1001 changes its phone, 1002 is new
    header = (
        "provider_code,contract_number,holder_name,installation_address,phone,email,"
        "zone,plan,billing_mode,paid_until,status\n"
    )
    rows = (
        "111,1001,Rosa Martínez,Calle Pino 45,5587654321,,Centro,Plan Básico,prepaid,,active\n"
        "111,1002,Juan Pérez,Calle Cedro 8,5511112222,,Centro,Plan Básico,prepaid,,active\n"
    )
    contract.installation_address = "Calle Pino 45"
    contract.save()

    # when
    report = contracts_import(rows_file=io.BytesIO((header + rows).encode()))

    # then
    assert (report.created, report.updated) == (1, 1)
    changed, created = entries("contract.imported")
    assert changed.object_id == str(contract.pk)
    assert changed.changes == {"phone": ["+525512345678", "+525587654321"]}
    assert created.object_repr == "1002 · Juan Pérez"
    assert created.changes["zone"] == [None, "Centro"]
    assert created.changes["phone"] == [None, "+525511112222"]
    assert {changed.channel, created.channel} == {"worker"}


def test_the_import_command_is_audited_as_a_command(kona, contract, tmp_path):
    from django.core.management import call_command

    path = tmp_path / "contratos.csv"
    path.write_text(
        "provider_code,contract_number,holder_name,installation_address,phone,email,"
        "zone,plan,billing_mode,paid_until,status\n"
        "111,1003,Ana,Calle 1,5511112222,,Centro,Plan Básico,prepaid,,active\n"
    )

    call_command("import_contracts", str(path))

    (entry,) = entries("contract.imported")
    assert (entry.channel, entry.actor, entry.ip_address) == ("command", None, None)


def test_a_promise_is_audited_from_the_subscribers_portal(client, kona):
    from tests.factories import UserFactory

    subscriber = UserFactory(provider=kona, username="juan@kona")
    contract = ContractFactory(
        provider=kona, user=subscriber, paid_until=kona.today() - datetime.timedelta(days=1)
    )
    client.force_login(subscriber)
    client.defaults["REMOTE_ADDR"] = CLIENT_IP

    client.post("/promesa-de-pago/")

    (entry,) = entries("promise.made")
    assert (entry.actor, entry.channel, entry.ip_address, entry.object_id) == (
        subscriber,
        "portal",
        CLIENT_IP,
        str(contract.pk),
    )
    assert entry.changes == {
        "promise_until": [None, (kona.today() + datetime.timedelta(days=3)).isoformat()]
    }


def test_gateway_credentials_replaced_are_named_never_shown(client, kona):
    admin = staff_of(kona, ISP_ADMIN_ROLE, username="admin@kona")
    staff_client(client, admin)
    secret = "sk_live_no_debe_aparecer_123"

    response = client.post(
        "/admin/payments/gatewayaccount/add/",
        {
            "provider": kona.pk,
            "gateway": "stripe",
            "is_enabled": "on",
            "expiry_days": 3,
            "secret_key": secret,
            "webhook_secret": "whsec_no_debe_aparecer",
        },
    )

    assert response.status_code == 302
    (entry,) = entries("admin.created")
    assert entry.note == "Credenciales reemplazadas: Stripe secret key, Secreto de webhooks"
    stored = str(list(AuditEntry.objects.values()))
    assert secret not in stored and "whsec_no_debe_aparecer" not in stored


def test_a_password_set_by_staff_is_audited_without_the_password(client, kona):
    admin = staff_of(kona, ISP_ADMIN_ROLE, username="admin@kona")
    clerk = staff_of(kona, BILLING_ROLE, username="cajera")
    staff_client(client, admin)
    password = "otra-clave-muy-larga-2026"

    client.post(
        f"/admin/accounts/user/{clerk.pk}/password/",
        {"password1": password, "password2": password, "usable_password": "true"},
    )

    (entry,) = entries("user.password_set")
    assert (entry.actor, entry.object_id) == (admin, str(clerk.pk))
    assert password not in str(entry.changes) + entry.note


def test_the_audit_list_shows_one_isps_rows_to_its_staff_and_nothing_can_change_them(
    client, kona, contract
):
    # given: an audited write at each of two ISPs
    other = ProviderFactory(code="222", name="Interatos", handle_domain="interatos")
    mine = invoice_issue(
        contract=contract,
        lines=[LineSpec(description="x", amount=Decimal("1.00"))],
        due_date=kona.today() + datetime.timedelta(days=30),
    )
    theirs = invoice_issue(
        contract=ContractFactory(provider=other, number="7007"),
        lines=[LineSpec(description="x", amount=Decimal("1.00"))],
        due_date=kona.today() + datetime.timedelta(days=30),
    )
    staff_client(client, staff_of(kona, BILLING_ROLE))

    # when
    listing = client.get("/admin/core/auditentry/", {"action": "invoice.issued"})

    # then
    assert listing.status_code == 200
    mine_entry = AuditEntry.objects.get(object_id=str(mine.pk), action="invoice.issued")
    theirs_entry = AuditEntry.objects.get(object_id=str(theirs.pk), action="invoice.issued")
    assert f"/admin/core/auditentry/{mine_entry.pk}/change/" in listing.text
    assert f"/admin/core/auditentry/{theirs_entry.pk}/change/" not in listing.text
    assert client.post(f"/admin/core/auditentry/{mine_entry.pk}/delete/").status_code == 403
    with pytest.raises(AppendOnlyError):
        mine_entry.save()
    with pytest.raises(AppendOnlyError):
        mine_entry.delete()


def test_staff_without_the_audit_permission_do_not_see_a_trail_on_object_pages(
    client, kona, contract
):
    staff_client(client, staff_of(kona, ISP_ADMIN_ROLE))
    url = f"/admin/accounts/contract/{contract.pk}/change/"
    data = {
        "provider": kona.pk,
        "number": "1001",
        "holder_name": "Rosa Martínez Ruiz",
        "installation_address": contract.installation_address,
        "phone": contract.phone,
        "zone": contract.zone_id,
        "plan": contract.plan_id,
        "billing_mode": "prepaid",
        "status": "active",
    }
    assert client.post(url, data).status_code == 302
    assert 'id="audit-trail"' in client.get(url).text

    # An agent reads the contract, not who changed it nor from which IP.
    staff_client(client, staff_of(kona, SUPPORT_ROLE, username="agente@kona"))
    page = client.get(url)

    assert page.status_code == 200
    assert 'id="audit-trail"' not in page.text
    assert CLIENT_IP not in page.text


def test_a_second_factor_removed_by_an_isp_administrator_is_in_that_isps_audit(client, kona):
    from allauth.mfa.models import Authenticator

    admin = staff_of(kona, ISP_ADMIN_ROLE, username="admin@kona")
    clerk = staff_of(kona, BILLING_ROLE, username="cajera@kona")
    factor = Authenticator.objects.create(user=clerk, type="totp", data={"secret": "x"})
    staff_client(client, admin)

    response = client.post(f"/admin/accounts/secondfactor/{factor.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Authenticator.objects.filter(pk=factor.pk).exists()
    (entry,) = entries("admin.deleted")
    assert (entry.provider, entry.actor, entry.object_id) == (kona, admin, str(factor.pk))


def test_a_deletion_whose_audit_row_fails_deletes_nothing(client, kona, monkeypatch):
    zone = ZoneFactory(provider=kona, name="Sur")
    staff_client(client, staff_of(kona, ISP_ADMIN_ROLE))

    def broken(*, entries):
        raise RuntimeError("the audit table is unavailable")

    monkeypatch.setattr("core.admin.audit_entries_record", broken)
    client.raise_request_exception = False
    response = client.post(
        "/admin/plans/zone/",
        {"action": "delete_selected", "_selected_action": [zone.pk], "post": "yes"},
    )

    assert response.status_code == 500
    assert type(zone).objects.filter(pk=zone.pk).exists()

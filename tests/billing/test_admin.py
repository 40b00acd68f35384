"""Staff in the admin: issue and void invoices, read the ledger, adjust and reverse with
who and why, promotions, plans per zone. Nothing money-related is deleted or edited."""

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from accounts.models import User
from billing.models import Invoice, InvoiceLine, LedgerEntry
from billing.selectors import ledger_balance
from billing.services import LineSpec, invoice_issue, ledger_record
from plans.models import Promotion
from tests.factories import (
    PASSWORD,
    ContractFactory,
    PlanFactory,
    ProviderFactory,
    ZoneFactory,
)

pytestmark = pytest.mark.django_db

INVOICES_URL = "/admin/billing/invoice/"
ISSUE_URL = "/admin/billing/invoice/emitir/"
LEDGER_URL = "/admin/billing/ledgerentry/"
ADJUST_URL = "/admin/billing/ledgerentry/ajuste/"
NOVEMBER_1 = datetime.date(2026, 11, 1)
NOVEMBER_20 = datetime.date(2026, 11, 20)
UNKNOWN_CHOICE = "Escoja una opción válida. Esa opción no está entre las disponibles."


def void_url(invoice: Invoice) -> str:
    return f"/admin/billing/invoice/{invoice.pk}/anular/"


def reverse_url(entry: LedgerEntry) -> str:
    return f"/admin/billing/ledgerentry/{entry.pk}/revertir/"


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture(autouse=True)
def _admin_without_totp(settings):
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def superuser():
    return User.objects.create_superuser("ana", "ana@example.com", PASSWORD)


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def contract():
    provider = ProviderFactory(code="111", name="KONA", handle_domain="kona")
    return ContractFactory(provider=provider, number="1001", holder_name="Rosa Martínez Ruiz")


@pytest.fixture
def invoice(contract):
    return invoice_issue(
        contract=contract,
        lines=[LineSpec(description="PLAN 6 MEGAS", amount=Decimal("2590.00"))],
        issue_date=NOVEMBER_1,
        due_date=NOVEMBER_20,
    )


@pytest.fixture
def payment(contract):
    return ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=Decimal("250.00"),
        description="Pago OxxoPay",
        occurred_on=NOVEMBER_1,
    )


def staff_with(*codenames: str) -> User:
    """Staff of KONA (the contract's ISP) with these billing permissions."""
    staff = User.objects.create_user(
        "beto",
        "beto@example.com",
        PASSWORD,
        is_staff=True,
        provider=ProviderFactory(code="111"),
    )
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label="billing", codename__in=codenames)
    )
    return staff


def issue_data(contract, /, **changes) -> dict[str, str]:
    return {
        "contract": str(contract.pk),
        "description": "PLAN 6 MEGAS noviembre",
        "amount": "2590.00",
        "issue_date": "2026-11-01",
        "due_date": "2026-11-20",
        "period_start": "2026-11-01",
        "period_end": "2026-11-30",
        **changes,
    }


# Invoices: issue


def test_the_invoice_list_has_the_issue_link(staff_client):
    # when
    response = staff_client.get(INVOICES_URL)

    # then
    assert response.status_code == 200
    assert f'<a href="{ISSUE_URL}" class="addlink">Emitir factura</a>' in response.content.decode()


def test_the_issue_page_is_an_admin_page_with_a_contract_lookup(staff_client):
    # when
    response = staff_client.get(ISSUE_URL)

    # then
    assert response.status_code == 200
    content = response.content.decode()
    assert "<title>Emitir factura | Antena</title>" in content
    assert '<a href="/admin/billing/invoice/">Facturas</a>' in content
    assert 'name="contract"' in content
    assert 'class="vForeignKeyRawIdAdminField"' in content
    assert 'href="/admin/accounts/contract/?_to_field=id"' in content
    assert "admin/js/admin/RelatedObjectLookups.js" in content
    assert '<input type="text" name="due_date" class="vDateField"' in content
    assert "admin/js/admin/DateTimeShortcuts.js" in content


def test_issuing_creates_invoice_one_with_its_line_and_a_charge_by_the_staff_user(
    staff_client, superuser, contract
):
    # when
    response = staff_client.post(ISSUE_URL, issue_data(contract))

    # then
    invoice = Invoice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/invoice/{invoice.pk}/change/"
    assert messages_of(response) == ["Factura Nº 1 emitida."]
    assert (
        invoice.number,
        invoice.contract,
        invoice.issue_date,
        invoice.due_date,
        invoice.period_start,
        invoice.period_end,
        invoice.total,
        invoice.status,
        invoice.created_by,
    ) == (
        1,
        contract,
        NOVEMBER_1,
        NOVEMBER_20,
        NOVEMBER_1,
        datetime.date(2026, 11, 30),
        Decimal("2590.00"),
        "issued",
        superuser,
    )
    assert list(InvoiceLine.objects.values_list("invoice", "description", "amount")) == [
        (invoice.pk, "PLAN 6 MEGAS noviembre", Decimal("2590.00"))
    ]
    assert list(
        LedgerEntry.objects.values_list("kind", "amount", "invoice", "created_by", "occurred_on")
    ) == [("charge", Decimal("-2590.00"), invoice.pk, superuser.pk, NOVEMBER_1)]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"due_date": ""}, {"due_date": ["Este campo es obligatorio."]}),
        (
            {"due_date": "2026-10-31"},
            {"due_date": ["El vencimiento no puede ser anterior a la emisión."]},
        ),
        (
            {"amount": "0.00"},
            {"amount": ["Asegúrese de que este valor es mayor o igual a 0.01."]},
        ),
        ({"period_end": ""}, {"__all__": ["Indica el periodo completo o déjalo vacío."]}),
        (
            {"period_end": "2026-10-15"},
            {"period_end": ["El periodo termina antes de empezar."]},
        ),
        ({"contract": "999999"}, {"contract": [UNKNOWN_CHOICE]}),
    ],
    ids=[
        "missing-due-date",
        "due-before-issue",
        "zero-amount",
        "half-a-period",
        "period-backwards",
        "unknown-contract",
    ],
)
def test_a_bad_issue_form_is_a_400_listing_the_error_and_creates_nothing(
    staff_client, contract, changes, errors
):
    # when
    response = staff_client.post(ISSUE_URL, issue_data(contract, **changes))

    # then
    assert response.status_code == 400
    assert response.context["form"].errors == errors
    content = response.content.decode()
    for message in errors.values():
        assert message[0] in content
    assert (Invoice.objects.count(), InvoiceLine.objects.count(), LedgerEntry.objects.count()) == (
        0,
        0,
        0,
    )


def test_a_refused_issue_takes_no_number(staff_client, contract):
    # given a refused attempt
    staff_client.post(ISSUE_URL, issue_data(contract, amount="0.00"))

    # when
    staff_client.post(ISSUE_URL, issue_data(contract))

    # then
    assert list(Invoice.objects.values_list("number", flat=True)) == [1]


def test_an_empty_post_to_the_issue_page_is_a_400_with_the_required_fields(staff_client):
    # when
    response = staff_client.post(ISSUE_URL, {})

    # then
    assert response.status_code == 400
    assert sorted(response.context["form"].errors) == [
        "amount",
        "contract",
        "description",
        "due_date",
    ]
    assert Invoice.objects.count() == 0


# Invoices: void


def test_the_void_page_asks_for_a_reason_and_shows_the_invoice(staff_client, invoice):
    # when
    change_response = staff_client.get(f"/admin/billing/invoice/{invoice.pk}/change/")
    response = staff_client.get(void_url(invoice))

    # then
    assert f'<a href="{void_url(invoice)}">Anular</a>' in change_response.content.decode()
    assert response.status_code == 200
    content = response.content.decode()
    assert "<h1>Anular la factura Nº 1</h1>" in content
    assert "<dt>Monto total</dt><dd>$2,590.00</dd>" in content
    assert "<dt>Contrato</dt><dd>1001 · Rosa Martínez Ruiz</dd>" in content
    assert 'name="reason"' in content


def test_voiding_keeps_the_invoice_with_its_reason_and_reverses_the_charge(
    staff_client, superuser, contract, invoice
):
    # when
    response = staff_client.post(void_url(invoice), {"reason": "Emitida por error"})

    # then
    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/invoice/{invoice.pk}/change/"
    assert messages_of(response) == ["Factura Nº 1 anulada."]
    invoice.refresh_from_db()
    assert (invoice.number, invoice.status, invoice.void_reason) == (
        1,
        "void",
        "Emitida por error",
    )
    assert invoice.voided_at is not None
    charge = LedgerEntry.objects.get(kind="charge")
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert (
        reversal.amount,
        reversal.reverses,
        reversal.invoice,
        reversal.created_by,
        reversal.reason,
    ) == (Decimal("2590.00"), charge, invoice, superuser, "Emitida por error")
    assert ledger_balance(contract=contract) == Decimal("0.00")


def test_a_void_invoice_has_no_void_link(staff_client, invoice):
    # given
    staff_client.post(void_url(invoice), {"reason": "Emitida por error"})

    # when
    response = staff_client.get(f"/admin/billing/invoice/{invoice.pk}/change/")

    # then
    assert response.status_code == 200
    assert void_url(invoice) not in response.content.decode()


@pytest.mark.parametrize("reason", ["", "   "])
def test_voiding_without_a_reason_is_a_400_and_changes_nothing(staff_client, invoice, reason):
    # when
    response = staff_client.post(void_url(invoice), {"reason": reason})

    # then
    assert response.status_code == 400
    assert response.context["form"].errors == {"reason": ["Este campo es obligatorio."]}
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason, invoice.voided_at) == ("issued", "", None)
    assert list(LedgerEntry.objects.values_list("kind", flat=True)) == ["charge"]


def test_voiding_twice_is_refused_with_a_clear_message(staff_client, invoice):
    # given
    staff_client.post(void_url(invoice), {"reason": "Emitida por error"})

    # when
    response = staff_client.post(void_url(invoice), {"reason": "Otra vez"})

    # then
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["La factura ya está anulada."]
    assert "La factura ya está anulada." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.void_reason == "Emitida por error"
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["charge", "reversal"]


def test_voiding_an_unknown_invoice_is_a_404(staff_client):
    # when
    response = staff_client.post("/admin/billing/invoice/999999/anular/", {"reason": "x"})

    # then
    assert response.status_code == 404


# No delete, no edit


def test_invoices_and_ledger_entries_cannot_be_deleted(staff_client, invoice):
    # given
    charge = LedgerEntry.objects.get()

    # when
    invoice_delete = staff_client.post(
        f"/admin/billing/invoice/{invoice.pk}/delete/", {"post": "yes"}
    )
    entry_delete = staff_client.post(
        f"/admin/billing/ledgerentry/{charge.pk}/delete/", {"post": "yes"}
    )
    bulk_delete = staff_client.post(
        INVOICES_URL, {"action": "delete_selected", "_selected_action": [invoice.pk], "post": "yes"}
    )
    invoice_list = staff_client.get(INVOICES_URL)
    ledger_list = staff_client.get(LEDGER_URL)

    # then
    assert (invoice_delete.status_code, entry_delete.status_code) == (403, 403)
    assert bulk_delete.status_code == 200
    for response in (invoice_list, ledger_list):
        assert "delete_selected" not in response.content.decode()
        assert response.context["action_form"] is None
    assert (Invoice.objects.count(), LedgerEntry.objects.count()) == (1, 1)


def test_invoices_and_ledger_entries_have_no_add_button(staff_client):
    # when
    invoice_add = staff_client.get("/admin/billing/invoice/add/")
    entry_add = staff_client.get("/admin/billing/ledgerentry/add/")

    # then
    assert (invoice_add.status_code, entry_add.status_code) == (403, 403)


def test_a_ledger_entry_is_shown_read_only_and_a_post_changes_nothing(
    staff_client, contract, payment
):
    # when
    page = staff_client.get(f"/admin/billing/ledgerentry/{payment.pk}/change/")
    post = staff_client.post(
        f"/admin/billing/ledgerentry/{payment.pk}/change/",
        {
            "contract": contract.pk,
            "kind": "payment",
            "amount": "99999.00",
            "currency": "MXN",
            "occurred_on": "2026-11-01",
            "description": "Pago inventado",
        },
    )

    # then
    assert page.status_code == 200
    assert 'name="amount"' not in page.content.decode()
    assert post.status_code == 403
    assert list(LedgerEntry.objects.values_list("amount", "description")) == [
        (Decimal("250.00"), "Pago OxxoPay")
    ]


def test_an_invoice_cannot_be_edited_through_its_change_form(staff_client, invoice):
    # when
    response = staff_client.post(
        f"/admin/billing/invoice/{invoice.pk}/change/", {"total": "1.00", "status": "void"}
    )

    # then
    assert response.status_code == 403
    invoice.refresh_from_db()
    assert (invoice.total, invoice.status) == (Decimal("2590.00"), "issued")


# Ledger: manual adjustment


def test_the_ledger_list_has_the_adjustment_link_and_its_page_a_contract_lookup(staff_client):
    # when
    ledger_list = staff_client.get(LEDGER_URL)
    page = staff_client.get(ADJUST_URL)

    # then
    assert f'<a href="{ADJUST_URL}" class="addlink">Ajuste manual</a>' in (
        ledger_list.content.decode()
    )
    assert page.status_code == 200
    content = page.content.decode()
    assert '<a href="/admin/billing/ledgerentry/">Movimientos</a>' in content
    assert 'class="vForeignKeyRawIdAdminField"' in content
    assert 'name="reason"' in content


def test_a_manual_adjustment_records_amount_reason_and_who(staff_client, superuser, contract):
    # when
    response = staff_client.post(
        ADJUST_URL,
        {"contract": contract.pk, "amount": "-150.50", "reason": "Cobro de reconexión"},
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == LEDGER_URL
    assert messages_of(response) == ["Ajuste de -$150.50 registrado en el contrato 1001."]
    assert list(
        LedgerEntry.objects.values_list(
            "contract", "kind", "amount", "currency", "description", "reason", "created_by"
        )
    ) == [
        (
            contract.pk,
            "adjustment",
            Decimal("-150.50"),
            "MXN",
            "Ajuste manual",
            "Cobro de reconexión",
            superuser.pk,
        )
    ]


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"amount": "100.00", "reason": ""}, {"reason": ["Este campo es obligatorio."]}),
        ({"amount": "100.00", "reason": "  "}, {"reason": ["Este campo es obligatorio."]}),
        (
            {"amount": "0.00", "reason": "Bonificación"},
            {"__all__": ["El ajuste no puede ser cero."]},
        ),
    ],
    ids=["no-reason", "blank-reason", "zero"],
)
def test_a_bad_adjustment_is_a_400_and_records_nothing(staff_client, contract, data, errors):
    # when
    response = staff_client.post(ADJUST_URL, {"contract": contract.pk, **data})

    # then
    assert response.status_code == 400
    assert response.context["form"].errors == errors
    assert next(iter(errors.values()))[0] in response.content.decode()
    assert LedgerEntry.objects.count() == 0


# Ledger: reversal


def test_reversing_an_entry_records_the_opposite_with_who_and_why(
    staff_client, superuser, contract, payment
):
    # given
    change_page = staff_client.get(f"/admin/billing/ledgerentry/{payment.pk}/change/")

    # when
    response = staff_client.post(reverse_url(payment), {"reason": "Pago duplicado"})

    # then
    assert f'<a href="{reverse_url(payment)}">Revertir</a>' in change_page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == LEDGER_URL
    assert messages_of(response) == ["Movimiento revertido: Pago OxxoPay."]
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert (
        reversal.amount,
        reversal.reverses,
        reversal.description,
        reversal.reason,
        reversal.created_by,
    ) == (Decimal("-250.00"), payment, "Reversión: Pago OxxoPay", "Pago duplicado", superuser)
    assert ledger_balance(contract=contract) == Decimal("0.00")


def test_reversing_an_entry_twice_is_refused_with_a_clear_message(staff_client, payment):
    # given
    staff_client.post(reverse_url(payment), {"reason": "Pago duplicado"})

    # when
    change_page = staff_client.get(f"/admin/billing/ledgerentry/{payment.pk}/change/")
    response = staff_client.post(reverse_url(payment), {"reason": "Otra vez"})

    # then
    assert reverse_url(payment) not in change_page.content.decode()
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == ["Este movimiento ya fue revertido."]
    assert "Este movimiento ya fue revertido." in response.content.decode()
    assert LedgerEntry.objects.count() == 2


def test_a_reversal_without_a_reason_is_a_400_and_records_nothing(staff_client, payment):
    # when
    response = staff_client.post(reverse_url(payment), {"reason": ""})

    # then
    assert response.status_code == 400
    assert response.context["form"].errors == {"reason": ["Este campo es obligatorio."]}
    assert LedgerEntry.objects.count() == 1


# Permissions


def test_staff_without_billing_permissions_get_403_on_the_custom_pages(
    client, contract, invoice, payment
):
    # given staff who may only look at invoices and the ledger
    client.force_login(staff_with("view_invoice", "view_ledgerentry"))
    pages = [ISSUE_URL, void_url(invoice), ADJUST_URL, reverse_url(payment)]

    # when
    gets = [client.get(url).status_code for url in pages]
    posts = [
        client.post(ISSUE_URL, issue_data(contract)).status_code,
        client.post(void_url(invoice), {"reason": "Emitida por error"}).status_code,
        client.post(
            ADJUST_URL, {"contract": contract.pk, "amount": "10", "reason": "x"}
        ).status_code,
        client.post(reverse_url(payment), {"reason": "x"}).status_code,
    ]
    invoice_list = client.get(INVOICES_URL).content.decode()
    ledger_list = client.get(LEDGER_URL).content.decode()
    invoice_page = client.get(f"/admin/billing/invoice/{invoice.pk}/change/").content.decode()
    entry_page = client.get(f"/admin/billing/ledgerentry/{payment.pk}/change/").content.decode()

    # then
    assert gets == [403, 403, 403, 403]
    assert posts == [403, 403, 403, 403]
    assert ISSUE_URL not in invoice_list
    assert ADJUST_URL not in ledger_list
    assert void_url(invoice) not in invoice_page
    assert reverse_url(payment) not in entry_page
    assert list(Invoice.objects.values_list("number", "status")) == [(1, "issued")]
    assert sorted(LedgerEntry.objects.values_list("kind", flat=True)) == ["charge", "payment"]


def test_staff_with_the_billing_permissions_can_issue_and_adjust(client, contract):
    # given
    staff = staff_with("view_invoice", "add_invoice", "view_ledgerentry", "add_ledgerentry")
    client.force_login(staff)

    # when
    issued = client.post(ISSUE_URL, issue_data(contract))
    adjusted = client.post(
        ADJUST_URL, {"contract": contract.pk, "amount": "50.00", "reason": "Bonificación"}
    )

    # then
    assert (issued.status_code, adjusted.status_code) == (302, 302)
    assert list(LedgerEntry.objects.order_by("pk").values_list("kind", "created_by")) == [
        ("charge", staff.pk),
        ("adjustment", staff.pk),
    ]


def test_subscribers_cannot_reach_the_billing_pages(client, contract):
    # given a login without staff status
    subscriber = User.objects.create_user(
        "rosa@kona", password=PASSWORD, provider=contract.provider
    )
    client.force_login(subscriber)

    # when
    response = client.post(ISSUE_URL, issue_data(contract))

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert Invoice.objects.count() == 0


# Promotions and plans per zone


def test_the_promotion_admin_creates_a_promotion_for_some_zones_and_plans(staff_client, contract):
    # given
    provider = contract.provider
    centro = ZoneFactory(provider=provider, name="Centro")
    norte = ZoneFactory(provider=provider, name="Norte")
    ZoneFactory(provider=provider, name="Sur")
    basico = PlanFactory(provider=provider, name="Básico 10 Mb")
    PlanFactory(provider=provider, name="Avanzado 20 Mb")

    # when
    response = staff_client.post(
        "/admin/plans/promotion/add/",
        {
            "provider": provider.pk,
            "title": "Noviembre: 5 días de regalo",
            "text": "Paga tu plan y recibe 5 días más.",
            "zones": [centro.pk, norte.pk],
            "plans": [basico.pk],
            "starts_on": "2026-11-01",
            "ends_on": "2026-11-30",
            "effect": "bonus_days",
            "bonus_days": "5",
            "discount_percent": "0",
            "is_active": "on",
        },
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/plans/promotion/"
    promotion = Promotion.objects.get()
    assert (
        promotion.provider,
        promotion.title,
        promotion.starts_on,
        promotion.ends_on,
        promotion.effect,
        promotion.bonus_days,
    ) == (
        provider,
        "Noviembre: 5 días de regalo",
        NOVEMBER_1,
        datetime.date(2026, 11, 30),
        "bonus_days",
        5,
    )
    assert sorted(promotion.zones.values_list("name", flat=True)) == ["Centro", "Norte"]
    assert list(promotion.plans.values_list("name", flat=True)) == ["Básico 10 Mb"]


def test_a_promotion_with_bonus_days_effect_but_no_days_is_refused(staff_client, contract):
    # when
    response = staff_client.post(
        "/admin/plans/promotion/add/",
        {
            "provider": contract.provider.pk,
            "title": "Días de regalo",
            "starts_on": "2026-11-01",
            "ends_on": "2026-11-30",
            "effect": "bonus_days",
            "bonus_days": "0",
            "discount_percent": "0",
        },
    )

    # then
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "bonus_days": ["Indica cuántos días de regalo da."]
    }
    assert Promotion.objects.count() == 0


def test_the_plan_admin_filters_plans_by_zone(staff_client):
    # given
    provider = ProviderFactory(code="111", name="KONA", handle_domain="kona")
    centro = ZoneFactory(provider=provider, name="Centro")
    sur = ZoneFactory(provider=provider, name="Sur")
    basico = PlanFactory(provider=provider, name="Básico 10 Mb", price=Decimal("250.00"))
    avanzado = PlanFactory(provider=provider, name="Avanzado 20 Mb", price=Decimal("400.00"))
    PlanFactory(provider=provider, name="Rural 5 Mb", price=Decimal("150.00"))
    basico.zones.set([centro, sur])
    avanzado.zones.set([centro])

    # when
    everything = staff_client.get("/admin/plans/plan/")
    in_centro = staff_client.get(f"/admin/plans/plan/?zones__id__exact={centro.pk}")
    in_sur = staff_client.get(f"/admin/plans/plan/?zones__id__exact={sur.pk}")

    # then
    assert everything.status_code == 200
    assert "Por zonas" in everything.content.decode()
    assert [plan.name for plan in in_centro.context["cl"].result_list] == [
        "Básico 10 Mb",
        "Avanzado 20 Mb",
    ]
    assert [plan.name for plan in in_sur.context["cl"].result_list] == ["Básico 10 Mb"]

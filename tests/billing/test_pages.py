"""What the subscriber sees: Inicio, Servicios, Estado de cuenta, Facturas, Planes prepago."""

import datetime
from decimal import Decimal

import pytest
import time_machine

from billing.models import LedgerEntry
from billing.services import invoices_settle, ledger_record
from core.money import money_format
from plans.models import Promotion
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory

from .factories import issue

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 11, 23, 18, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _frozen_today():
    with time_machine.travel(TODAY, tick=False):
        yield


@pytest.fixture
def laura(interatos):
    user = UserFactory(provider=interatos, username="laura@interatos")
    plan = PlanFactory(
        provider=interatos,
        name="PLAN 6 MEGAS",
        price=Decimal("2590.00"),
        billing_mode="postpaid",
        download_mbps=6,
        upload_mbps=1,
    )
    ContractFactory(
        provider=interatos,
        number="2002",
        user=user,
        plan=plan,
        billing_mode="postpaid",
        paid_until=None,
    )
    return user


@pytest.fixture
def juan():
    kona = ProviderFactory(code="111", name="KONA", handle_domain="kona")
    zone = ZoneFactory(provider=kona, name="Norte")
    plan = PlanFactory(
        provider=kona,
        name="Plan Avanzado",
        price=Decimal("2590.00"),
        download_mbps=20,
        upload_mbps=5,
    )
    plan.zones.add(zone)
    user = UserFactory(provider=kona, username="juan@kona")
    ContractFactory(
        provider=kona,
        number="1002",
        user=user,
        zone=zone,
        plan=plan,
        paid_until=datetime.date(2026, 12, 13),
    )
    return user


def test_money_formats_of_both_isps(interatos):
    kona = ProviderFactory(currency="MXN", locale="es_MX")
    assert money_format(Decimal("2590"), provider=interatos) == "$ 2.590,00"
    assert money_format(Decimal("-2590"), provider=interatos) == "-$ 2.590,00"
    assert money_format(Decimal("2590"), provider=kona) == "$2,590.00"
    assert money_format(Decimal("0.005"), provider=kona) == "$0.01"


def test_postpaid_inicio_shows_last_invoice_and_balance(client, laura):
    contract = laura.contracts.get()
    paid = issue(contract, issue_date=datetime.date(2026, 9, 20))
    ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=paid.total,
        description="Pago",
        invoice_id=paid.pk,
    )
    invoices_settle(credits=[(paid.contract_id, paid.total)])
    issue(contract, issue_date=datetime.date(2026, 10, 20))
    client.force_login(laura)
    page = client.get("/").text
    assert "ÚLTIMA FACTURA" in page
    assert "20/10/2026" in page and "09/11/2026" in page  # emisión, vencimiento
    assert "VENCIDA" in page
    assert 'Monto a pagar</dt><dd class="money">$ 2.590,00' in page
    assert 'data-testid="balance">-$ 2.590,00<' in page
    assert "Descargar factura" in page and "Ver facturas" in page
    assert "días de crédito" not in page


def test_prepaid_inicio_shows_credit_days_vigencia_and_zone_promotions(client, juan):
    contract = juan.contracts.get()
    other_zone = ZoneFactory(provider=contract.provider, name="Sur")
    here = Promotion.objects.create(
        provider=contract.provider,
        title="Noviembre: 5 días extra",
        starts_on=datetime.date(2026, 11, 1),
        ends_on=datetime.date(2026, 11, 30),
        effect="bonus_days",
        bonus_days=5,
    )
    here.zones.add(contract.zone)
    elsewhere = Promotion.objects.create(
        provider=contract.provider,
        title="Solo en el Sur",
        starts_on=datetime.date(2026, 11, 1),
        ends_on=datetime.date(2026, 11, 30),
    )
    elsewhere.zones.add(other_zone)
    Promotion.objects.create(
        provider=contract.provider,
        title="Ya terminó",
        starts_on=datetime.date(2026, 10, 1),
        ends_on=datetime.date(2026, 10, 31),
    )
    Promotion.objects.create(  # no zone: every zone
        provider=contract.provider,
        title="En todas las zonas",
        starts_on=datetime.date(2026, 11, 1),
        ends_on=datetime.date(2026, 11, 30),
    )
    client.force_login(juan)
    page = client.get("/").text
    assert "En todas las zonas" in page
    assert "<strong>20</strong> días de crédito restantes" in page
    assert "Vigencia: 13/12/2026" in page
    assert "Noviembre: 5 días extra" in page
    assert "Solo en el Sur" not in page
    assert "Ya terminó" not in page


def test_servicios_shows_the_plan(client, juan):
    client.force_login(juan)
    page = client.get("/servicios/").text
    for text in ("Plan Avanzado", "20 Mb", "5 Mb", "$2,590.00", "30 días", "Activo"):
        assert text in page


def test_facturas_lists_and_details_with_seed_labels(client, laura):
    contract = laura.contracts.get()
    old = issue(contract, amount="2190.00", issue_date=datetime.date(2026, 8, 20))
    ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=old.total,
        description="Pago",
        invoice_id=old.pk,
    )
    invoices_settle(credits=[(old.contract_id, old.total)])
    new = issue(contract, issue_date=datetime.date(2026, 11, 20))
    client.force_login(laura)
    listing = client.get("/facturas/").text
    assert listing.index(f"Factura Nº {new.number}") < listing.index(f"Factura Nº {old.number}")
    new_row, old_row = listing.split('data-testid="invoice"')[1:]
    # Monto a pagar always; Monto total only when it differs (part or all of it paid).
    assert 'data-testid="amount-due">$ 0,00<' in old_row
    assert 'data-testid="total">$ 2.190,00<' in old_row and "PAGADA" in old_row
    assert 'data-testid="amount-due">$ 2.590,00<' in new_row and "IMPAGA" in new_row
    assert 'data-testid="total"' not in new_row
    detail = client.get(f"/facturas/{new.number}/").text
    for text in (
        "Fecha de emisión",
        "20 de noviembre de 2026",
        "Monto a pagar",
        "Monto total",
        "Fecha de vencimiento",
        "10/12/2026",
        "IMPAGA",
        "PAGAR",
        "DESCARGAR FACTURA",
    ):
        assert text in detail
    paid_detail = client.get(f"/facturas/{old.number}/").text
    assert "PAGAR" not in paid_detail


def test_descargar_factura_serves_the_pdf(client, laura, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    invoice = issue(laura.contracts.get())
    client.force_login(laura)
    response = client.get(f"/facturas/{invoice.number}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="factura-{invoice.number}.pdf"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_estado_de_cuenta_has_running_balance_newest_first(client, laura):
    contract = laura.contracts.get()
    invoice = issue(contract, amount="2590.00", issue_date=datetime.date(2026, 10, 1))
    ledger_record(
        contract=contract,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=Decimal("1000"),
        description="Pago parcial",
        invoice_id=invoice.pk,
        occurred_on=datetime.date(2026, 10, 5),
    )
    client.force_login(laura)
    page = client.get("/estado-de-cuenta/").text
    assert page.index("Pago parcial") < page.index(f"Factura Nº {invoice.number}")
    assert "-$ 1.590,00" in page  # balance after the payment
    assert 'data-testid="balance">-$ 1.590,00<' in page


def test_estado_de_cuenta_shows_vigencia_for_prepaid(client, juan):
    client.force_login(juan)
    page = client.get("/estado-de-cuenta/").text
    assert 'data-testid="vigencia">13/12/2026<' in page
    assert "Aún no hay movimientos." in page


def test_planes_prepago_lists_only_the_zone_plans_with_promotions(client, juan):
    contract = juan.contracts.get()
    basic = PlanFactory(
        provider=contract.provider, name="Plan Básico", price=Decimal("250"), download_mbps=10
    )
    basic.zones.add(contract.zone)
    PlanFactory(provider=contract.provider, name="Plan de otra zona").zones.add(
        ZoneFactory(provider=contract.provider)
    )
    PlanFactory(provider=contract.provider, name="Plan retirado", is_active=False).zones.add(
        contract.zone
    )
    promo = Promotion.objects.create(
        provider=contract.provider,
        title="Básico +5 días",
        starts_on=datetime.date(2026, 11, 1),
        ends_on=datetime.date(2026, 11, 30),
    )
    promo.plans.add(basic)
    client.force_login(juan)
    page = client.get("/planes/").text
    assert page.index("Plan Básico") < page.index("Plan Avanzado")
    assert "10 Mb</strong> de descarga" in page and "$250.00" in page
    assert "Plan de otra zona" not in page and "Plan retirado" not in page
    assert page.count("Básico +5 días") == 1
    adquirir = client.get(f"/planes/{basic.pk}/adquirir/").text
    assert "Plan Básico" in adquirir and "$250.00" in adquirir and "Básico +5 días" in adquirir


@pytest.mark.parametrize(
    "url",
    [
        "/facturas/?page=abc",
        "/facturas/?page=²",
        "/estado-de-cuenta/?page=٣",
        "/facturas/?page=99",
        "/estado-de-cuenta/?page=-1",
        "/facturas/999999/",
        "/facturas/999999/pdf/",
        "/planes/999999/adquirir/",
        "/facturas/abc/",
        "/planes/abc/adquirir/",
    ],
)
def test_bad_pages_and_ids_are_404_not_500(client, laura, url):
    issue(laura.contracts.get())
    client.force_login(laura)
    assert client.get(url).status_code == 404

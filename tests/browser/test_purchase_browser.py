"""Planes prepago → Adquirir → OxxoPay → the reference page; the store's settlement file
pays it; Inicio shows the credit days grown by the plan's period."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect
from pytest_httpserver import HTTPServer

from payments.models import GatewayAccount, Payment
from tests.factories import ContractFactory, PlanFactory, ProviderFactory, UserFactory, ZoneFactory
from tests.payments.test_oxxopay import PRIVATE_KEY, FakeOxxoPay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "una-clave-larga-2026"


@pytest.fixture
def oxxopay():
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield FakeOxxoPay(server)
    server.clear()
    server.stop()


@pytest.fixture
def subscriber(oxxopay):
    kona = ProviderFactory(code="111", name="KONA", handle_domain="kona")
    zone = ZoneFactory(provider=kona, name="Norte")
    basic = PlanFactory(
        provider=kona, name="Plan Básico", price=Decimal("250.00"), period_days=30, download_mbps=10
    )
    advanced = PlanFactory(
        provider=kona,
        name="Plan Avanzado",
        price=Decimal("350.00"),
        period_days=30,
        download_mbps=20,
    )
    basic.zones.add(zone)
    advanced.zones.add(zone)
    user = UserFactory(provider=kona, username="juan@kona")
    user.set_password(PASSWORD)
    user.save()
    ContractFactory(
        provider=kona,
        number="1002",
        user=user,
        zone=zone,
        plan=basic,
        paid_until=kona.today() + datetime.timedelta(days=5),
    )
    account = GatewayAccount(
        provider=kona, gateway="oxxopay", expiry_days=3, base_url=oxxopay.server.url_for("")
    )
    account.credentials = {"private_key": PRIVATE_KEY}
    account.save()
    return user


def test_buy_a_plan_with_oxxopay_and_see_credit_days_grow_once_settled(
    phone_page, subscriber, tmp_path
):
    page = phone_page
    page.goto("/accounts/login/")
    page.get_by_label("Cuenta", exact=True).fill("juan@kona")
    page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="INGRESAR").click()
    expect(page.get_by_test_id("credit-days").locator("strong")).to_have_text("5")

    page.get_by_role("link", name="Planes prepago").first.click()
    expect(page.get_by_role("heading", name="Planes prepago")).to_be_visible()
    plan_card = page.get_by_test_id("plan").filter(has_text="Plan Básico")
    expect(plan_card).to_contain_text("10 Mb")
    plan_card.get_by_role("link", name="Adquirir").click()

    expect(page.get_by_role("heading", name="Adquirir")).to_be_visible()
    page.get_by_role("button", name="OxxoPay").click()

    expect(page.get_by_role("heading", name="OxxoPay")).to_be_visible()
    shown = page.get_by_test_id("reference").inner_text().strip()
    assert shown.count(" ") == 3  # grouped in fours for reading aloud: 9300 0123 4567 89
    reference = shown.replace(" ", "")
    assert len(reference) == 14 and reference.isdigit()
    expect(page.get_by_test_id("amount")).to_have_text("$250.00")
    expect(page.get_by_text("Acude a cualquier tienda OXXO.")).to_be_visible()
    expect(page.locator(".barcode svg")).to_be_visible()
    assert Payment.objects.get().reference == reference

    # The store's file arrives: the payments team imports it.
    settlement = tmp_path / "oxxo.csv"
    paid_at = timezone.now().isoformat(timespec="seconds")
    settlement.write_text(
        f"reference,amount,paid_at,folio\n{reference},250.00,{paid_at},F-0001\n", encoding="utf-8"
    )
    call_command("import_settlement", "--provider", "111", str(settlement))

    page.get_by_role("link", name="Inicio").first.click()
    expect(page.get_by_test_id("credit-days").locator("strong")).to_have_text("35")
    expect(page.get_by_test_id("pending-payments")).to_have_count(0)


def test_pages_run_under_the_content_security_policy_with_nothing_refused(phone_page, subscriber):
    """The static script loads, the language changes with the footer's Cambiar (not on
    selecting, WCAG 3.2.2), and the browser refuses nothing on the subscriber's pages."""
    refused = []
    phone_page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    phone_page.goto("/accounts/login/")
    phone_page.fill("input[name=login]", "juan@kona")
    phone_page.fill("input[name=password]", PASSWORD)
    phone_page.click("button[type=submit], input[type=submit]")
    expect(phone_page.locator("nav.menu")).to_contain_text("Inicio")
    for url in ("/", "/servicios/", "/planes/", "/estado-de-cuenta/", "/cuenta/"):
        phone_page.goto(url)

    phone_page.select_option("select[name=language]", "en")
    expect(phone_page.locator("nav.menu")).to_contain_text("Inicio")  # nothing yet
    phone_page.locator("footer").get_by_role("button").click()

    expect(phone_page.locator("nav.menu")).to_contain_text("Home")
    assert refused == []

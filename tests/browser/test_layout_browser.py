"""The layout on a 360 px phone and a 1280 px desktop, in a real browser: no subscriber page
and no page of the agents' console is wider than the screen, amounts stay whole on one
line, phones get a bottom tab bar and desktops a side navigation with the current page
marked, and «Salir» in the top bar signs out, without JavaScript too.

Screenshots of Inicio and Facturas (phone and desktop) are written to the directory named
by LAYOUT_SCREENSHOTS when it is set (docs/screenshots for the README); `pytest -s` prints
the width of every page measured.
"""

import datetime
import os
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from accounts.roles import SUPPORT_ROLE
from billing.models import LedgerEntry
from billing.services import invoices_settle, ledger_record
from payments.models import Payment
from tests.billing.factories import issue
from tests.factories import (
    PASSWORD,
    ContractFactory,
    PlanFactory,
    ProviderFactory,
    UserFactory,
    ZoneFactory,
    staff_of,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
SCREENSHOTS = os.environ.get("LAYOUT_SCREENSHOTS")

# The page's width, and every amount that reaches past the right edge or breaks over two
# lines ("$" on one, the number on the next).
MEASURE_JS = """
() => {
  const doc = document.documentElement;
  const edge = Math.min(window.innerWidth, doc.clientWidth);
  const describe = el => el.tagName.toLowerCase()
    + (el.classList.length ? '.' + [...el.classList].join('.') : '')
    + ' "' + el.textContent.trim().slice(0, 30) + '"';
  const past = [...document.body.querySelectorAll('*')].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > edge + 1;
  });
  const culprits = past
    .filter(el => !past.some(other => other !== el && el.contains(other)))
    .slice(0, 6)
    .map(el => describe(el) + ' right=' + Math.round(el.getBoundingClientRect().right));
  const amounts = [...document.querySelectorAll('.money')];
  const broken = amounts.filter(el => {
    if (!el.getClientRects().length) return false;
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].map(box => Math.round(box.top)));
    return lines.size > 1 || el.getBoundingClientRect().right > edge + 1;
  }).map(describe);
  return {
    scrollWidth: doc.scrollWidth,
    innerWidth: window.innerWidth,
    culprits,
    amounts: amounts.length,
    broken,
  };
}
"""


@pytest.fixture(autouse=True)
def _admin_without_totp(settings):
    # As in test_admin_browser: the console's TOTP rule has tests of its own.
    settings.ADMIN_REQUIRE_MFA = False


@pytest.fixture
def kona():
    return ProviderFactory(code="111", name="KONA", handle_domain="kona")


@pytest.fixture
def prepaid(kona):
    """juan@kona, prepaid, with plans in his zone, payments in his statement and a pending
    reference; amounts in the tens of thousands."""
    zone = ZoneFactory(provider=kona, name="Norte")
    plan = PlanFactory(provider=kona, name="Plan Avanzado 30 Mb", price=Decimal("12590.00"))
    PlanFactory(provider=kona, name="Plan Básico", price=Decimal("250.00")).zones.add(zone)
    plan.zones.add(zone)
    user = UserFactory(provider=kona, username="juan@kona")
    contract = ContractFactory(
        provider=kona,
        number="1002",
        user=user,
        zone=zone,
        plan=plan,
        paid_until=kona.today() + datetime.timedelta(days=12),
    )
    for days_ago in (40, 10):
        ledger_record(
            contract=contract,
            kind=LedgerEntry.Kind.PAYMENT,
            amount=Decimal("12590.00"),
            description="Pago en OXXO del Plan Avanzado 30 Mb, 30 días",
            occurred_on=kona.today() - datetime.timedelta(days=days_ago),
        )
    payment = Payment.objects.create(
        provider=kona,
        contract=contract,
        gateway="reference",
        plan=plan,
        amount=Decimal("12590.00"),
        currency="MXN",
        reference="11100000000018",
        expires_at=timezone.now() + datetime.timedelta(days=3),
    )
    return {"user": user, "contract": contract, "payment": payment}


@pytest.fixture
def postpaid(interatos):
    """laura@interatos, postpaid, with five invoices of $ 12.590,00: paid, overdue, open."""
    plan = PlanFactory(
        provider=interatos,
        name="PLAN 30 MEGAS",
        price=Decimal("12590.00"),
        billing_mode="postpaid",
    )
    user = UserFactory(provider=interatos, username="laura@interatos")
    contract = ContractFactory(
        provider=interatos,
        number="2002",
        user=user,
        plan=plan,
        billing_mode="postpaid",
        paid_until=None,
    )
    today = interatos.today()
    invoices = [
        issue(
            contract,
            amount="12590.00",
            issue_date=today - datetime.timedelta(days=30 * months + 5),
            description="PLAN 30 MEGAS, servicio de internet inalámbrico del mes",
        )
        for months in (4, 3, 2, 1, 0)
    ]
    for invoice in invoices[:3]:
        ledger_record(
            contract=contract,
            kind=LedgerEntry.Kind.PAYMENT,
            amount=invoice.total,
            description="Pago",
            invoice_id=invoice.pk,
        )
        invoices_settle(credits=[(contract.pk, invoice.total)])
    return {"user": user, "contract": contract, "invoices": invoices}


def _subscriber_paths(fixture) -> dict[str, str]:
    """{path: the label of the menu entry marked as the current page}."""
    contract = fixture["contract"]
    paths = {"/": "Inicio", "/servicios/": "Servicios", "/estado-de-cuenta/": "Estado de cuenta"}
    if contract.billing_mode == "prepaid":
        paths["/facturas/"] = "Facturas"
        paths["/planes/"] = "Planes"
        paths[f"/planes/{contract.plan_id}/adquirir/"] = "Planes"
        paths[f"/pagos/{fixture['payment'].public_id}/"] = "Estado de cuenta"
        paths["/pagos/"] = "Estado de cuenta"
    else:
        newest = fixture["invoices"][-1]
        paths["/facturas/"] = "Facturas"
        paths[f"/facturas/{newest.number}/"] = "Facturas"
        paths[f"/facturas/{newest.number}/pagar/"] = "Facturas"
    paths["/soporte/"] = "Soporte"
    paths["/cuenta/"] = "Mi cuenta"
    return paths


def _context(browser, live_server, viewport, *, javascript: bool = True):
    phone = viewport["width"] < 900
    context = browser.new_context(
        base_url=live_server.url,
        viewport=viewport,
        device_scale_factor=2 if phone else 1,
        is_mobile=phone,
        has_touch=phone,
        java_script_enabled=javascript,
        locale="es-MX",
        timezone_id="America/Mexico_City",
    )
    context.set_default_timeout(10_000)
    return context


def _sign_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Cuenta", exact=True).fill(username)
    page.get_by_label("Contraseña", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="INGRESAR").click()
    expect(page.locator("nav.menu")).to_be_visible()


def _staff_context(browser, live_server, viewport, user):
    """Staff sign in through a session cookie from force_login, as in test_admin_browser."""
    client = Client()
    client.force_login(user)
    context = _context(browser, live_server, viewport)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": urlsplit(live_server.url).hostname,
                "path": "/",
            }
        ]
    )
    return context


def _problems(page, path: str, viewport) -> list[str]:
    measure = page.evaluate(MEASURE_JS)
    print(f"{viewport['width']}px {path}: {measure['scrollWidth']}px wide")  # noqa: T201
    problems = []
    # On a phone a page too wide widens the layout viewport (innerWidth) with it.
    width = viewport["width"]
    if measure["scrollWidth"] > measure["innerWidth"] or measure["innerWidth"] != width:
        problems.append(
            f"{viewport['width']}px {path}: {measure['scrollWidth']}px wide, "
            f"past the edge: {measure['culprits']}"
        )
    if measure["broken"]:
        problems.append(f"{viewport['width']}px {path}: amounts cut or broken {measure['broken']}")
    return problems


def _visit(page, path: str) -> None:
    response = page.goto(path)
    assert response is not None and response.status == 200, (path, response and response.status)
    assert urlsplit(page.url).path == path, f"{path} → {page.url}"


def test_subscriber_pages_fit_a_phone_and_a_desktop(
    chromium_browser, live_server, prepaid, postpaid
):
    problems = []
    for fixture in (prepaid, postpaid):
        for viewport in (PHONE, DESKTOP):
            context = _context(chromium_browser, live_server, viewport)
            page = context.new_page()
            try:
                _sign_in(page, fixture["user"].username)
                for path in _subscriber_paths(fixture):
                    _visit(page, path)
                    problems += _problems(page, path, viewport)
                    # Every amount is marked, so the check above saw them all.
                    without_amounts = {"/soporte/", "/cuenta/"}
                    if fixture is prepaid:
                        without_amounts.add("/facturas/")  # prepaid: no invoices
                    if path not in without_amounts:
                        assert page.evaluate(MEASURE_JS)["amounts"] > 0, path
                    if SCREENSHOTS and fixture is postpaid and path in ("/", "/facturas/"):
                        kind = "phone" if viewport is PHONE else "desktop"
                        name = "inicio" if path == "/" else "facturas"
                        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=f"{SCREENSHOTS}/{name}-{kind}.png")
            finally:
                context.close()
    assert not problems, "\n".join(problems)


def test_facturas_shows_every_invoice_with_whole_amounts_and_its_status(
    chromium_browser, live_server, postpaid
):
    context = _context(chromium_browser, live_server, PHONE)
    page = context.new_page()
    try:
        _sign_in(page, "laura@interatos")
        _visit(page, "/facturas/")
        rows = page.get_by_test_id("invoice")
        expect(rows).to_have_count(5)
        expect(rows.first).to_contain_text("$ 12.590,00")
        expect(rows.first.locator(".badge")).to_have_text("IMPAGA")
        expect(rows.nth(1).locator(".badge")).to_have_text("VENCIDA")
        expect(rows.last.locator(".badge")).to_have_text("PAGADA")
        # Each card is whole inside the screen.
        for row in rows.all():
            box = row.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["prepaid", "postpaid"])
def test_phone_tab_bar_marks_the_current_page(chromium_browser, live_server, mode, request):
    fixture = request.getfixturevalue(mode)
    context = _context(chromium_browser, live_server, PHONE)
    page = context.new_page()
    try:
        _sign_in(page, fixture["user"].username)
        menu = page.locator("nav.menu")
        tabs = menu.get_by_role("link")
        # The tab bar: the main entries, by the contract's billing mode.
        expected = (
            ["Inicio", "Estado de cuenta", "Planes", "Soporte", "Mi cuenta"]
            if mode == "prepaid"
            else ["Inicio", "Facturas", "Soporte", "Mi cuenta"]
        )
        expect(tabs).to_have_text(expected)
        box = menu.bounding_box()
        assert box["y"] + box["height"] == pytest.approx(PHONE["height"], abs=1), box
        assert box["width"] == PHONE["width"], box
        for tab in tabs.all():
            tab_box = tab.bounding_box()
            assert tab_box["height"] >= 48 and tab_box["width"] >= 48, tab_box
        for path, label in _subscriber_paths(fixture).items():
            _visit(page, path)
            expect(menu).to_be_in_viewport()
            current = menu.locator("[aria-current=page]")
            expect(current).to_have_count(1)
            expect(current).to_have_text(label)
            expect(current).to_be_visible()
            expect(current).to_be_in_viewport()
        # The tab bar does not cover the end of the page: the footer can be scrolled to.
        footer = page.locator("footer select")
        footer.scroll_into_view_if_needed()
        footer_box = footer.bounding_box()
        assert footer_box["y"] + footer_box["height"] <= menu.bounding_box()["y"], footer_box
    finally:
        context.close()


@pytest.mark.parametrize("mode", ["prepaid", "postpaid"])
def test_desktop_side_navigation_has_every_entry(chromium_browser, live_server, mode, request):
    fixture = request.getfixturevalue(mode)
    context = _context(chromium_browser, live_server, DESKTOP)
    page = context.new_page()
    try:
        _sign_in(page, fixture["user"].username)
        menu = page.locator("nav.menu")
        entries = ["Inicio", "Servicios", "Estado de cuenta", "Facturas"]
        entries += ["Planes"] if mode == "prepaid" else []
        expect(menu.get_by_role("link")).to_have_text([*entries, "Soporte", "Mi cuenta"])
        box = menu.bounding_box()
        main = page.locator("main").bounding_box()
        assert box["x"] + box["width"] <= main["x"], (box, main)
        _visit(page, "/servicios/")
        expect(menu.locator("[aria-current=page]")).to_have_text("Servicios")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_salir_in_the_top_bar_signs_out_without_javascript(
    chromium_browser, live_server, postpaid, viewport
):
    context = _context(chromium_browser, live_server, viewport, javascript=False)
    page = context.new_page()
    try:
        _sign_in(page, "laura@interatos")
        _visit(page, "/facturas/")
        sign_out = page.locator("header").get_by_role("button", name="Salir")
        expect(sign_out).to_be_visible()
        expect(sign_out).to_be_in_viewport()
        sign_out.click()
        expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
        expect(page.locator("nav.menu")).to_have_count(0)
        page.goto("/facturas/")
        assert urlsplit(page.url).path == "/accounts/login/", page.url
    finally:
        context.close()


def test_agents_console_fits_a_phone_and_a_desktop(chromium_browser, live_server, prepaid):
    agent = staff_of(prepaid["contract"].provider, SUPPORT_ROLE, username="agente")
    provider = prepaid["contract"].provider
    for name in ("Plan Avanzado 30 Mb, pago adelantado de tres meses", "Reconexión"):
        Payment.objects.create(
            provider=provider,
            contract=prepaid["contract"],
            gateway="reference",
            plan=PlanFactory(provider=provider, name=name),
            amount=Decimal("125900.00"),
            currency="MXN",
            reference=f"1110000000{Payment.objects.count() + 2:04d}",
            expires_at=timezone.now() + datetime.timedelta(days=3),
        )
    payment = prepaid["payment"]
    paths = ["/admin/agentes/", "/admin/agentes/?q=1002", f"/admin/agentes/pagos/{payment.pk}/"]
    problems = []
    for viewport in (PHONE, DESKTOP):
        context = _staff_context(chromium_browser, live_server, viewport, agent)
        page = context.new_page()
        try:
            for path in paths:
                response = page.goto(path)
                assert response.status == 200, (path, response.status)
                problems += _problems(page, path, viewport)
            page.goto("/admin/agentes/?q=1002")
            rows = page.locator("#result_list tbody tr")
            expect(rows).to_have_count(3)
            expect(rows.first).to_contain_text(re.compile(r"\$125,900\.00"))
        finally:
            context.close()
    assert not problems, "\n".join(problems)

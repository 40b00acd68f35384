"""WCAG 2.1 AA on every subscriber page, checked by axe-core in headless Chromium at 360 px
and 1280 px, on seed_demo's two ISPs (their own colours, names and taglines).

Any violation fails, with its rule, the elements and the page. A result axe cannot decide
alone ("incomplete": needs a person to look) fails too unless tests/browser/axe_review.json
lists that page and rule with the reason it was found fine; an entry that no longer
matches anything fails as well, so the list stays true.

axe-core comes from npm, pinned in tests/browser/axe/package-lock.json (`make install`).
"""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts import sms
from billing.models import Invoice
from tests.browser.helpers import (
    AXE_SCRIPT,
    VIEWPORTS,
    axe_results,
    axe_review_load,
    demo_seeded,
    new_context,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REVIEW_FILE = AXE_SCRIPT.parents[3] / "axe_review.json"
SMS_CODE = re.compile(r"\b(\d{6})\b")
KONA = "/p/111"
INTERATOS = "/p/222"


@pytest.fixture
def demo():
    assert AXE_SCRIPT.exists(), (
        f"{AXE_SCRIPT} is missing: run `make install` (npm ci in tests/browser/axe)"
    )
    return demo_seeded()


class Audit:
    """Runs axe on each page visited and gathers what fails, to report it all at once."""

    def __init__(self, viewport_name: str):
        self.viewport_name = viewport_name
        self.review = axe_review_load(REVIEW_FILE)
        self.pages: set[str] = set()
        self.reviewed_seen: set[tuple[str, str]] = set()
        self.problems: list[str] = []

    def check(self, page, name: str) -> None:
        self.pages.add(name)
        results = axe_results(page)
        where = f"[{self.viewport_name}] {name} ({urlsplit(page.url).path})"
        for rule in results["violations"]:
            for node in rule["nodes"]:
                self.problems.append(
                    f"{where}: violation {rule['id']} ({rule['impact']}) at {node['target']}"
                    f" — {rule['help']}. {node['why']}"
                )
        for rule in results["incomplete"]:
            if (name, rule["id"]) in self.review:
                self.reviewed_seen.add((name, rule["id"]))
                continue
            targets = "; ".join(f"{node['target']}: {node['why']}" for node in rule["nodes"])
            self.problems.append(
                f"{where}: needs review {rule['id']} — {rule['help']}. {targets}"
                f" (look, then add page {name!r} and rule {rule['id']!r} with the reason"
                f" to {REVIEW_FILE.name})"
            )

    def visit(self, page, path: str, name: str) -> None:
        response = page.goto(path)
        assert response is not None and response.status == 200, (path, response.status)
        self.check(page, name)

    def assert_clean(self) -> None:
        stale = [
            f"{REVIEW_FILE.name}: page {page!r}, rule {rule!r} no longer needs review: remove it"
            for page, rule in self.review
            if page in self.pages and (page, rule) not in self.reviewed_seen
        ]
        problems = self.problems + stale
        assert not problems, f"{len(problems)} accessibility problem(s):\n" + "\n".join(problems)


@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_signed_out_pages_pass_axe(chromium_browser, live_server, demo, viewport_name):
    audit = Audit(viewport_name)
    context = new_context(chromium_browser, live_server, VIEWPORTS[viewport_name])
    page = context.new_page()
    try:
        audit.visit(page, "/accounts/login/", "Bienvenida")
        audit.visit(page, f"{KONA}/accounts/login/", "Bienvenida (KONA)")
        page.get_by_label("Cuenta", exact=True).fill("juan@kona")
        page.get_by_label("Contraseña", exact=True).fill("no-es-la-clave")
        page.get_by_role("button", name="INGRESAR").click()
        expect(page.get_by_role("alert")).to_be_visible()
        audit.check(page, "Bienvenida, contraseña equivocada")

        audit.visit(page, f"{KONA}/cuenta/crear/", "Crear una cuenta")
        page.get_by_role("button", name="CONTINUAR").click()
        expect(page.locator(".field .error").first).to_be_visible()
        audit.check(page, "Crear una cuenta, campos vacíos")
        page.get_by_label("Contrato", exact=True).fill("1001")
        page.get_by_label("Número", exact=True).fill("55 1234 5678")
        page.get_by_role("button", name="CONTINUAR").click()
        expect(page.get_by_role("heading", name="Código de verificación")).to_be_visible()
        audit.check(page, "Código de verificación")
        assert sms.outbox, "no SMS code was sent"
        code = SMS_CODE.search(sms.outbox[-1].body).group(1)
        page.get_by_label("Código", exact=True).fill(code)
        page.get_by_role("button", name="VERIFICAR").click()
        expect(page.get_by_role("heading", name="Nueva cuenta")).to_be_visible()
        audit.check(page, "Nueva cuenta")

        audit.visit(page, f"{KONA}/cuenta/recuperar/", "Olvidé mi contraseña")
        page.get_by_label("Cuenta", exact=True).fill("juan@kona")
        page.get_by_role("button", name="ENVIAR").click()
        expect(page.get_by_role("heading", name="Código de verificación")).to_be_visible()
        audit.check(page, "Olvidé mi contraseña: código")
        audit.visit(page, "/cuenta/crear/correo/", "Primer ingreso")
        audit.visit(page, f"{KONA}/cuenta/aviso-de-privacidad/", "Aviso de privacidad")
    finally:
        context.close()
    audit.assert_clean()


def _prepaid_pages(page, audit: Audit) -> None:
    for path, name in (
        ("/", "Inicio"),
        ("/servicios/", "Servicios"),
        ("/estado-de-cuenta/", "Estado de cuenta"),
        ("/facturas/", "Facturas (prepago, vacía)"),
        ("/planes/", "Planes"),
    ):
        audit.visit(page, f"{KONA}{path}", f"prepago: {name}")
    page.get_by_test_id("plan").first.get_by_role("link", name="Adquirir").click()
    expect(page.get_by_role("heading", name="Adquirir")).to_be_visible()
    audit.check(page, "prepago: Adquirir")
    page.locator(".methods button").first.click()
    expect(page.get_by_test_id("reference")).to_be_visible()
    audit.check(page, "prepago: Referencia de pago")


def _postpaid_pages(page, audit: Audit) -> None:
    for path, name in (
        ("/", "Inicio"),
        ("/servicios/", "Servicios"),
        ("/estado-de-cuenta/", "Estado de cuenta"),
        ("/facturas/", "Facturas"),
    ):
        audit.visit(page, f"{INTERATOS}{path}", f"pospago: {name}")
    newest = Invoice.objects.filter(contract__number="2002", contract__provider__code="222")
    number = newest.order_by("-issue_date", "-number").values_list("number", flat=True).first()
    audit.visit(page, f"{INTERATOS}/facturas/{number}/", "pospago: Factura")
    page.get_by_role("link", name="PAGAR", exact=True).click()
    expect(page.get_by_role("heading", name="Seleccione el Pago")).to_be_visible()
    audit.check(page, "pospago: PAGAR")
    page.locator(".methods button").first.click()
    expect(page.get_by_test_id("reference")).to_be_visible()
    audit.check(page, "pospago: Referencia de pago")


@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
@pytest.mark.parametrize("mode", ["prepago", "pospago"])
def test_signed_in_pages_pass_axe(chromium_browser, live_server, demo, mode, viewport_name):
    audit = Audit(viewport_name)
    prefix, username = (KONA, "juan@kona") if mode == "prepago" else (INTERATOS, "laura@interatos")
    context = new_context(chromium_browser, live_server, VIEWPORTS[viewport_name])
    page = context.new_page()
    try:
        sign_in(page, f"{prefix}/accounts/login/", username, demo[username])
        if mode == "prepago":
            _prepaid_pages(page, audit)
        else:
            _postpaid_pages(page, audit)
        for path, name in (
            ("/pagos/", "Mis referencias"),
            ("/cuenta/", "Mi cuenta"),
            ("/accounts/password/change/", "Cambiar contraseña"),
            ("/soporte/", "Soporte"),
        ):
            audit.visit(page, f"{prefix}{path}", f"{mode}: {name}")
        # Avisos: GUARDAR, back on Mi cuenta with the confirmation.
        page.goto(f"{prefix}/cuenta/")
        page.locator("#avisos").get_by_role("button", name="GUARDAR").click()
        expect(page.locator(".message.success")).to_be_visible()
        audit.check(page, f"{mode}: Avisos guardados")
    finally:
        context.close()
    audit.assert_clean()

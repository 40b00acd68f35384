"""The two seed guides walked end to end as a new subscriber would, on seed_demo's ISPs, on a
360×740 phone and a 1280×800 desktop.

Seed 000 (KONA's I-WISP App guide) on /p/111/: Crear una cuenta (contract + the phone
registered on it, the SMS code) → Nueva cuenta (titular, dirección; Cuenta, Contraseña,
GUARDAR) → Bienvenida → INGRESAR → Inicio (días de crédito restantes) → Planes prepago →
Adquirir → the payment reference → the payment is confirmed → Inicio shows the credit grown.

Seed 001 (Interatos' Wispro portal guide) on /p/222/: sign in with e-mail and password →
Inicio (ÚLTIMA FACTURA, Balance C/C) → FACTURAS → the IMPAGA invoice → PAGAR
("Seleccione el Pago") → DESCARGAR FACTURA (a PDF).

Every step checks the labels the guides use and that the page does not scroll sideways.
With WALKTHROUGH_SCREENSHOTS=docs/screenshots the key steps are saved there as
seed000-<step>-phone.png, seed001-<step>-desktop.png…; without it nothing is written.
"""

import os
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts import sms
from accounts.models import Contract
from billing.models import Invoice
from payments.models import Payment
from payments.services import PaymentReport, payments_confirm
from tests.browser.helpers import (
    VIEWPORTS,
    assert_fits_the_screen,
    demo_seeded,
    new_context,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = os.environ.get("WALKTHROUGH_SCREENSHOTS")
SMS_CODE = re.compile(r"\b(\d{6})\b")
ROSA_PASSWORD = "Rosa-kona-2026"
# seed_demo's payment method for both ISPs: their self-issued reference, with its label.
KONA_METHOD = "Efectivo en OXXO, 7-Eleven y farmacias"
INTERATOS_METHOD = "Efectivo en Rapipago y Pago Fácil"


class Walk:
    """One seed walked at one screen size: each step is checked to fit the screen, and the
    key ones are photographed when WALKTHROUGH_SCREENSHOTS is set."""

    def __init__(self, page, seed: str, viewport_name: str, portal: str):
        self.page = page
        self.seed = seed
        self.viewport_name = viewport_name
        self.portal = portal

    def step(self, name: str, *, photo: bool = False) -> None:
        # Every step stays on the ISP's own portal.
        assert urlsplit(self.page.url).path.startswith(self.portal), (name, self.page.url)
        assert_fits_the_screen(self.page, VIEWPORTS[self.viewport_name])
        if photo and SCREENSHOTS:
            directory = Path(SCREENSHOTS)
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{self.seed}-{name}-{self.viewport_name}.png"
            # The screen as the subscriber sees it (a full-page capture would paint the
            # phone's fixed tab bar halfway down).
            self.page.screenshot(path=str(path))


def _reference_shown(text: str, reference: str) -> None:
    """The reference as the page shows it: whole, and if spaced, in groups of four digits
    (1113 2417 2894 941) to be read aloud to the cashier."""
    assert text.replace(" ", "") == reference, (text, reference)
    if " " in text:
        groups = text.split(" ")
        assert all(len(group) == 4 for group in groups[:-1]), text
        assert 1 <= len(groups[-1]) <= 4, text


@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_seed_000_kona_claim_buy_a_plan_and_see_the_credit_days(
    chromium_browser, live_server, viewport_name
):
    demo_seeded()
    contract = Contract.objects.get(provider__code="111", number="1001")
    assert contract.user_id is None and contract.credit_days() == 12
    context = new_context(chromium_browser, live_server, VIEWPORTS[viewport_name])
    page = context.new_page()
    walk = Walk(page, "seed000", viewport_name, "/p/111/")
    try:
        # Bienvenida, on KONA's portal.
        page.goto("/p/111/")
        expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
        expect(page.get_by_text("Bienvenido al Portal de Clientes de KONA")).to_be_visible()
        expect(page.locator("header")).to_contain_text("KONA")
        walk.step("bienvenida")

        # Crear una cuenta: the portal knows the Código (111); Contrato and Número, the
        # phone registered at contract time, 10 digits without spaces.
        page.get_by_role("link", name="Crear una cuenta").click()
        expect(page.get_by_role("heading", name="Crear una cuenta")).to_be_visible()
        expect(page.get_by_label("Código", exact=True)).to_have_count(0)
        page.get_by_label("Contrato", exact=True).fill("1001")
        page.get_by_label("Número", exact=True).fill("5512345678")
        walk.step("crear-cuenta", photo=True)
        page.get_by_role("button", name="CONTINUAR").click()

        # The SMS code, sent to the contract's phone.
        expect(page.get_by_role("heading", name="Código de verificación")).to_be_visible()
        expect(page.get_by_role("status")).to_contain_text("enviamos un código por SMS")
        walk.step("codigo")
        assert [message.to for message in sms.outbox] == ["+525512345678"]
        code = SMS_CODE.search(sms.outbox[0].body).group(1)
        page.get_by_label("Código", exact=True).fill(code)
        page.get_by_role("button", name="VERIFICAR").click()

        # Nueva cuenta: titular and dirección on top; Cuenta (nombre@kona), Contraseña,
        # Confirmar contraseña, GUARDAR.
        expect(page.get_by_role("heading", name="Nueva cuenta")).to_be_visible()
        facts = page.locator("dl.facts")
        expect(facts.locator("dt:has-text('Titular') + dd")).to_have_text("Rosa Martínez Ruiz")
        expect(facts.locator("dt:has-text('Dirección de instalación') + dd")).to_have_text(
            "Av. Juárez 120, Centro, CDMX"
        )
        preview = page.locator("p.help", has_text="Tu cuenta será")
        expect(preview).to_have_text("Tu cuenta será nombre@kona.")
        page.get_by_label("Cuenta", exact=True).fill("rosa")
        expect(preview).to_have_text("Tu cuenta será rosa@kona.")  # live, as it is typed
        page.get_by_label("Contraseña", exact=True).fill(ROSA_PASSWORD)
        page.get_by_label("Confirmar contraseña", exact=True).fill(ROSA_PASSWORD)
        walk.step("nueva-cuenta", photo=True)
        page.get_by_role("button", name="GUARDAR").click()

        # Back on Bienvenida: Cuenta + Contraseña, Recordarme, INGRESAR.
        expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
        expect(page.locator(".message.success")).to_contain_text("Tu cuenta rosa@kona está lista")
        walk.step("cuenta-lista")
        page.get_by_label("Cuenta", exact=True).fill("rosa@kona")
        page.get_by_label("Contraseña", exact=True).fill(ROSA_PASSWORD)
        page.get_by_label("Recordarme").check()
        page.get_by_role("button", name="INGRESAR").click()

        # Inicio: días de crédito restantes, contract, titular and the account's name.
        credit = page.get_by_test_id("credit-days")
        expect(credit.locator("strong")).to_have_text("12")
        expect(credit).to_contain_text("días de crédito restantes")
        expect(page.get_by_test_id("contract-number")).to_have_text("1001")
        home_facts = page.locator("dl.facts")
        expect(home_facts.locator("dt:has-text('Titular') + dd")).to_have_text("Rosa Martínez Ruiz")
        expect(home_facts.locator("dt:has-text('Cuenta') + dd")).to_have_text("rosa@kona")
        walk.step("inicio", photo=True)

        # Planes prepago: the plans of her zone, Básico 10 Mb and Avanzado 20 Mb.
        page.get_by_role("link", name="Planes prepago").click()
        expect(page.get_by_role("heading", name="Planes prepago")).to_be_visible()
        plans = page.get_by_test_id("plan")
        expect(plans).to_have_count(2)
        basic = plans.filter(has_text="Plan Básico")
        expect(basic).to_contain_text("10 Mb de descarga")
        expect(basic).to_contain_text("$250.00")
        expect(plans.filter(has_text="Plan Avanzado")).to_contain_text("20 Mb de descarga")
        walk.step("planes")

        # Adquirir: the plan, its price, and how to pay.
        basic.get_by_role("link", name="Adquirir").click()
        expect(page.get_by_role("heading", name="Adquirir")).to_be_visible()
        expect(page.get_by_test_id("price")).to_have_text("$250.00")
        walk.step("adquirir")
        page.get_by_role("button", name=KONA_METHOD).click()

        # The payment reference, its amount and the instructions.
        expect(page.get_by_role("heading", name="Referencia de pago")).to_be_visible()
        payment = Payment.objects.get(contract=contract)
        assert payment.gateway == "reference" and payment.status == "pending"
        _reference_shown(page.get_by_test_id("reference").inner_text().strip(), payment.reference)
        expect(page.get_by_test_id("amount")).to_have_text("$250.00")
        expect(page.get_by_role("heading", name="Cómo pagar")).to_be_visible()
        expect(page.get_by_role("img", name=re.compile("Código de barras"))).to_be_visible()
        walk.step("referencia", photo=True)

        # She pays at the store; the store's report confirms the payment.
        confirmation = payments_confirm(
            reports=[
                PaymentReport(
                    payment_id=payment.pk,
                    amount=Decimal("250.00"),
                    currency="MXN",
                    paid_at=timezone.now(),
                )
            ],
            source="settlement:walkthrough",
        )
        assert len(confirmation) == 1
        payment.refresh_from_db()
        assert payment.status == "paid"

        # Inicio: 12 + 30 días de crédito, and no reference pending any more.
        page.locator("nav.menu").get_by_role("link", name="Inicio").click()
        expect(page.get_by_test_id("credit-days").locator("strong")).to_have_text("42")
        expect(page.get_by_test_id("pending-payments")).to_have_count(0)
        walk.step("credito", photo=True)
        assert Contract.objects.get(pk=contract.pk).credit_days() == 42
    finally:
        context.close()


@pytest.mark.parametrize("viewport_name", list(VIEWPORTS))
def test_seed_001_interatos_sign_in_pay_an_invoice_and_download_it(
    chromium_browser, live_server, viewport_name, tmp_path
):
    logins = demo_seeded()
    contract = Contract.objects.get(provider__code="222", number="2002")
    unpaid = Invoice.objects.filter(contract=contract).order_by("-issue_date", "-number").first()
    context = new_context(chromium_browser, live_server, VIEWPORTS[viewport_name])
    page = context.new_page()
    walk = Walk(page, "seed001", viewport_name, "/p/222/")
    try:
        # The portal's sign-in, with e-mail and password, as the guide says.
        page.goto("/p/222/accounts/login/")
        expect(page.get_by_text("Bienvenido al Portal de Clientes de Interatos")).to_be_visible()
        expect(page.get_by_text("Somos de Calamuchita").first).to_be_visible()
        page.get_by_label("Cuenta", exact=True).fill("laura@example.com")
        page.get_by_label("Contraseña", exact=True).fill(logins["laura@interatos"])
        walk.step("bienvenida")
        page.get_by_role("button", name="Ingresar").click()

        # Inicio: ÚLTIMA FACTURA, IMPAGA, Monto a pagar, Balance C/C.
        last = page.get_by_test_id("last-invoice")
        expect(last.get_by_role("heading", name="ÚLTIMA FACTURA")).to_be_visible()
        facts = last.locator("dl.facts")
        expect(facts.locator("dt:has-text('Fecha de emisión') + dd")).to_be_visible()
        expect(facts.locator("dt:has-text('Fecha de vencimiento') + dd")).to_be_visible()
        expect(facts.locator("dt:has-text('Estado') + dd")).to_have_text("IMPAGA")
        expect(facts.locator("dt:has-text('Monto a pagar') + dd")).to_have_text("$ 2.590,00")
        expect(last).to_contain_text("Balance C/C")
        expect(page.get_by_test_id("balance")).to_have_text("-$ 2.590,00")
        expect(last.get_by_role("link", name="Descargar factura")).to_be_visible()
        walk.step("inicio", photo=True)

        # FACTURAS: every invoice with its number, amount and PAGADA / IMPAGA.
        page.locator("nav.menu").get_by_role("link", name="Facturas").click()
        expect(page.get_by_role("heading", name="Facturas")).to_be_visible()
        rows = page.get_by_test_id("invoice")
        expect(rows).to_have_count(6)
        expect(rows.locator(".badge", has_text="PAGADA")).to_have_count(5)
        impaga = rows.filter(has=page.locator(".badge", has_text="IMPAGA"))
        expect(impaga).to_have_count(1)
        expect(impaga).to_contain_text(f"Factura Nº {unpaid.number}")
        expect(impaga).to_contain_text("$ 2.590,00")
        walk.step("facturas", photo=True)

        # The IMPAGA invoice: Fecha de emisión, Monto a pagar, Monto total, vencimiento,
        # Estado, PAGAR and DESCARGAR FACTURA.
        impaga.get_by_role("link").click()
        expect(page.get_by_role("heading", name=f"Factura Nº {unpaid.number}")).to_be_visible()
        detail = page.locator("dl.facts")
        expect(detail.locator("dt:has-text('Fecha de emisión') + dd")).to_be_visible()
        expect(page.get_by_test_id("amount-due")).to_have_text("$ 2.590,00")
        expect(detail.locator("dt:has-text('Monto total') + dd")).to_have_text("$ 2.590,00")
        expect(detail.locator("dt:has-text('Fecha de vencimiento') + dd")).to_be_visible()
        expect(detail.locator("dt:has-text('Estado') + dd")).to_have_text("IMPAGA")
        expect(page.get_by_role("link", name="DESCARGAR FACTURA")).to_be_visible()
        walk.step("factura", photo=True)

        # PAGAR: "Seleccione el Pago", Vencimiento / Detalle / Importe, and the methods.
        page.get_by_role("link", name="PAGAR", exact=True).click()
        expect(page.get_by_role("heading", name="Seleccione el Pago")).to_be_visible()
        expect(page.locator("table.rows")).to_contain_text("PLAN 6 MEGAS")
        expect(page.get_by_test_id("amount")).to_have_text("$ 2.590,00")
        expect(page.get_by_role("button", name=INTERATOS_METHOD)).to_be_visible()
        walk.step("pagar", photo=True)

        # Back to the invoice: DESCARGAR FACTURA brings its PDF.
        page.go_back()
        expect(page.get_by_role("heading", name=f"Factura Nº {unpaid.number}")).to_be_visible()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="DESCARGAR FACTURA").click()
        download = download_info.value
        assert download.suggested_filename == f"factura-{unpaid.number}.pdf"
        saved = tmp_path / download.suggested_filename
        download.save_as(saved)
        assert saved.read_bytes().startswith(b"%PDF-"), saved.read_bytes()[:20]
        walk.step("descarga")
    finally:
        context.close()

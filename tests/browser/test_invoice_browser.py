"""Postpaid in a real browser, on the demo data: Inicio (ÚLTIMA FACTURA, Balance C/C) →
Ver facturas → the newest invoice (IMPAGA) → DESCARGAR FACTURA → a one-page PDF."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import Contract
from billing.models import Invoice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LIST_SCREENSHOT = Path("/tmp/facturas.png")
DETAIL_SCREENSHOT = Path("/tmp/factura.png")
# The line seed_demo prints for Interatos' postpaid subscriber.
LOGIN_LINE = re.compile(r"Cuenta (laura@interatos)\b.*/ Contraseña (\S+)")


def _ddmmyyyy(value) -> str:
    return value.strftime("%d/%m/%Y")


def _no_sideways_scroll(page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"{page.url} scrolls sideways on a phone: {widths}"


@pytest.fixture
def demo(settings, tmp_path):
    """seed_demo's two ISPs, with the invoice PDFs stored under a temporary MEDIA_ROOT."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    match = LOGIN_LINE.search(out.getvalue())
    assert match, out.getvalue()
    return {"username": match.group(1), "password": match.group(2)}


def test_postpaid_subscriber_sees_and_downloads_invoices(phone_page, demo, tmp_path):
    page = phone_page
    assert demo == {"username": "laura@interatos", "password": "Interatos-demo.2026"}
    contract = Contract.objects.get(provider__code="222", number="2002")
    invoices = list(Invoice.objects.filter(contract=contract).order_by("-issue_date", "-number"))
    assert len(invoices) == 6
    newest, oldest = invoices[0], invoices[-1]

    # Bienvenida → INGRESAR as laura@interatos
    page.goto("/accounts/login/")
    expect(page.get_by_role("heading", name="Bienvenida")).to_be_visible()
    page.get_by_label("Cuenta", exact=True).fill(demo["username"])
    page.get_by_label("Contraseña", exact=True).fill(demo["password"])
    page.get_by_role("button", name="INGRESAR").click()

    # Inicio: ÚLTIMA FACTURA and Balance C/C
    last = page.get_by_test_id("last-invoice")
    expect(last.get_by_role("heading", name="ÚLTIMA FACTURA")).to_be_visible()
    facts = last.locator("dl.facts")
    expect(facts.locator("dt:has-text('Fecha de emisión') + dd")).to_have_text(
        _ddmmyyyy(newest.issue_date)
    )
    expect(facts.locator("dt:has-text('Fecha de vencimiento') + dd")).to_have_text(
        _ddmmyyyy(newest.due_date)
    )
    expect(facts.locator("dt:has-text('Estado') + dd")).to_have_text("IMPAGA")
    expect(facts.locator("dt:has-text('Monto a pagar') + dd")).to_have_text("$ 2.590,00")
    expect(last.locator(".balance")).to_contain_text("Balance C/C")
    expect(page.get_by_test_id("balance")).to_have_text("-$ 2.590,00")
    _no_sideways_scroll(page)

    # Ver facturas → six invoices, newest first; the oldest at the old price, PAGADA
    last.get_by_role("link", name="Ver facturas").click()
    expect(page.get_by_role("heading", name="Facturas")).to_be_visible()
    rows = page.get_by_test_id("invoice")
    expect(rows).to_have_count(6)
    for row, invoice in zip(rows.all(), invoices, strict=True):
        expect(row).to_contain_text(f"Factura Nº {invoice.number}")
    expect(rows.first).to_contain_text("IMPAGA")
    expect(rows.first).to_contain_text("$ 2.590,00")
    expect(rows.last).to_contain_text(f"Factura Nº {oldest.number}")
    expect(rows.last).to_contain_text("$ 2.190,00")
    expect(rows.last).to_contain_text("PAGADA")
    expect(rows.locator(".badge", has_text="PAGADA")).to_have_count(5)
    page.screenshot(path=str(LIST_SCREENSHOT), full_page=True)
    _no_sideways_scroll(page)

    # The newest invoice's detail
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name=f"Factura Nº {newest.number}")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(page.get_by_test_id("amount-due")).to_have_text("$ 2.590,00")
    expect(facts.locator("dt:has-text('Monto total') + dd")).to_have_text("$ 2.590,00")
    expect(facts.locator("dt:has-text('Fecha de vencimiento') + dd")).to_have_text(
        _ddmmyyyy(newest.due_date)
    )
    expect(facts.locator("dt:has-text('Estado') + dd")).to_have_text("IMPAGA")
    # PAGAR: a link to the payment page, or a button while online payment is not offered.
    pay = page.get_by_role("link", name="PAGAR", exact=True).or_(
        page.get_by_role("button", name="PAGAR", exact=True)
    )
    expect(pay).to_be_visible()
    download_link = page.get_by_role("link", name="DESCARGAR FACTURA")
    expect(download_link).to_be_visible()
    page.screenshot(path=str(DETAIL_SCREENSHOT), full_page=True)
    _no_sideways_scroll(page)

    # DESCARGAR FACTURA → factura-<n>.pdf, one page, with the number and the amount
    with page.expect_download() as download_info:
        download_link.click()
    download = download_info.value
    assert download.suggested_filename == f"factura-{newest.number}.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    content = saved.read_bytes()
    assert content.startswith(b"%PDF"), content[:20]
    reader = PdfReader(saved)
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert f"Factura Nº {newest.number}" in text, text
    assert "$ 2.590,00" in text, text

"""Invoices: gapless numbers per ISP, PDFs rendered once and stored."""

import datetime
import io
import threading
from decimal import Decimal

import pytest
from django.db import connection
from pypdf import PdfReader

from billing.models import Invoice
from billing.pdf import invoice_pdf_ensure, invoice_pdf_render
from billing.services import BillingError, invoice_issue
from tests.factories import ContractFactory, ProviderFactory

from .factories import issue


@pytest.mark.django_db
def test_numbers_are_consecutive_per_isp_and_independent_between_isps():
    kona = ContractFactory(provider=ProviderFactory(code="111", handle_domain="kona"))
    interatos = ContractFactory(provider=ProviderFactory(code="222", handle_domain="interatos"))
    numbers = [issue(kona).number, issue(interatos).number, issue(kona).number]
    assert numbers == [1, 1, 2]


@pytest.mark.django_db
def test_a_refused_invoice_takes_no_number():
    contract = ContractFactory()
    with pytest.raises(BillingError):
        invoice_issue(contract=contract, lines=[], due_date=datetime.date(2026, 12, 1))
    with pytest.raises(BillingError):
        issue(contract, amount="0.00")
    with pytest.raises(BillingError):
        issue(contract, due_days=-1)
    assert issue(contract).number == 1


@pytest.mark.django_db
def test_status_paid_open_overdue_and_void():
    contract = ContractFactory()
    invoice = issue(contract, issue_date=datetime.date(2026, 11, 1), due_days=10)
    assert invoice.display_status(today=datetime.date(2026, 11, 11)) == "open"
    assert invoice.display_status(today=datetime.date(2026, 11, 12)) == "overdue"
    assert Invoice.Display("overdue").label == "VENCIDA"
    invoice.amount_paid = invoice.total
    assert invoice.display_status(today=datetime.date(2026, 11, 12)) == "paid"
    assert invoice.amount_due == Decimal("0.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_issuing_leaves_no_gap_and_no_repeat():
    contract = ContractFactory()
    barrier = threading.Barrier(10)
    numbers: list[int] = []

    def worker() -> None:
        barrier.wait()
        try:
            for _ in range(5):
                numbers.append(issue(contract, amount="100.00").number)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(numbers) == list(range(1, 51))
    assert sorted(Invoice.objects.values_list("number", flat=True)) == list(range(1, 51))


@pytest.fixture
def ar_invoice():
    provider = ProviderFactory(
        code="222",
        name="Interatos",
        legal_name="Interatos S.A.S.",
        tax_id="CUIT 30-71234567-8",
        country="AR",
        currency="ARS",
        locale="es_AR",
        currency_format="¤ #,##0.00",
        time_zone="America/Argentina/Cordoba",
    )
    contract = ContractFactory(provider=provider, holder_name="Laura Fernández")
    return issue(
        contract,
        amount="2590.00",
        issue_date=datetime.date(2021, 10, 20),
        description="PLAN 6 MEGAS 20/10/2021 – 19/11/2021",
    )


def _pdf_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.django_db
def test_the_pdf_has_one_page_with_the_number_amount_and_isp(ar_invoice):
    pages, text = _pdf_text(invoice_pdf_render(invoice=ar_invoice))
    assert pages == 1
    assert f"Factura Nº {ar_invoice.number}" in text
    assert "$ 2.590,00" in text
    assert "Interatos S.A.S." in text
    assert "CUIT 30-71234567-8" in text
    assert "Laura Fernández" in text
    assert "20/10/2021" in text
    assert "VENCIDA" in text  # rendered today, long after its due date


@pytest.mark.django_db
def test_the_pdf_is_rendered_once_and_then_served_from_storage(ar_invoice, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    invoice_pdf_ensure(invoice=ar_invoice)
    stored = ar_invoice.pdf.name
    first = (tmp_path / stored).read_bytes()
    again = Invoice.objects.get(pk=ar_invoice.pk)
    invoice_pdf_ensure(invoice=again)
    assert again.pdf.name == stored
    assert (tmp_path / stored).read_bytes() == first
    assert len(list(tmp_path.rglob("*.pdf"))) == 1


@pytest.mark.django_db(transaction=True)
def test_issuing_renders_and_stores_the_pdf_after_commit(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    invoice = issue(ContractFactory())
    invoice.refresh_from_db()
    assert invoice.pdf.name.endswith(f"-{invoice.number}.pdf")
    assert (tmp_path / invoice.pdf.name).read_bytes().startswith(b"%PDF")


@pytest.mark.django_db
def test_the_pdf_fetches_nothing_even_when_a_field_points_elsewhere(ar_invoice):
    from core.pdf import OfflineURLFetcher

    fetcher = OfflineURLFetcher()
    for url in ("http://127.0.0.1:1/x.png", "file:///etc/passwd", "https://example.com/a.css"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
    ar_invoice.contract.holder_name = '<img src="file:///etc/passwd">'
    pages, text = _pdf_text(invoice_pdf_render(invoice=ar_invoice))
    assert pages == 1
    assert "root:" not in text

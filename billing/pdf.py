"""Invoice PDFs with WeasyPrint. Rendered once, stored, served from storage after that.

The document never fetches anything (core.pdf): styles are inline and the logo is a
data: URI.
"""

import base64
import mimetypes

from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML

from core.pdf import OfflineURLFetcher

from .models import Invoice
from .services import invoice_store_pdf


def _logo_data_uri(invoice: Invoice) -> str:
    logo = invoice.provider.logo
    if not logo:
        return ""
    mime = mimetypes.guess_type(logo.name)[0] or "image/png"
    if not mime.startswith("image/"):
        return ""
    with logo.open("rb") as handle:
        return f"data:{mime};base64,{base64.b64encode(handle.read()).decode()}"


def invoice_pdf_render(*, invoice: Invoice) -> bytes:
    provider = invoice.provider
    with translation.override(provider.language):
        html = render_to_string(
            "billing/invoice_pdf.html",
            {
                "invoice": invoice,
                "provider": provider,
                "contract": invoice.contract,
                "lines": list(invoice.lines.all()),
                "logo": _logo_data_uri(invoice),
            },
        )
    return HTML(string=html, url_fetcher=OfflineURLFetcher(fail_on_errors=False)).write_pdf()


def invoice_pdf_ensure(*, invoice: Invoice) -> Invoice:
    """The stored PDF, rendering and storing it first if the issue-time rendering is missing."""
    if not invoice.pdf:
        invoice_store_pdf(invoice=invoice, content=invoice_pdf_render(invoice=invoice))
    return invoice

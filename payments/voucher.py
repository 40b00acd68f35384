"""The printable voucher of a cash reference, as a PDF (WeasyPrint, nothing fetched)."""

from django.template.loader import render_to_string
from weasyprint import HTML

from core.pdf import OfflineURLFetcher

from .codes import barcode_svg
from .models import Payment


def voucher_pdf(*, payment: Payment) -> bytes:
    html = render_to_string(
        "payments/voucher_pdf.html",
        {
            "payment": payment,
            "provider": payment.provider,
            "barcode": barcode_svg(payment.reference),
        },
    )
    return HTML(string=html, url_fetcher=OfflineURLFetcher()).write_pdf()

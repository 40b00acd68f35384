from core.outbox import outbox_task

from .models import Invoice


@outbox_task
def invoice_pdf_render(*, invoice_id: int) -> None:
    """Render and store an issued invoice's PDF (from the worker, after the issue)."""
    from .pdf import invoice_pdf_ensure

    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is not None:
        invoice_pdf_ensure(invoice=invoice)

from celery import shared_task

from .models import Invoice


@shared_task
def invoice_render_pdf(invoice_id: int) -> None:
    from .pdf import invoice_pdf_ensure

    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is not None:
        invoice_pdf_ensure(invoice=invoice)

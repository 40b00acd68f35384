from celery import shared_task

from accounts.models import Provider
from core.jobs import job_lock
from core.outbox import outbox_task

from .models import Invoice


@outbox_task
def invoice_pdf_render(*, invoice_id: int) -> None:
    """Render and store an issued invoice's PDF (from the worker, after the issue)."""
    from .pdf import invoice_pdf_ensure

    invoice = Invoice.objects.filter(pk=invoice_id).first()
    if invoice is not None:
        invoice_pdf_ensure(invoice=invoice)


@shared_task(ignore_result=True)
def recompute_validity_task(provider_code: str | None = None) -> int | None:
    """The beat's recompute of every contract (or one ISP's), one run at a time."""
    from .recompute import contracts_recompute

    with job_lock("recompute_validity") as held:
        if not held:
            return None
        provider = Provider.objects.get(code=provider_code) if provider_code else None
        return contracts_recompute(provider=provider)


@shared_task(ignore_result=True)
def network_deliveries_send_task() -> int | None:
    """The beat's sending of what the ISPs' networks have not heard yet."""
    from .network import network_deliveries_send

    with job_lock("network_deliveries_send") as held:
        return network_deliveries_send() if held else None


@shared_task(ignore_result=True)
def invoices_issue_task() -> int | None:
    """The beat's postpaid invoicing for each ISP's today (hourly; once per period)."""
    from .invoicing import invoices_issue_due

    with job_lock("invoices_issue") as held:
        return invoices_issue_due() if held else None

"""Estado de cuenta, Facturas, an invoice's detail and its PDF."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.pagination import page_get
from core.tenancy import request_contracts

from .pdf import invoice_pdf_ensure
from .selectors import invoice_for_user, invoice_lines, invoices_for, statement_entries

PAGE_SIZE = 20


def _current_contract(request: HttpRequest):
    _contracts, contract = request_contracts(request)
    if contract is None:
        raise Http404
    return contract


@login_required
def statement(request: HttpRequest) -> HttpResponse:
    contract = _current_contract(request)
    page = page_get(
        request, lambda rows: statement_entries(contract=contract, rows=rows), size=PAGE_SIZE
    )
    balance = page.object_list[0].running_balance if page.number == 1 and page.object_list else None
    return render(request, "billing/statement.html", {"page": page, "balance": balance})


@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    contract = _current_contract(request)
    page = page_get(
        request, lambda rows: invoices_for(contract=contract, rows=rows), size=PAGE_SIZE
    )
    return render(request, "billing/invoice_list.html", {"page": page})


@login_required
def invoice_detail(request: HttpRequest, number: int) -> HttpResponse:
    invoice = invoice_for_user(user=request.user, number=number)
    if invoice is None:
        raise Http404
    lines = invoice_lines(invoice=invoice)
    return render(request, "billing/invoice_detail.html", {"invoice": invoice, "lines": lines})


@login_required
def invoice_pdf(request: HttpRequest, number: int) -> FileResponse:
    invoice = invoice_for_user(user=request.user, number=number)
    if invoice is None:
        raise Http404
    invoice_pdf_ensure(invoice=invoice)
    return FileResponse(
        invoice.pdf.open("rb"),
        as_attachment=True,
        filename=f"factura-{invoice.number}.pdf",
        content_type="application/pdf",
    )

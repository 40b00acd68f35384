"""Staff: issue and void invoices, read the ledger, record manual adjustments.

Nothing here deletes or edits money: every change goes through a service that writes
a ledger entry with who and why.
"""

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from .forms import AdjustmentForm, InvoiceIssueForm, ReasonForm
from .models import Invoice, InvoiceLine, LedgerEntry, ServicePeriod
from .services import (
    BillingError,
    LineSpec,
    invoice_issue,
    invoice_void,
    ledger_adjust,
    ledger_reverse,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["description", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


def _form_page(request, admin_site, *, title, form, status=200, obj=None):
    context = {
        **admin_site.each_context(request),
        "title": title,
        "form": form,
        "object": obj,
        "opts": Invoice._meta,
    }
    return TemplateResponse(request, "admin/billing/form_page.html", context, status=status)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "provider",
        "contract",
        "issue_date",
        "due_date",
        "total",
        "amount_paid",
        "status",
    ]
    list_filter = ["provider", "status", "issue_date"]
    list_select_related = ["provider", "contract"]
    search_fields = ["=number", "contract__number", "contract__holder_name"]
    inlines = [InvoiceLineInline]
    readonly_fields = [f.name for f in Invoice._meta.fields]

    def get_urls(self):
        return [
            path(
                "emitir/", self.admin_site.admin_view(self.issue_view), name="billing_invoice_issue"
            ),
            path(
                "<int:pk>/anular/",
                self.admin_site.admin_view(self.void_view),
                name="billing_invoice_void",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "issue_url": reverse("admin:billing_invoice_issue"),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "void_url": reverse("admin:billing_invoice_void", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("billing.add_invoice"):
            return HttpResponse(status=403)
        form = InvoiceIssueForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                invoice = invoice_issue(
                    contract=data["contract"],
                    lines=[LineSpec(description=data["description"], amount=data["amount"])],
                    issue_date=data["issue_date"],
                    due_date=data["due_date"],
                    period_start=data["period_start"],
                    period_end=data["period_end"],
                    created_by=request.user,
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Emitida la factura Nº %s.") % invoice.number)
                return HttpResponseRedirect(
                    reverse("admin:billing_invoice_change", args=[invoice.pk])
                )
        status = 400 if request.method == "POST" else 200
        return _form_page(
            request, self.admin_site, title=_("Emitir factura"), form=form, status=status
        )

    def void_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("billing.change_invoice"):
            return HttpResponse(status=403)
        invoice = get_object_or_404(Invoice, pk=pk)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                invoice_void(
                    invoice=invoice, reason=form.cleaned_data["reason"], created_by=request.user
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Anulada la factura Nº %s.") % invoice.number)
                return HttpResponseRedirect(reverse("admin:billing_invoice_change", args=[pk]))
        status = 400 if request.method == "POST" else 200
        return _form_page(
            request,
            self.admin_site,
            title=_("Anular %s") % invoice,
            form=form,
            status=status,
            obj=invoice,
        )


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_on",
        "contract",
        "kind",
        "amount",
        "currency",
        "description",
        "created_by",
        "reason",
    ]
    list_filter = ["provider", "kind", "occurred_on"]
    list_select_related = ["contract", "created_by"]
    search_fields = ["contract__number", "contract__holder_name", "description", "reason"]
    readonly_fields = [f.name for f in LedgerEntry._meta.fields]

    def get_urls(self):
        return [
            path(
                "ajuste/",
                self.admin_site.admin_view(self.adjust_view),
                name="billing_ledgerentry_adjust",
            ),
            path(
                "<int:pk>/revertir/",
                self.admin_site.admin_view(self.reverse_view),
                name="billing_ledgerentry_reverse",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "adjust_url": reverse("admin:billing_ledgerentry_adjust"),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "reverse_url": reverse("admin:billing_ledgerentry_reverse", args=[object_id]),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        if not request.user.has_perm("billing.add_ledgerentry"):
            return HttpResponse(status=403)
        form = AdjustmentForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                ledger_adjust(
                    contract=form.cleaned_data["contract"],
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    created_by=request.user,
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Ajuste registrado."))
                return HttpResponseRedirect(reverse("admin:billing_ledgerentry_changelist"))
        status = 400 if request.method == "POST" else 200
        return _form_page(
            request, self.admin_site, title=_("Ajuste manual"), form=form, status=status
        )

    def reverse_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("billing.add_ledgerentry"):
            return HttpResponse(status=403)
        entry = get_object_or_404(LedgerEntry, pk=pk)
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                ledger_reverse(
                    entry=entry, created_by=request.user, reason=form.cleaned_data["reason"]
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Movimiento revertido."))
                return HttpResponseRedirect(reverse("admin:billing_ledgerentry_changelist"))
        status = 400 if request.method == "POST" else 200
        return _form_page(
            request,
            self.admin_site,
            title=_("Revertir %s") % entry,
            form=form,
            status=status,
            obj=entry,
        )


@admin.register(ServicePeriod)
class ServicePeriodAdmin(ReadOnlyAdmin):
    list_display = ["contract", "plan", "starts_on", "ends_on", "description"]
    list_select_related = ["contract", "plan"]
    search_fields = ["contract__number"]

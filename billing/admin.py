"""Staff: issue and void invoices, read the ledger, record manual adjustments.

Nothing here deletes or edits money: every change goes through a service that writes
a ledger entry with who and why.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Contract
from core.admin import TenantAdmin, TenantInlineMixin
from core.money import money_format
from core.tenancy import rows_for_staff

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


class ReadOnlyAdmin(TenantAdmin):
    """Money rows are written by billing.services only; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def form_page(
        self,
        request: HttpRequest,
        *,
        title: str,
        form,
        details: list[tuple[str, object]] | None = None,
    ) -> TemplateResponse:
        """One of our own pages, inside the admin; a refused POST answers 400."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "details": details or [],
            "media": self.media + form.media,
        }
        status = 400 if request.method == "POST" else 200
        return TemplateResponse(request, "admin/billing/form_page.html", context, status=status)


class InvoiceLineInline(TenantInlineMixin, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    readonly_fields = ["description", "amount"]

    def has_add_permission(self, request, obj=None):
        return False


def _posted(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _contracts_for(request: HttpRequest):
    """The contracts a staff member may bill: their ISP's."""
    return rows_for_staff(Contract.objects.select_related("provider"), user=request.user)


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "provider", "contract", "issue_date", "due_date", "total", "state"]
    list_filter = ["provider", "status", "issue_date"]
    list_select_related = ["provider", "contract"]
    search_fields = ["=number", "contract__number", "contract__holder_name"]
    inlines = [InvoiceLineInline]
    readonly_fields = [f.name for f in Invoice._meta.fields]

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take "emitir/".
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

    @admin.display(description=gettext_lazy("estado"))
    def state(self, invoice: Invoice) -> str:
        """PAGADA / IMPAGA / VENCIDA / ANULADA, as the subscriber reads it."""
        return invoice.display_status_label

    def has_issue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.add_invoice")

    def has_void_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("billing.change_invoice")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "issue_url": (
                reverse("admin:billing_invoice_issue")
                if self.has_issue_permission(request)
                else None
            ),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "void_url": (
                reverse("admin:billing_invoice_void", args=[unquote(object_id)])
                if self.has_void_permission(request)
                else None
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def issue_view(self, request: HttpRequest) -> HttpResponse:
        """ "Emitir factura": one line, its charge in the ledger, issued by this staff user."""
        if not self.has_issue_permission(request):
            raise PermissionDenied
        form = InvoiceIssueForm(
            _posted(request), admin_site=self.admin_site, contracts=_contracts_for(request)
        )
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
                self.message_user(
                    request,
                    _("Factura Nº %(number)s emitida.") % {"number": invoice.number},
                    messages.SUCCESS,
                )
                return redirect("admin:billing_invoice_change", invoice.pk)
        return self.form_page(request, title=_("Emitir factura"), form=form)

    def void_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """ "Anular": the invoice stays, with its reason; its charge is reversed."""
        if not self.has_void_permission(request):
            raise PermissionDenied
        invoice = self.get_object(request, str(pk))
        form = ReasonForm(_posted(request))
        if request.method == "POST" and form.is_valid():
            try:
                invoice_void(
                    invoice=invoice, reason=form.cleaned_data["reason"], created_by=request.user
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request,
                    _("Factura Nº %(number)s anulada.") % {"number": invoice.number},
                    messages.SUCCESS,
                )
                return redirect("admin:billing_invoice_change", invoice.pk)
        return self.form_page(
            request,
            title=_("Anular la factura Nº %(number)s") % {"number": invoice.number},
            form=form,
            details=[
                (_("Contrato"), invoice.contract),
                (_("Monto total"), money_format(invoice.total, provider=invoice.provider)),
                (_("Estado"), invoice.get_status_display()),
            ],
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

    def has_record_permission(self, request: HttpRequest) -> bool:
        """Adjusting and reversing both append an entry."""
        return request.user.has_perm("billing.add_ledgerentry")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "adjust_url": (
                reverse("admin:billing_ledgerentry_adjust")
                if self.has_record_permission(request)
                else None
            ),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        entry = self.get_object(request, unquote(object_id))
        can_reverse = (
            entry is not None
            and self.has_record_permission(request)
            and entry.kind != LedgerEntry.Kind.REVERSAL
            and not LedgerEntry.objects.filter(reverses=entry).exists()
        )
        extra_context = {
            **(extra_context or {}),
            "reverse_url": (
                reverse("admin:billing_ledgerentry_reverse", args=[entry.pk])
                if can_reverse
                else None
            ),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def adjust_view(self, request: HttpRequest) -> HttpResponse:
        """ "Ajuste manual": an entry with amount, reason and the staff user who wrote it."""
        if not self.has_record_permission(request):
            raise PermissionDenied
        form = AdjustmentForm(
            _posted(request), admin_site=self.admin_site, contracts=_contracts_for(request)
        )
        if request.method == "POST" and form.is_valid():
            contract = form.cleaned_data["contract"]
            try:
                entry = ledger_adjust(
                    contract=contract,
                    amount=form.cleaned_data["amount"],
                    reason=form.cleaned_data["reason"],
                    created_by=request.user,
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request,
                    _("Ajuste de %(amount)s registrado en el contrato %(number)s.")
                    % {
                        "amount": money_format(entry.amount, provider=contract.provider),
                        "number": contract.number,
                    },
                    messages.SUCCESS,
                )
                return redirect("admin:billing_ledgerentry_changelist")
        return self.form_page(request, title=_("Ajuste manual"), form=form)

    def reverse_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """ "Revertir": an opposite entry with who and why; an entry is reversed once."""
        if not self.has_record_permission(request):
            raise PermissionDenied
        entry = self.get_object(request, str(pk))
        form = ReasonForm(_posted(request))
        if request.method == "POST" and form.is_valid():
            try:
                ledger_reverse(
                    entry=entry, created_by=request.user, reason=form.cleaned_data["reason"]
                )
            except BillingError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request,
                    _("Movimiento revertido: %(description)s.")
                    % {"description": entry.description},
                    messages.SUCCESS,
                )
                return redirect("admin:billing_ledgerentry_changelist")
        return self.form_page(
            request,
            title=_("Revertir un movimiento"),
            form=form,
            details=[
                (_("Contrato"), entry.contract),
                (_("Fecha"), entry.occurred_on),
                (_("Concepto"), entry.description),
                (
                    _("Importe"),
                    money_format(entry.amount, provider=entry.contract.provider),
                ),
            ],
        )


@admin.register(ServicePeriod)
class ServicePeriodAdmin(ReadOnlyAdmin):
    list_display = ["contract", "plan", "starts_on", "ends_on", "description"]
    list_select_related = ["contract", "plan"]
    search_fields = ["contract__number"]

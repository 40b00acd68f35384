"""Staff: issue and void invoices, read the ledger, record manual adjustments.

Nothing here deletes or edits money: every change goes through a service that writes
a ledger entry with who and why.
"""

import base64
import binascii
import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Contract, Provider
from accounts.services import contracts_phone_changed_notify
from core.admin import TenantAdmin, TenantInlineMixin
from core.money import money_format
from core.tenancy import rows_for_staff
from notifications.services import contracts_invite

from .forms import AdjustmentForm, ContractAdminForm, InvoiceIssueForm, ReasonForm
from .imports import COLUMNS, MAX_BYTES, MAX_LINES, contracts_import
from .models import (
    Invoice,
    InvoiceLine,
    LedgerEntry,
    NetworkDelivery,
    NetworkHook,
    Router,
    ServiceChange,
    ServiceHold,
    ServicePeriod,
)
from .network import network_deliveries_resend, network_event_body, network_secret_new
from .recompute import contracts_recompute
from .services import (
    BillingError,
    LineSpec,
    invoice_issue,
    invoice_void,
    ledger_adjust,
    ledger_reverse,
    service_orders_apply,
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


HISTORY_SHOWN = 20


class ContractImportForm(forms.Form):
    rows_file = forms.FileField(label=gettext_lazy("Archivo CSV"))
    dry_run = forms.BooleanField(
        label=gettext_lazy("Solo validar"),
        required=False,
        help_text=gettext_lazy("Revisa el archivo y cuenta los cambios sin guardar nada."),
    )


@admin.register(Contract)
class ContractAdmin(TenantAdmin):
    # Zone and billing mode are filters: with them as columns the list did not fit 1280 px.
    list_display = [
        "number",
        "holder_name",
        "provider",
        "phone",
        "plan",
        "status",
        "paid_until",
        "user",
    ]
    list_filter = ["provider", "status", "zone", "billing_mode"]
    list_select_related = ["provider", "plan", "zone", "user"]
    search_fields = ["number", "holder_name", "phone", "email"]
    autocomplete_fields = ["user"]
    # Vigencia, status and the promise are derived (billing.recompute): staff give a new
    # vigencia, a hold or a cancellation, and the plan changes through the same service.
    form = ContractAdminForm
    readonly_fields = [
        "paid_until",
        "status",
        "promise_until",
        "service_history",
        "claimed_at",
        "invited_at",
        "created_at",
        "updated_at",
    ]
    actions = ["invite", "invite_again"]

    @admin.action(
        description=gettext_lazy("Invitar a crear su cuenta (SMS con su contrato y el portal)"),
        permissions=["change"],
    )
    def invite(self, request, queryset):
        self._invited(request, queryset, again=False)

    @admin.action(
        description=gettext_lazy("Reenviar la invitación, aunque ya se haya enviado"),
        permissions=["change"],
    )
    def invite_again(self, request, queryset):
        self._invited(request, queryset, again=True)

    def _invited(self, request, queryset, *, again: bool) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        invited = contracts_invite(contract_ids=selected, again=again, actor=request.user)
        self.message_user(
            request,
            _(
                "%(invited)s de %(selected)s contratos recibirán la invitación; los demás ya "
                "tienen cuenta, están suspendidos o cancelados, no tienen celular o ya "
                "fueron invitados."
            )
            % {"invited": invited, "selected": len(selected)},
            messages.SUCCESS if invited else messages.WARNING,
        )

    @admin.display(description=gettext_lazy("Historial del servicio"))
    def service_history(self, contract: Contract) -> str:
        """The last service changes and suspensions by the ISP, newest first."""
        if contract.pk is None:
            return "–"
        changes = contract.service_changes.select_related("plan_to")[:HISTORY_SHOWN]
        holds = ServiceHold.objects.filter(contract=contract).select_related(
            "created_by", "lifted_by"
        )[:HISTORY_SHOWN]
        lines = [
            format_html(
                "{} · {} ({}) · {}",
                date_format(timezone.localtime(change.created_at), "SHORT_DATETIME_FORMAT"),
                change.get_event_display(),
                change.get_reason_display(),
                change.plan_to.name,
            )
            for change in changes
        ] + [
            format_html(
                "{} {} · {}{}",
                _("Suspendido por el ISP desde"),
                date_format(timezone.localtime(hold.created_at), "SHORT_DATETIME_FORMAT"),
                hold.reason,
                format_html(
                    " · {} {}",
                    _("levantada el"),
                    date_format(timezone.localtime(hold.lifted_at), "SHORT_DATETIME_FORMAT"),
                )
                if hold.lifted_at
                else "",
            )
            for hold in holds
        ]
        if not lines:
            return _("Sin cambios de servicio.")
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    def get_fields(self, request, obj=None):
        service = ["vigencia", "held", "hold_reason", "cancelled"]
        fields = [name for name in super().get_fields(request, obj) if name not in service]
        return [*fields, *service]

    def save_model(self, request, obj, form, change):
        old_phone = form.initial.get("phone", "") if change else ""
        new_plan = obj.plan
        if change:
            # The plan changes through service_orders_apply, in save_related.
            obj.plan_id = form.initial["plan"]
        super().save_model(request, obj, form, change)
        if change and "phone" in form.changed_data:
            contracts_phone_changed_notify(changes=[(obj, old_phone)])
        request._service_order = form.service_order(contract=obj, plan=new_plan)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        order = getattr(request, "_service_order", None)
        if order is None:
            # A billing mode changed, say: the service follows now, not at the next run.
            contracts_recompute(contract_ids=[form.instance.pk], cause=ServiceChange.Reason.STAFF)
            return
        try:
            service_orders_apply(orders=[order], actor=request.user)
        except BillingError as error:
            # Checked by the form already; kept as the service's last word.
            raise ValidationError(str(error)) from error

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take "importar/".
        return [
            path(
                "importar/",
                self.admin_site.admin_view(self.import_csv_view),
                name="accounts_contract_import_csv",
            ),
            *super().get_urls(),
        ]

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "has_import_permission": self.has_import_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def import_csv_view(self, request):
        """ "Importar CSV": the contract import service behind an upload form."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        status = 200
        if request.method == "POST":
            form = ContractImportForm(request.POST, request.FILES)
            if not form.is_valid():
                status = 400
            else:
                report = contracts_import(
                    rows_file=form.cleaned_data["rows_file"],
                    dry_run=form.cleaned_data["dry_run"],
                    providers=rows_for_staff(Provider.objects.all(), user=request.user),
                    actor=request.user,
                )
                if not report.ok:
                    status = 400
                elif not report.dry_run:
                    self.message_user(request, report.summary(), messages.SUCCESS)
                    return redirect("admin:accounts_contract_changelist")
        else:
            form = ContractImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Importar contratos desde CSV"),
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "max_lines": MAX_LINES,
            "max_megabytes": MAX_BYTES // (1024 * 1024),
        }
        return TemplateResponse(
            request, "admin/accounts/contract/import_csv.html", context, status=status
        )


class NetworkHookForm(forms.ModelForm):
    secret = forms.CharField(
        label=gettext_lazy("Secreto"),
        required=False,
        help_text=gettext_lazy(
            "Con él verifica tu red la firma (Standard Webhooks, whsec_…). Cópialo ahora: "
            "después no se muestra. Vacío conserva el actual."
        ),
    )

    class Meta:
        model = NetworkHook
        fields = ["provider", "url", "secret", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret"].widget.attrs["size"] = 60
        if self.instance.pk is None:
            self.fields["secret"].initial = network_secret_new()
            self.fields["secret"].required = True
            self.fields["secret"].help_text = gettext_lazy(
                "Con él verifica tu red la firma (Standard Webhooks, whsec_…). Cópialo ahora: "
                "después no se muestra."
            )

    def clean_secret(self):
        secret = self.cleaned_data["secret"].strip()
        if not secret:
            return secret
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 24:
            raise ValidationError(
                _("Un secreto es whsec_ y al menos 24 bytes en base64 (como el sugerido).")
            )
        return secret

    def save(self, commit=True):
        if self.cleaned_data["secret"]:
            self.instance.secret = self.cleaned_data["secret"]
        return super().save(commit)


@admin.register(NetworkHook)
class NetworkHookAdmin(TenantAdmin):
    form = NetworkHookForm
    list_display = ["provider", "url", "is_active"]
    audit_hidden_fields = ("secret",)

    def audit_note(self, request, form) -> str:
        return _("secreto reemplazado") if form.cleaned_data.get("secret") else ""


class RouterForm(forms.ModelForm):
    password = forms.CharField(
        label=gettext_lazy("Contraseña"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Del usuario de la API del router. Vacía conserva la actual."),
    )

    class Meta:
        model = Router
        fields = [
            "provider",
            "zone",
            "host",
            "port",
            "use_tls",
            "username",
            "password",
            "address_list",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].required = self.instance.pk is None

    def save(self, commit=True):
        if self.cleaned_data["password"]:
            self.instance.password = self.cleaned_data["password"]
        return super().save(commit)


@admin.register(Router)
class RouterAdmin(TenantAdmin):
    form = RouterForm
    list_display = ["provider", "zone", "host", "port", "address_list", "is_active"]
    list_select_related = ["provider", "zone"]
    audit_hidden_fields = ("password",)

    def audit_note(self, request, form) -> str:
        return _("contraseña reemplazada") if form.cleaned_data.get("password") else ""


@admin.register(ServiceChange)
class ServiceChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "contract", "event", "reason", "plan_to", "paid_until"]
    list_filter = ["event", "reason"]
    list_select_related = ["contract", "plan_to"]
    search_fields = ["contract__number"]
    date_hierarchy = "created_at"


@admin.register(NetworkDelivery)
class NetworkDeliveryAdmin(ReadOnlyAdmin):
    """What the ISP's network was told, when, and how it answered; "reenviar"."""

    list_display = [
        "created_at",
        "event",
        "contract",
        "place",
        "status",
        "attempts",
        "next_attempt_at",
        "last_result",
    ]
    list_filter = ["status"]
    list_select_related = ["change__contract", "hook", "router"]
    search_fields = ["change__contract__number"]
    readonly_fields = [
        "message_id",
        "change",
        "hook",
        "router",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "last_result",
        "delivered_at",
        "created_at",
    ]
    actions = ["resend"]

    @admin.display(description=gettext_lazy("evento"))
    def event(self, delivery: NetworkDelivery) -> str:
        return delivery.change.event

    @admin.display(description=gettext_lazy("contenido"))
    def body(self, delivery: NetworkDelivery) -> str:
        return json.dumps(network_event_body(change=delivery.change), ensure_ascii=False)

    def get_search_results(self, request, queryset, search_term):
        """A `webhook-id` from the ISP's logs finds its delivery."""
        if search_term.startswith("msg_"):
            try:
                return queryset.filter(uuid=uuid.UUID(search_term.removeprefix("msg_"))), False
            except ValueError:
                return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description=gettext_lazy("contrato"))
    def contract(self, delivery: NetworkDelivery) -> str:
        return delivery.change.contract.number

    @admin.display(description=gettext_lazy("destino"))
    def place(self, delivery: NetworkDelivery) -> str:
        return str(delivery.hook or delivery.router)

    def has_resend_permission(self, request) -> bool:
        return request.user.has_perm("billing.change_networkdelivery")

    @admin.action(description=gettext_lazy("Reenviar"), permissions=["resend"])
    def resend(self, request, queryset):
        count = network_deliveries_resend(deliveries=list(queryset), actor=request.user)
        self.message_user(
            request,
            _("%(count)s entregas se enviarán de nuevo.") % {"count": count},
            messages.SUCCESS,
        )

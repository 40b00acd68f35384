"""Staff: payment methods per ISP (credentials write-only), payments and their review queue,
webhook deliveries, settlement files and the review queue of their lines."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Provider
from core.admin import TenantAdmin, TenantInlineMixin, audit_trail_for
from core.outbox import outbox_enqueue
from core.tenancy import rows_for_staff, staff_is_platform

from .crypto import CredentialsUnreadable
from .models import (
    GatewayAccount,
    Payment,
    PaymentEvent,
    PaymentPromise,
    SettlementImport,
    SettlementLine,
    WebhookDelivery,
)
from .settlement import (
    COLUMNS,
    MAX_BYTES,
    MAX_LINES,
    REVIEW_OUTCOMES,
    FileRefused,
    parser_choices,
    settlement_file_receive,
    settlement_lines_resolve,
    settlement_needs_review,
    settlement_summary,
)
from .tasks import settlement_import_start

# Which credentials each gateway needs. Values are never shown back.
CREDENTIAL_FIELDS = {
    "reference": [],
    "stripe": ["secret_key", "webhook_secret"],
    "mercadopago": ["access_token", "webhook_secret"],
    "oxxopay": ["private_key"],
}


class GatewayAccountForm(forms.ModelForm):
    base_url = forms.URLField(
        label=_("URL de la API"),
        required=False,
        assume_scheme="https",
        help_text=_("Vacío: la de producción de la pasarela. Solo para pruebas o sandbox."),
    )
    secret_key = forms.CharField(
        label="Stripe secret key", required=False, widget=forms.PasswordInput(render_value=False)
    )
    webhook_secret = forms.CharField(
        label=_("Secreto de webhooks"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    access_token = forms.CharField(
        label="Mercado Pago access token",
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    private_key = forms.CharField(
        label="OxxoPay private key", required=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = GatewayAccount
        fields = [
            "provider",
            "gateway",
            "is_enabled",
            "label",
            "reference_prefix",
            "expiry_days",
            "base_url",
        ]

    def clean_reference_prefix(self):
        prefix = self.cleaned_data["reference_prefix"]
        if prefix and not prefix.isdigit():
            raise forms.ValidationError(_("El prefijo lleva solo dígitos."))
        return prefix

    def save(self, commit=True):
        account = super().save(commit=False)
        # A blank field keeps what is stored: secrets are never sent back to the browser.
        try:
            credentials = account.credentials
        except CredentialsUnreadable:
            # Lost with a key: what is typed now replaces them.
            credentials = {}
        for name in CREDENTIAL_FIELDS.get(account.gateway, []):
            if self.cleaned_data.get(name):
                credentials[name] = self.cleaned_data[name]
        account.credentials = credentials
        if commit:
            account.save()
        return account


@admin.register(GatewayAccount)
class GatewayAccountAdmin(TenantAdmin):
    form = GatewayAccountForm
    list_display = ["provider", "gateway", "is_enabled", "expiry_days", "has_credentials"]
    list_filter = ["gateway", "is_enabled", "provider"]
    list_select_related = ["provider"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if staff_is_platform(request.user):
            return form

        class IspStaffForm(form):
            # The gateway's address is for sandbox tests by platform staff: an ISP that set
            # it would have the server send its credentials wherever it pointed.
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.fields["base_url"].disabled = True

        return IspStaffForm

    def audit_note(self, request, form) -> str:
        """Which credentials were replaced; never their values."""
        replaced = [
            str(form.fields[name].label)
            for name in CREDENTIAL_FIELDS.get(form.instance.gateway, [])
            if form.cleaned_data.get(name)
        ]
        if not replaced:
            return ""
        return _("Credenciales reemplazadas: %(names)s") % {"names": ", ".join(replaced)}

    @admin.display(boolean=True, description=_("credenciales"))
    def has_credentials(self, account: GatewayAccount) -> bool:
        names = CREDENTIAL_FIELDS.get(account.gateway, [])
        try:
            stored = account.credentials
        except CredentialsUnreadable:
            return False
        return all(stored.get(name) for name in names)


class PaymentEventInline(TenantInlineMixin, admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "source", "actor", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(TenantAdmin):
    """Read-only: money moves only through payment_confirm. Filter «en revisión» for the
    review queue (amount or currency different from what was asked)."""

    list_display = [
        "created_at",
        "provider",
        "contract",
        "gateway",
        "reference",
        "amount",
        "status",
        "paid_at",
        "paid_late",
    ]
    list_filter = ["status", "gateway", "paid_late", "provider"]
    list_select_related = ["provider", "contract"]
    search_fields = ["=reference", "external_id", "contract__number", "contract__phone"]
    inlines = [PaymentEventInline]
    readonly_fields = [f.name for f in Payment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantAdmin):
    list_display = ["received_at", "gateway", "provider_code", "event_id", "outcome", "detail"]
    list_filter = ["gateway", "outcome"]
    search_fields = ["event_id", "provider_code"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PaymentPromise)
class PaymentPromiseAdmin(TenantAdmin):
    list_display = ["contract", "starts_on", "ends_on", "period_key", "created_by", "created_at"]
    list_select_related = ["contract", "created_by"]
    readonly_fields = ["contract", "period_key", "starts_on", "ends_on", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SettlementUploadForm(forms.Form):
    provider = forms.ModelChoiceField(label=_("Proveedor"), queryset=Provider.objects.none())
    settlement_file = forms.FileField(label=_("Archivo de liquidación"))
    parser = forms.ChoiceField(label=_("Formato"), initial="generic")

    def __init__(self, *args, providers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = providers
        if providers.count() == 1:
            self.fields["provider"].initial = providers.get()
        self.fields["parser"].choices = parser_choices()

    def clean_settlement_file(self):
        uploaded = self.cleaned_data["settlement_file"]
        if uploaded.size > MAX_BYTES:
            raise forms.ValidationError(
                _("El archivo pesa más de %(megabytes)s MB; divídelo en partes más pequeñas.")
                % {"megabytes": MAX_BYTES // (1024 * 1024)}
            )
        return uploaded


REPORT_PAGE_SIZE = 200


@admin.register(SettlementImport)
class SettlementImportAdmin(TenantAdmin):
    """Settlement files as imported; each one's detail is its report, line by line."""

    list_display = [
        "created_at",
        "provider",
        "filename",
        "parser",
        "uploaded_by",
        "line_count",
        "credited_count",
        "late_count",
        "already_paid_count",
        "unmatched_count",
        "mismatch_count",
        "invalid_count",
        "finished_at",
    ]
    list_filter = ["provider", "parser"]
    list_select_related = ["provider", "uploaded_by"]
    search_fields = ["filename", "=sha256"]
    actions = ["apply_unfinished"]

    @admin.action(
        description=_("Seguir aplicando las liquidaciones sin terminar"),
        permissions=["upload"],
    )
    def apply_unfinished(self, request, queryset):
        """For an import whose worker stopped: it carries on where it stopped.

        Imports from before files were kept (no upload) cannot be applied again.
        """
        unfinished = list(
            queryset.filter(finished_at__isnull=True)
            .exclude(upload="")
            .values_list("pk", flat=True)
        )
        for settlement_id in unfinished:
            outbox_enqueue(task=settlement_import_start, kwargs={"settlement_id": settlement_id})
        self.message_user(
            request,
            ngettext(
                "%(count)s liquidación sin terminar vuelve a aplicarse.",
                "%(count)s liquidaciones sin terminar vuelven a aplicarse.",
                len(unfinished),
            )
            % {"count": len(unfinished)},
            messages.INFO,
        )

    def get_urls(self):
        # Before the model's own URLs: "<path:object_id>/" would take "subir/".
        return [
            path(
                "subir/",
                self.admin_site.admin_view(self.upload_view),
                name="payments_settlementimport_upload",
            ),
            *super().get_urls(),
        ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.add_settlementimport")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "upload_url": (
                reverse("admin:payments_settlementimport_upload")
                if self.has_upload_permission(request)
                else None
            ),
        }
        return super().changelist_view(request, extra_context)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        """ "Subir archivo": the settlement import behind an upload form."""
        if not self.has_upload_permission(request):
            raise PermissionDenied
        providers = rows_for_staff(Provider.objects.filter(is_active=True), user=request.user)
        refused = None
        status = 200
        if request.method == "POST":
            form = SettlementUploadForm(request.POST, request.FILES, providers=providers)
            if not form.is_valid():
                status = 400
            else:
                uploaded = form.cleaned_data["settlement_file"]
                try:
                    settlement = settlement_file_receive(
                        provider=form.cleaned_data["provider"],
                        raw=uploaded.read(),
                        filename=uploaded.name,
                        parser_name=form.cleaned_data["parser"],
                        uploaded_by=request.user,
                    )
                except FileRefused as error:
                    refused = error.errors
                    status = 400
                else:
                    # A large file takes longer than a request may: the worker applies it.
                    outbox_enqueue(
                        task=settlement_import_start, kwargs={"settlement_id": settlement.pk}
                    )
                    settlement.refresh_from_db()
                    if settlement.finished_at is None:
                        self.message_user(
                            request,
                            _(
                                "Archivo recibido: las líneas se están aplicando. Vuelve a "
                                "cargar esta página para ver el avance."
                            ),
                            messages.INFO,
                        )
                    else:
                        level = (
                            messages.WARNING
                            if settlement_needs_review(settlement)
                            else messages.SUCCESS
                        )
                        self.message_user(request, settlement_summary(settlement), level)
                    return redirect("admin:payments_settlementimport_change", settlement.pk)
        else:
            form = SettlementUploadForm(providers=providers)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Subir archivo de liquidación"),
            "form": form,
            "refused": refused,
            "columns": COLUMNS,
            "max_lines": MAX_LINES,
            "max_megabytes": MAX_BYTES // (1024 * 1024),
        }
        return TemplateResponse(
            request, "admin/payments/settlementimport/upload.html", context, status=status
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The import's report: its counts and every line with its outcome, a page at a time."""
        settlement = self.get_object(request, unquote(object_id))
        if settlement is None or not self.has_view_permission(request, settlement):
            raise Http404
        lines = SettlementLine.objects.filter(settlement_import=settlement).select_related(
            "payment", "resolved_by"
        )
        outcome = request.GET.get("outcome", "")
        if outcome in SettlementLine.Outcome.values:
            lines = lines.filter(outcome=outcome)
        else:
            outcome = ""
        page = Paginator(lines.order_by("line_number"), REPORT_PAGE_SIZE).get_page(
            request.GET.get("p")
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(settlement),
            "original": settlement,
            "summary": settlement_summary(settlement),
            "audit_entries": audit_trail_for(request, settlement),
            "outcomes": SettlementLine.Outcome.choices,
            "outcome": outcome,
            "page": page,
            "queue_url": reverse("admin:payments_settlementline_changelist")
            + f"?settlement_import__id__exact={settlement.pk}",
        }
        return TemplateResponse(request, "admin/payments/settlementimport/report.html", context)


class ReviewQueueFilter(admin.SimpleListFilter):
    """By default the queue: unmatched and mismatched lines nobody has resolved yet."""

    title = _("cola de revisión")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [(None, _("Pendientes de revisión")), ("all", _("Todas las líneas"))]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: value} if value else {}, [self.parameter_name]
                ),
                "display": label,
            }

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        return queryset.filter(outcome__in=REVIEW_OUTCOMES, resolved=False)


@admin.register(SettlementLine)
class SettlementLineAdmin(TenantAdmin):
    """The review queue: lines whose money did not land. Resolving records who and when."""

    list_display = [
        "settlement_import",
        "line_number",
        "provider",
        "reference",
        "amount",
        "paid_at",
        "folio",
        "outcome",
        "message",
        "payment",
        "resolved",
        "resolved_by",
        "resolved_at",
    ]
    list_filter = [ReviewQueueFilter, "outcome", "resolved", "provider"]
    list_select_related = ["settlement_import", "provider", "payment", "resolved_by"]
    search_fields = ["=reference", "=folio"]
    readonly_fields = [f.name for f in SettlementLine._meta.fields]
    actions = ["resolve"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The action changes lines (resolved, who, when); nothing is edited by hand.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Marcar como resuelto"), permissions=["change"])
    def resolve(self, request, queryset):
        count = settlement_lines_resolve(
            line_ids=queryset.values_list("pk", flat=True), actor=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)s línea marcada como resuelta.",
                "%(count)s líneas marcadas como resueltas.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

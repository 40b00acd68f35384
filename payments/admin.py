"""Staff: payment methods per ISP (credentials write-only), payments and their review queue,
webhook deliveries."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import GatewayAccount, Payment, PaymentEvent, PaymentPromise, WebhookDelivery

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
        credentials = account.credentials
        for name in CREDENTIAL_FIELDS.get(account.gateway, []):
            if self.cleaned_data.get(name):
                credentials[name] = self.cleaned_data[name]
        account.credentials = credentials
        if commit:
            account.save()
        return account


@admin.register(GatewayAccount)
class GatewayAccountAdmin(admin.ModelAdmin):
    form = GatewayAccountForm
    list_display = ["provider", "gateway", "is_enabled", "expiry_days", "has_credentials"]
    list_filter = ["gateway", "is_enabled", "provider"]
    list_select_related = ["provider"]

    @admin.display(boolean=True, description=_("credenciales"))
    def has_credentials(self, account: GatewayAccount) -> bool:
        names = CREDENTIAL_FIELDS.get(account.gateway, [])
        stored = account.credentials
        return all(stored.get(name) for name in names)


class PaymentEventInline(admin.TabularInline):
    model = PaymentEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "source", "actor", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
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
class WebhookDeliveryAdmin(admin.ModelAdmin):
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
class PaymentPromiseAdmin(admin.ModelAdmin):
    list_display = ["contract", "starts_on", "ends_on", "period_key", "created_by", "created_at"]
    list_select_related = ["contract", "created_by"]
    readonly_fields = ["contract", "period_key", "starts_on", "ends_on", "created_by", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

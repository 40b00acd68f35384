from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Contract, Provider, User


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "handle_domain", "country", "currency", "is_active"]
    list_filter = ["country", "is_active"]
    search_fields = ["code", "name", "handle_domain"]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "provider", "is_staff", "is_active", "last_login"]
    list_filter = ["provider", "is_staff", "is_active"]
    list_select_related = ["provider"]
    search_fields = ["username", "email", "first_name", "last_name", "phone"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Proveedor"), {"fields": ("provider", "phone")}),
    )


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = [
        "number",
        "holder_name",
        "provider",
        "phone",
        "plan",
        "zone",
        "billing_mode",
        "status",
        "paid_until",
        "user",
    ]
    list_filter = ["provider", "status", "zone", "billing_mode"]
    list_select_related = ["provider", "plan", "zone", "user"]
    search_fields = ["number", "holder_name", "phone", "email"]
    raw_id_fields = ["user"]
    readonly_fields = ["claimed_at", "created_at", "updated_at"]

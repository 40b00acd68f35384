from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from .imports import COLUMNS, MAX_BYTES, MAX_LINES, contracts_import
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


class ContractImportForm(forms.Form):
    rows_file = forms.FileField(label=_("Archivo CSV"))
    dry_run = forms.BooleanField(
        label=_("Solo validar"),
        required=False,
        help_text=_("Revisa el archivo y cuenta los cambios sin guardar nada."),
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

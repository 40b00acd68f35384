"""Staff: ISPs, logins and staff accounts with their roles, contracts and their import,
the roles themselves and staff's second factors. Every admin here is limited to the staff
member's ISP (core.admin); an ISP administrator manages the staff of their own ISP only,
with the ISP roles only, and never a superuser."""

from allauth.account.admin import EmailAddressAdmin as AllauthEmailAddressAdmin
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from core.admin import TenantAdmin, TenantAdminMixin
from core.audit import audit_action, audit_entries_record, audit_entry_new
from core.phones import phone_field_in_region
from core.tenancy import staff_is_platform

from .models import Provider, SecondFactor, User
from .roles import ISP_ROLES, ROLE_DESCRIPTIONS, ROLES

USER_PASSWORD_SET = audit_action("user.password_set", _("Contraseña cambiada por el personal"))


@admin.register(Provider)
class ProviderAdmin(TenantAdmin):
    list_display = ["code", "name", "handle_domain", "country", "currency", "is_active"]
    list_filter = ["country", "is_active"]
    search_fields = ["code", "name", "handle_domain"]
    # What an ISP's own administrator may not change: what subscribers type and see in
    # their handles, and how its money and dates are kept.
    platform_fields = [
        "code",
        "handle_domain",
        "country",
        "currency",
        "locale",
        "time_zone",
        # A host is the platform's to point at this server.
        "portal_host",
    ]

    def get_readonly_fields(self, request, obj=None):
        if staff_is_platform(request.user):
            return super().get_readonly_fields(request, obj)
        return [*self.platform_fields, "is_active"]

    def has_add_permission(self, request):
        return staff_is_platform(request.user) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return staff_is_platform(request.user) and super().has_delete_permission(request, obj)


@admin.register(User)
class UserAdmin(TenantAdminMixin, DjangoUserAdmin):
    list_display = ["username", "email", "provider", "roles", "is_staff", "last_login"]
    list_filter = ["provider", "is_staff", "is_active", "groups"]
    list_select_related = ["provider"]
    search_fields = ["username", "email", "first_name", "last_name", "phone"]
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Proveedor"), {"fields": ("provider", "phone")}),
    )
    # Staff of one ISP: their ISP is implied, roles are the ISP roles, no superuser and no
    # permission one by one.
    isp_fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Datos personales"), {"fields": ("first_name", "last_name", "email", "phone")}),
        (_("Acceso"), {"fields": ("is_active", "is_staff", "groups")}),
    )

    @admin.display(description=_("roles"))
    def roles(self, user: User) -> str:
        return ", ".join(group.name for group in user.groups.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        provider = obj.provider if obj is not None and obj.provider_id else request.user.provider
        form = _form_with_phone_of(form, provider)
        if staff_is_platform(request.user):
            return form
        return _form_with_handles_of(form, request.user.provider)

    def get_fieldsets(self, request, obj=None):
        if obj is not None and not staff_is_platform(request.user):
            return self.isp_fieldsets
        return super().get_fieldsets(request, obj)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups" and not staff_is_platform(request.user):
            kwargs["queryset"] = Group.objects.filter(name__in=ISP_ROLES).order_by("name")
            kwargs["help_text"] = _("Los roles del personal de su ISP.")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not staff_is_platform(request.user):
            # The ISP a staff member acts on is the one of whoever created them.
            obj.provider_id = request.user.provider_id
            obj.is_superuser = False
        super().save_model(request, obj, form, change)

    def user_change_password(self, request, id, form_url=""):
        # One transaction: a password is never set without its audit row.
        with transaction.atomic():
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                user = self.get_object(request, id)
                audit_entries_record(
                    entries=[
                        audit_entry_new(action=USER_PASSWORD_SET, actor=request.user, target=user)
                    ]
                )
        return response


def _form_with_phone_of(form, provider: Provider | None):
    """The user form, its phone typed and shown as the ISP writes it."""

    class PhoneForm(form):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if "phone" in self.fields:
                phone_field_in_region(
                    self.fields["phone"], country=provider.country if provider else None
                )

    return PhoneForm


def _form_with_handles_of(form, provider: Provider):
    """The user form, refusing a login outside the ISP's handles (`…@kona`): a name
    another ISP may use would tell, by «ya existe», which logins that ISP has."""
    suffix = f"@{provider.handle_domain}"

    class HandleForm(form):
        def clean_username(self):
            username = self.cleaned_data["username"]
            if not username.lower().endswith(suffix) or len(username) == len(suffix):
                raise forms.ValidationError(
                    _("La cuenta debe terminar en %(suffix)s, p. ej. maria%(suffix)s.")
                    % {"suffix": suffix}
                )
            # The creation form also checks that nobody has it yet, ignoring case.
            parent = getattr(super(), "clean_username", None)
            return parent() if parent else username

    HandleForm.__name__ = form.__name__
    return HandleForm


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(TenantAdminMixin, DjangoGroupAdmin):
    """The roles are defined in code (accounts.roles): read-only to everyone here."""

    list_display = ["name", "description"]

    @admin.display(description=_("qué permite"))
    def description(self, group: Group) -> str:
        return str(ROLE_DESCRIPTIONS.get(group.name, ""))

    def has_add_permission(self, request):
        return staff_is_platform(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.name in ROLES:
            return False
        return staff_is_platform(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.name in ROLES:
            return False
        return staff_is_platform(request.user) and super().has_delete_permission(request, obj)


admin.site.unregister(Authenticator)


class SecondFactorKindFilter(admin.SimpleListFilter):
    title = _("tipo")
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return Authenticator.Type.choices

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(SecondFactor)
class SecondFactorAdmin(TenantAdmin):
    """Staff's second factors: an ISP administrator deletes a lost phone's, so that its
    owner sets a new one at the next sign-in."""

    list_display = ["user", "kind", "created", "last_used"]
    list_filter = [SecondFactorKindFilter]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "kind", "created", "last_used"]
    readonly_fields = fields

    @admin.display(description=_("tipo"), ordering="type")
    def kind(self, factor: SecondFactor) -> str:
        return factor.get_type_display()

    @admin.display(description=_("creado el"), ordering="created_at")
    def created(self, factor: SecondFactor):
        return factor.created_at

    @admin.display(description=_("último uso"), ordering="last_used_at")
    def last_used(self, factor: SecondFactor):
        return factor.last_used_at

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


admin.site.unregister(EmailAddress)


@admin.register(EmailAddress)
class EmailAddressAdmin(TenantAdminMixin, AllauthEmailAddressAdmin):
    pass

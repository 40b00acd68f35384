"""Staff roles: the same groups for every ISP; the ISP comes from `User.provider`.

The roles are part of the product, defined here and written to the database by a
migration and again after every `migrate` (so a permission added later reaches its
role). In the admin they are read-only, even to platform staff: a change made there would
be undone by the next deploy. Platform staff may make other groups of their own.
"""

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.tenancy import PLATFORM_ROLE

ISP_ADMIN_ROLE = "Administrador del ISP"
BILLING_ROLE = "Facturación"
SUPPORT_ROLE = "Agentes de soporte"
# The roles an ISP administrator may give to staff of their ISP.
ISP_ROLES = (ISP_ADMIN_ROLE, BILLING_ROLE, SUPPORT_ROLE)
ROLES = (*ISP_ROLES, PLATFORM_ROLE)

ROLE_DESCRIPTIONS = {
    ISP_ADMIN_ROLE: _(
        "Todo lo de su ISP: contratos, planes, zonas, promociones, medios de pago, marca, "
        "avisos a su red (webhook, routers) y cuentas del personal (con estos roles)."
    ),
    BILLING_ROLE: _("Facturas, ajustes del balance, liquidaciones y pagos de su ISP."),
    SUPPORT_ROLE: _(
        "La consola de agentes: buscar y confirmar pagos en efectivo con una nota; ver contratos."
    ),
    PLATFORM_ROLE: _("Todos los ISP (solo personal sin ISP propio)."),
}

SUPPORT_PERMISSIONS = (
    "accounts.view_contract",
    "payments.view_payment",
    "payments.confirm_payment",
    "payments.view_paymentevent",
)
BILLING_PERMISSIONS = (
    *SUPPORT_PERMISSIONS,
    "plans.view_zone",
    "plans.view_plan",
    "plans.view_promotion",
    "billing.view_invoice",
    "billing.add_invoice",
    "billing.change_invoice",
    "billing.view_ledgerentry",
    "billing.add_ledgerentry",
    "billing.view_serviceperiod",
    "billing.view_servicechange",
    "payments.view_paymentpromise",
    "payments.view_settlementimport",
    "payments.add_settlementimport",
    "payments.view_settlementline",
    "payments.change_settlementline",
    "payments.view_webhookdelivery",
    "billing.view_networkdelivery",
    "notifications.view_notification",
    "core.view_auditentry",
)
ISP_ADMIN_PERMISSIONS = (
    *BILLING_PERMISSIONS,
    "accounts.view_provider",
    "accounts.change_provider",
    "accounts.view_user",
    "accounts.add_user",
    "accounts.change_user",
    "accounts.add_contract",
    "accounts.change_contract",
    "plans.add_zone",
    "plans.change_zone",
    "plans.delete_zone",
    "plans.add_plan",
    "plans.change_plan",
    "plans.delete_plan",
    "plans.add_promotion",
    "plans.change_promotion",
    "plans.delete_promotion",
    "payments.view_gatewayaccount",
    "payments.add_gatewayaccount",
    "payments.change_gatewayaccount",
    # Where the ISP's network hears of suspensions, and resending what it did not hear.
    "billing.view_networkhook",
    "billing.add_networkhook",
    "billing.change_networkhook",
    "billing.view_router",
    "billing.add_router",
    "billing.change_router",
    "billing.delete_router",
    "billing.change_networkdelivery",
    # The ISP's own words for each message to its subscribers.
    "notifications.view_messagetemplate",
    "notifications.add_messagetemplate",
    "notifications.change_messagetemplate",
    "notifications.delete_messagetemplate",
    "auth.view_group",
    # To reset the second factor of a staff member of their ISP who lost the phone.
    "accounts.view_secondfactor",
    "accounts.delete_secondfactor",
)
# Platform staff hold every permission of these apps.
PLATFORM_APPS = (
    "core",
    "accounts",
    "plans",
    "billing",
    "payments",
    "notifications",
    "auth",
    "mfa",
    "account",
    "django_celery_beat",
)

ROLE_PERMISSIONS = {
    ISP_ADMIN_ROLE: ISP_ADMIN_PERMISSIONS,
    BILLING_ROLE: BILLING_PERMISSIONS,
    SUPPORT_ROLE: SUPPORT_PERMISSIONS,
}


def roles_sync(*, group_model, permission_model) -> None:
    """Create the roles and give each exactly its permissions (those that exist yet).

    Takes the models so that a migration can pass its historical ones.
    """
    for name in ROLES:
        group, _created = group_model.objects.get_or_create(name=name)
        if name == PLATFORM_ROLE:
            permissions = permission_model.objects.filter(content_type__app_label__in=PLATFORM_APPS)
        else:
            wanted = Q(pk__in=[])
            for permission in ROLE_PERMISSIONS[name]:
                app_label, codename = permission.split(".")
                wanted |= Q(content_type__app_label=app_label, codename=codename)
            permissions = permission_model.objects.filter(wanted)
        group.permissions.set(permissions)

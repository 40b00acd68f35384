from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Cuentas y contratos")

    def ready(self) -> None:
        from allauth.account.models import EmailAddress
        from allauth.mfa.models import Authenticator
        from django.contrib.auth.models import Group, Permission
        from django.db.models.signals import post_migrate

        from core.tenancy import TenantPath, tenant_paths_register

        from .models import Provider, User, VerificationCode

        # A superuser is platform staff even if an ISP is set on the login: its ISP's staff
        # never see it, nor its e-mails and second factors.
        superuser_of_user = {"user__is_superuser": True}
        tenant_paths_register(
            {
                Provider: "pk",
                User: TenantPath("provider", hidden={"is_superuser": True}),
                VerificationCode: "contract__provider",
                # Staff logins' e-mails and second factors are their user's ISP's.
                EmailAddress: TenantPath("user__provider", hidden=superuser_of_user),
                Authenticator: TenantPath("user__provider", hidden=superuser_of_user),
                # The roles are the same for every ISP.
                Group: None,
                Permission: None,
            }
        )
        post_migrate.connect(_roles_sync_after_migrate, dispatch_uid="accounts.roles_sync")


def _roles_sync_after_migrate(sender, apps=None, **kwargs) -> None:
    """After every migrate (and flush), once every app has made its permissions (the last
    app's signal): a permission added since the roles' migration reaches its role."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    with_models = [config for config in global_apps.get_app_configs() if config.models_module]
    if sender is not with_models[-1]:
        return
    from .roles import roles_sync

    roles_sync(
        group_model=apps.get_model("auth", "Group"),
        permission_model=apps.get_model("auth", "Permission"),
    )

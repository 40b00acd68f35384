from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Avisos")

    def ready(self) -> None:
        from core.tenancy import tenant_paths_register

        from .models import ChannelPreference

        tenant_paths_register({ChannelPreference: "user__provider"})

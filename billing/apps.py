from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Facturación")

    def ready(self) -> None:
        from core.tenancy import tenant_paths_register

        from .models import InvoiceLine, ServiceHold, ServicePeriod

        tenant_paths_register(
            {
                InvoiceLine: "invoice__provider",
                ServicePeriod: "contract__provider",
                ServiceHold: "contract__provider",
            }
        )

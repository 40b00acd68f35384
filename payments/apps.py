from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Pagos")

    def ready(self) -> None:
        from core.tenancy import TenantPath, tenant_paths_register

        from .models import PaymentEvent, PaymentPromise, WebhookDelivery

        tenant_paths_register(
            {
                PaymentEvent: "payment__provider",
                PaymentPromise: "contract__provider",
                # Stored before its ISP is looked up: it names the ISP by code.
                WebhookDelivery: TenantPath("provider_code", attribute="code"),
            }
        )

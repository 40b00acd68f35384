from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Cuentas y contratos")

    def ready(self) -> None:
        from django.db.models import Field, ForeignObject

        from .bulk import AnyOf, RelatedAnyOf

        Field.register_lookup(AnyOf)
        # Foreign keys look up only their own class's lookups, not Field's.
        ForeignObject.register_lookup(RelatedAnyOf)

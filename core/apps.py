from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Auditoría")

    def ready(self) -> None:
        from django.contrib.contenttypes.models import ContentType
        from django.db.models import Field, ForeignObject

        from .bulk import AnyOf, RelatedAnyOf
        from .tenancy import tenant_paths_register

        tenant_paths_register({ContentType: None})
        Field.register_lookup(AnyOf)
        # Foreign keys cached their lookups when the models loaded, before this; and a
        # foreign key's values may be objects, which RelatedIn turns into ids.
        ForeignObject.register_lookup(RelatedAnyOf)

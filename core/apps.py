from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = _("Auditoría")

    def ready(self) -> None:
        from django.contrib.contenttypes.models import ContentType
        from django.db.models import Field, ForeignObject
        from django_celery_beat import models as beat_models

        from .bulk import AnyOf, RelatedAnyOf
        from .tenancy import PLATFORM_ONLY, tenant_paths_register

        tenant_paths_register({ContentType: None})
        tenant_paths_register(
            {
                model: PLATFORM_ONLY
                for model in (
                    beat_models.PeriodicTask,
                    beat_models.PeriodicTasks,
                    beat_models.ClockedSchedule,
                    beat_models.CrontabSchedule,
                    beat_models.SolarSchedule,
                    beat_models.IntervalSchedule,
                )
            }
        )
        Field.register_lookup(AnyOf)
        # Foreign keys cached their lookups when the models loaded, before this; and a
        # foreign key's values may be objects, which RelatedIn turns into ids.
        ForeignObject.register_lookup(RelatedAnyOf)

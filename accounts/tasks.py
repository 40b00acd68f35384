from celery import shared_task

from . import services


@shared_task
def verification_codes_purge() -> int:
    return services.verification_codes_purge()

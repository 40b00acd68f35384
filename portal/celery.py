import gc
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.local")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def database_connections_as_in_requests(sender=None, **kwargs) -> None:
    """Around each task, what Django does around each request: close a connection that is
    older than CONN_MAX_AGE or broken, and health-check the one kept (CONN_HEALTH_CHECKS).

    Celery would otherwise close it after every task (CELERY_DB_REUSE_MAX in settings), and
    every new PostgreSQL connection is a new server process: a few milliseconds of CPU per
    task, on the cores the web answers need (docs/performance.md, "Webhook
    acknowledgement"). Eager tasks run inside the caller's request or test: left alone.
    """
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect
def garbage_collector_settled(**kwargs) -> None:
    """Leave what the worker process loaded at start (Django, the apps, their modules)
    out of every later garbage collection.

    Those objects live as long as the process, yet each full collection walks them all;
    a settlement batch creates thousands of objects at once and triggers many
    collections (docs/performance.md, "Settlement import").
    """
    gc.freeze()

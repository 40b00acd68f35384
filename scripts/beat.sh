#!/bin/sh
# Celery beat: it enqueues the periodic jobs for the workers. The schedule lives in the
# database (django-celery-beat: staff see, pause and run jobs in the admin, "Periodic
# tasks"); CELERY_BEAT_SCHEDULE is written there at start. Run one; a second one started
# by mistake waits as a standby and sends nothing while the first leads (core.beat).
#   LOG_LEVEL           default INFO
# Extra arguments are passed to `celery beat`.
set -eu

exec celery -A portal beat \
    --loglevel "${LOG_LEVEL:-INFO}" \
    "$@"

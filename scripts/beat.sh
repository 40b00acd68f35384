#!/bin/sh
# Celery beat: run exactly one, it enqueues CELERY_BEAT_SCHEDULE for the workers.
#   BEAT_SCHEDULE_FILE  where beat keeps its state (default /tmp/celerybeat-schedule)
#   LOG_LEVEL           default INFO
# Extra arguments are passed to `celery beat`.
set -eu

exec celery -A portal beat \
    --loglevel "${LOG_LEVEL:-INFO}" \
    --schedule "${BEAT_SCHEDULE_FILE:-/tmp/celerybeat-schedule}" \
    "$@"

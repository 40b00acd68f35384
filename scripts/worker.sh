#!/bin/sh
# The Celery worker (Redis broker from REDIS_URL).
#   CELERY_CONCURRENCY  worker processes (default: one per CPU)
#   LOG_LEVEL           default INFO
# Extra arguments are passed to `celery worker`.
set -eu

if [ -n "${CELERY_CONCURRENCY:-}" ]; then
    set -- --concurrency "$CELERY_CONCURRENCY" "$@"
fi

exec celery -A portal worker --loglevel "${LOG_LEVEL:-INFO}" "$@"

#!/bin/sh
# The Celery worker (Redis broker from REDIS_URL).
#   CELERY_CONCURRENCY  worker processes (default: one per CPU)
#   WORKER_NICE         CPU priority below the web processes' (default 10; 0: the same).
#                       Sharing cores with gunicorn, the web answers (gateways' webhooks,
#                       subscribers' pages) go first and crediting, batched, follows a
#                       second later (docs/performance.md, "Webhook acknowledgement").
#   LOG_LEVEL           default INFO
# Extra arguments are passed to `celery worker`.
set -eu

if [ -n "${CELERY_CONCURRENCY:-}" ]; then
    set -- --concurrency "$CELERY_CONCURRENCY" "$@"
fi

exec nice -n "${WORKER_NICE:-10}" celery -A portal worker --loglevel "${LOG_LEVEL:-INFO}" "$@"

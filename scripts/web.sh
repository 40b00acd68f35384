#!/bin/sh
# The web process: apply migrations, then gunicorn serving portal.wsgi.
#   WEB_CONCURRENCY   gunicorn workers (default: 2 per CPU; measured best on 2 cores, see
#                     docs/performance.md, "Webhook acknowledgement")
#   BIND              address to listen on (default 0.0.0.0:$PORT, PORT default 8000)
#   GUNICORN_TIMEOUT  seconds before a stuck worker is restarted (default 30)
# Extra arguments are passed to gunicorn.
set -eu

python manage.py migrate --noinput

exec gunicorn portal.wsgi:application \
    --bind "${BIND:-0.0.0.0:${PORT:-8000}}" \
    --workers "${WEB_CONCURRENCY:-$((2 * $(nproc)))}" \
    --timeout "${GUNICORN_TIMEOUT:-30}" \
    --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-30}" \
    --access-logfile - \
    --error-logfile - \
    "$@"

# Antena: one image for the web (gunicorn), the Celery worker and Celery beat.
# The process is chosen by the command: scripts/web.sh, scripts/worker.sh or scripts/beat.sh.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=portal.settings.production

WORKDIR /app

# Pango, HarfBuzz and a font for WeasyPrint (billing's invoice PDFs).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# The project itself (editable, so BASE_DIR stays /app with templates/, static/ and
# locale/), its translations, and the static files WhiteNoise serves (hashed names).
# Production settings need a SECRET_KEY to load; this one lives only in this RUN step.
RUN pip install --no-deps -e . \
    && export SECRET_KEY=build-time-only-not-used-at-runtime \
    && python manage.py compile_translations \
    && python manage.py collectstatic --noinput \
    && chmod 0755 scripts/*.sh \
    && useradd --system --uid 10001 --create-home --home-dir /home/antena antena \
    && mkdir -p /app/media /app/var \
    && chown antena /app/media /app/var

USER antena
EXPOSE 8000
CMD ["/app/scripts/web.sh"]

"""bench/lighthouse/run.py's server: `make run`'s settings (portal.settings.local) with
the pages and static files served as production serves them: DEBUG off, static files
collected with hashed names and precompressed (CompressedManifestStaticFilesStorage, the
Docker image's `collectstatic`), so WhiteNoise answers them gzipped or in Brotli with a
year's cache. Plain HTTP on 127.0.0.1 (no TLS proxy here): production's HTTPS-only
settings are left out."""

from portal.settings.local import *  # noqa: F403
from portal.settings.local import env

DEBUG = False
STATIC_ROOT = env("STATIC_ROOT")
WHITENOISE_AUTOREFRESH = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

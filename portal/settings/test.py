"""pytest: like production where it matters, fast where it does not."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-only-not-secret"
# A non-UTC zone catches naive dates (see STYLE.md).
TIME_ZONE = "America/Mexico_City"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker started by an integration test is given the file backend, to be read back.
SMS_BACKEND = env("TEST_SMS_BACKEND", default="accounts.sms.LocmemBackend")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ADMIN_REQUIRE_MFA = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)
# Serve static files from the apps and static/ without collectstatic.
WHITENOISE_AUTOREFRESH = True
# Tasks run in-process in tests; integration tests start a real worker and switch this off.
CELERY_TASK_ALWAYS_EAGER = True

"""`make run`: SQLite, tasks in-process, SMS codes printed in the server's console."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="local-development-only-not-secret")
# The demo admin printed by seed_demo logs straight in; production requires TOTP.
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=False)
# Serve static files from the apps and static/ without collectstatic.
WHITENOISE_AUTOREFRESH = True

"""Settings shared by every environment; everything that differs comes from the environment."""

from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Each ISP's portal may live at <its handle domain>.ANTENA_DOMAIN (kona.antena.example):
# add ".ANTENA_DOMAIN" to ALLOWED_HOSTS too. Empty: ISPs' own hosts and /p/<code>/ only.
# Phones are stored and passed around as E.164 strings (+525512345678); forms take and show
# them in the ISP's national format (its country as the region).
PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"
ANTENA_DOMAIN = env("ANTENA_DOMAIN", default="").lower().strip(".")
# Where this install answers, for links sent by SMS or e-mail from the worker (an ISP
# without its own host is at PORTAL_BASE_URL/p/<code>/).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="http://127.0.0.1:8000")
# Invitations to create an account leave at most this many a minute (an SMS gateway's
# pace; a file of 5,000 contracts is invited over the hours that follow, never at night).
INVITATIONS_PER_MINUTE = env.int("INVITATIONS_PER_MINUTE", default=60)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "phonenumber_field",
    "core",
    "accounts",
    "plans",
    "notifications",
    "billing",
    "payments",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # HTML gzipped for phones on slow links (about a third of the bytes; Django's gzip adds
    # random padding against BREACH); static files come pre-compressed from WhiteNoise.
    "django.middleware.gzip.GZipMiddleware",
    # Webhooks go straight to their view from here: no session, language or login.
    "portal.middleware.StatelessPathsMiddleware",
    # django-csp's, with the header built once per process (core/middleware.py).
    "core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Each ISP's portal (its host, or /p/<code>/); a session belongs to one ISP.
    "accounts.middleware.ProviderPortalMiddleware",
    # Its ISP's language on a portal, unless the person chose one (after the portal is known).
    "portal.middleware.ProviderLanguageMiddleware",
    "core.middleware.AuditContextMiddleware",
    "core.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.AdminRequiresMFAMiddleware",
]

# No inline script or style anywhere: scripts are static files (static/js/antena.js), the
# one inline style (the ISP's brand colour) carries the request's nonce, the barcodes'
# colours are attributes. Every environment, so tests and `make run` see what
# production does.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        # The portal's pages (portal/jinja2.py), compiled to Python once per process;
        # docs/performance.md has what it bought. First, so that allauth's views find
        # our pages.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "portal.jinja2.environment",
            "context_processors": [
                "portal.jinja2.csrf_input_once",
                "django.template.context_processors.i18n",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_contract",
            ],
        },
    },
    {
        # The admin, allauth's own pages (wrapped in the portal's layout by
        # templates/allauth/layouts/base.html) and the PDFs.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Keep connections open between requests (a new PostgreSQL connection costs milliseconds).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Parameters bound by the server, and a statement run twice on a connection kept
    # prepared there: PostgreSQL stops parsing and planning the same few queries on every
    # page (a half to two thirds of its CPU per page, docs/performance.md). Behind a
    # pooler in transaction mode (PgBouncer < 1.21) set DATABASE_PREPARE_THRESHOLD=off.
    _threshold = env("DATABASE_PREPARE_THRESHOLD", default="2")
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=None if _threshold == "off" else int(_threshold),
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
CACHE_URL = env("CACHE_URL", default=REDIS_URL)
if CACHE_URL:
    CACHES = {
        "default": {
            # Fails open to the process's memory while Redis is down (portal/cache.py).
            "BACKEND": "portal.cache.FailOpenRedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "antena",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
# How core.tenancy finds a subscriber's contracts (the only way a subscriber reaches rows).
SUBSCRIBER_CONTRACTS = "accounts.selectors.contracts_for"
AUTHENTICATION_BACKENDS = [
    # allauth's, reading a session's login with its contracts in one query. First, so that
    # a sign-in (the portal's form, the admin's) records it in the session.
    "accounts.backends.PortalAuthenticationBackend",
    # Only for the sessions it signed in, while it came first (until 1 December 2026).
    "django.contrib.auth.backends.ModelBackend",
]
# Argon2id first (accounts.hashers: its parameters and why); PBKDF2 hashes of earlier
# installs still verify and are rehashed with Argon2id at the next sign-in.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=12)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.ProviderSpecialCharacterValidator"},
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "account_login"

# Sessions read from the cache (Redis) and written through to the database: a page reads
# no session row, and with Redis down they still work from the database (DESIGN.md).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# "Recordarme": ticked keeps the session 30 days, unticked ends it with the browser.
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "change_password": "accounts.forms.ChangePasswordForm",
    "reset_password_from_key": "accounts.forms.ResetPasswordKeyForm",
}
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# Claims copy the contract's e-mail onto the login; two ISPs may share one subscriber e-mail.
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_USERNAME_MIN_LENGTH = 3
ACCOUNT_RATE_LIMITS = {
    # Failed logins, per IP and per account (the handle or e-mail typed).
    "login_failed": env("RATE_LIMIT_LOGIN_FAILED", default="10/m/ip,5/5m/key"),
    "login": "30/m/ip",
    "change_password": "5/m/user",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    # Contract claims ("Crear una cuenta"): per IP and per ISP + contract number.
    "claim": env("RATE_LIMIT_CLAIM", default="20/h/ip,5/h/key"),
    # Codes typed in the claim or reset step, per IP.
    "verify_code": "30/h/ip",
    # Payment references and checkouts created, per contract.
    "payment_start": env("RATE_LIMIT_PAYMENT_START", default="10/h/key"),
    # Promesa de pago requests, per contract.
    "payment_promise": "5/h/key",
    # SMS sent for one contract or account, whatever the flow.
    "sms": env("RATE_LIMIT_SMS", default="3/h/key"),
}
# The client's address, for every rate limit and the audit trail (allauth's rule): with N
# proxies of ours in front, the N-th address from the right of X-Forwarded-For; with 0,
# REMOTE_ADDR and X-Forwarded-For ignored (anyone could write it). Or a header the proxy
# sets to the client's address alone (X-Real-IP, CF-Connecting-IP).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env("TRUSTED_CLIENT_IP_HEADER", default=None)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Antena"
# Staff must have TOTP set up and have used it to sign in before they reach /admin/.
ADMIN_REQUIRE_MFA = env.bool("ADMIN_REQUIRE_MFA", default=True)

# One-time codes for contract claims and password resets.
VERIFICATION_CODE_TTL_SECONDS = 10 * 60
VERIFICATION_CODE_MAX_ATTEMPTS = 3

# Gateway credentials are encrypted at rest with these Fernet keys (each 32 url-safe base64
# bytes, comma-separated, newest first: it encrypts, all decrypt); empty: one derived from
# SECRET_KEY. Production requires them (portal/settings/production.py).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

SMS_BACKEND = env("SMS_BACKEND", default="accounts.sms.ConsoleBackend")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(BASE_DIR / "var" / "sms"))
SMS_HTTP_URL = env("SMS_HTTP_URL", default="")
SMS_HTTP_TOKEN = env("SMS_HTTP_TOKEN", default="")
SMS_HTTP_TIMEOUT = env.float("SMS_HTTP_TIMEOUT", default=5.0)

# A function an ISP's fiscal stamping service provides (CFDI, CAE), called with each
# invoice issued by the billing job; empty: none (billing.invoicing).
INVOICE_STAMPER = env("INVOICE_STAMPER", default="")
# WhatsApp messages (notifications.backends); empty: the channel is not offered.
WHATSAPP_BACKEND = env("WHATSAPP_BACKEND", default="")
WHATSAPP_HTTP_URL = env("WHATSAPP_HTTP_URL", default="")
WHATSAPP_HTTP_TOKEN = env("WHATSAPP_HTTP_TOKEN", default="")
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Antena <no-reply@antena.local>")

LANGUAGE_CODE = "es"
# es speaks tú (the msgids, KONA's voice); es-ar speaks usted through its own catalogue
# (Wispro's voice). An ISP's portal starts in its `Provider.locale` (portal.middleware).
# The names are not marked for translation: "Español" and "Español de Argentina" read the
# same in every language (the footer's selector passes them through gettext, where only
# Django's own catalogues know "English").
LANGUAGES = [
    ("es", "Español"),
    ("es-ar", "Español de Argentina"),
    ("en", "English"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served at the site's root by WhiteNoise: /favicon.ico (asked for by every browser) and
# /robots.txt.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
MEDIA_URL = "/media/"
MEDIA_ROOT = env("MEDIA_ROOT", default=str(BASE_DIR / "media"))

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# With Redis down, handing on a task fails within about a second instead of retrying for
# long; the work waits in the outbox (core.outbox) or on its row for the beat.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
# Celery closes the worker's database connections around every task unless this is set;
# portal.celery instead keeps them by CONN_MAX_AGE with health checks, like web requests.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Webhook deliveries that fail (no such ISP or gateway, a bad signature) per source address
# and minute before its deliveries are refused (429) unread; verified ones never count.
WEBHOOK_REJECTED_PER_MINUTE = env.int("WEBHOOK_REJECTED_PER_MINUTE", default=30)
# Webhook deliveries larger than this are refused (413); the gateways' are a few KB.
WEBHOOK_MAX_BYTES = env.int("WEBHOOK_MAX_BYTES", default=256 * 1024)
# Deliveries that never verified (rejected, or the gateway unreachable) are kept this long.
WEBHOOK_UNVERIFIED_DAYS = env.int("WEBHOOK_UNVERIFIED_DAYS", default=30)
# A settlement file is applied by this many worker tasks at once, its lines parted by
# reference: about the workers' total concurrency (payments.settlement).
SETTLEMENT_APPLY_PARTS = env.int("SETTLEMENT_APPLY_PARTS", default=2)
# Contracts the recompute decides per transaction (billing.recompute).
RECOMPUTE_CHUNK_SIZE = env.int("RECOMPUTE_CHUNK_SIZE", default=5000)
# A service change is sent to the ISP's network up to this many times, the waits between
# tries doubling and adding up to this many seconds (billing.network).
NETWORK_DELIVERY_ATTEMPTS = env.int("NETWORK_DELIVERY_ATTEMPTS", default=12)
NETWORK_DELIVERY_SPAN = env.int("NETWORK_DELIVERY_SPAN", default=24 * 60 * 60)
# The lease of a periodic job's lock and of the beat's leadership, renewed while held
# (core.jobs, core.beat): how long a crashed holder keeps others out.
JOB_LOCK_SECONDS = env.int("JOB_LOCK_SECONDS", default=60)
BEAT_LEADER_SECONDS = env.int("BEAT_LEADER_SECONDS", default=30)
CELERY_BEAT_SCHEDULER = "core.beat:LeaderScheduler"
CELERY_BEAT_SCHEDULE = {
    # Every five minutes, so also within minutes of each ISP's local midnight (every
    # time zone of the region is a whole number of hours from UTC).
    "recompute-validity": {
        "task": "billing.tasks.recompute_validity_task",
        "schedule": crontab(minute="*/5"),
    },
    # Messages held by quiet hours go out at 08:00 where each ISP is.
    "send-notifications": {
        "task": "notifications.tasks.notifications_deliver_task",
        "schedule": 60,
    },
    # Reminders before credit runs out, once per contract, vigencia and day.
    "remind-credit": {
        "task": "payments.tasks.credit_reminders_task",
        "schedule": crontab(minute=10),
    },
    # Postpaid invoices on each contract's billing day (once per period, whatever runs).
    "issue-invoices": {
        "task": "billing.tasks.invoices_issue_task",
        "schedule": crontab(minute=20),
    },
    # Pending gateway payments older than 15 minutes, in case their webhook never came.
    "poll-gateway-payments": {
        "task": "payments.tasks.payments_poll_task",
        "schedule": 5 * 60,
    },
    "send-network-deliveries": {
        "task": "billing.tasks.network_deliveries_send_task",
        "schedule": 60,
    },
    "purge-verification-codes": {
        "task": "accounts.tasks.verification_codes_purge",
        "schedule": 60 * 60,
    },
    # Verified deliveries are credited as they arrive; this catches any a worker dropped.
    "credit-verified-webhooks": {
        "task": "payments.tasks.webhook_deliveries_credit_task",
        "schedule": 60,
    },
    # Work left in the outbox while Redis was down, or handed on and lost.
    "relay-outbox": {
        "task": "core.tasks.outbox_relay_task",
        "schedule": 60,
    },
    "purge-unverified-webhooks": {
        "task": "payments.tasks.webhook_deliveries_purge_task",
        "schedule": 24 * 60 * 60,
    },
    "expire-payment-references": {
        "task": "payments.tasks.payments_expire_task",
        "schedule": 10 * 60,
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # The SDK logs request bodies at DEBUG and Stripe's error texts at INFO.
        "stripe": {"level": "WARNING"},
    },
}

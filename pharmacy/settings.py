"""Settings for the pharmacy, one module for every environment.

Every deploy-specific value comes from the environment through the small typed helpers
below, which stop the process with the variable's name when a value is malformed.
With no variables at all the project runs for development: embedded PostgreSQL and
Redis under ``var/`` (see ``pharmacy/devservices.py``) and e-mail written to files.
"""

import os
import sys
import zoneinfo
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from lib.us_addresses import US_STATES
from pharmacy import devservices

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = devservices.VAR_DIR


# --------------------------------------------------------------------------- helpers


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"The environment variable {name} is required.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean; use true/false, yes/no, on/off or 1/0."
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if number != number or (minimum is not None and number < minimum):  # NaN, or too small
        raise ImproperlyConfigured(f"{name}={value!r} must be a number of at least {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_states(name: str, default: list[str]) -> frozenset[str]:
    """Comma-separated two-letter US state codes (any case); an unknown code fails."""
    states = [state.upper() for state in env_list(name, default)]
    unknown = [state for state in states if state not in US_STATES]
    if unknown:
        raise ImproperlyConfigured(
            f"{name} holds {', '.join(map(repr, unknown))}, not US state codes; write "
            "two-letter codes separated by commas, such as TX,NY."
        )
    return frozenset(states)


def parse_database_url(name: str, value: str) -> dict:
    if urlsplit(value).scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"{name} must be a postgres:// URL, not {value!r}.")
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {error}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database, e.g. postgres://host/pharmacy.")
    return config


def parse_redis_url(name: str, value: str) -> str:
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"{name} must be a redis://, rediss:// or unix:// URL.")
    return value


def parse_email_url(name: str, value: str) -> dict:
    """`smtp://user:password@host:587?tls=1`, `smtps://...`, `console:` or `file:/path`."""
    url = urlsplit(value)
    if url.scheme == "console":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if url.scheme == "file":
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": url.path or str(VAR_DIR / "mail"),
        }
    if url.scheme not in {"smtp", "smtps"} or not url.hostname:
        raise ImproperlyConfigured(
            f"{name} must look like smtp://user:password@host:587, smtps://..., console: or "
            f"file:/path, not {value!r}."
        )
    query = parse_qs(url.query)
    try:
        port = url.port or (465 if url.scheme == "smtps" else 25)
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port.") from None
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": url.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(url.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(url.password or ""),
        "EMAIL_USE_SSL": url.scheme == "smtps",
        "EMAIL_USE_TLS": query.get("tls", ["0"])[0] in {"1", "true"},
    }


def parse_rate(name: str, value: str) -> str:
    """A throttle rate as DRF writes it: requests per second, minute, hour or day."""
    number, _, period = value.partition("/")
    if not (number.strip().isdigit() and period.strip() in RATE_PERIODS):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; write it like 60/min (per sec, min, hour or day)."
        )
    return f"{int(number)}/{period.strip()}"


RATE_PERIODS = {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}


def parse_time_zone(name: str, value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not an IANA time zone.") from None
    return value


# --------------------------------------------------------------------------- core

DEBUG = env_bool("DEBUG", True)
if DEBUG:
    SECRET_KEY = env_str("SECRET_KEY", "development-only-secret-key-never-use-in-production")
else:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    # The second sign-in factor: an authenticator app (TOTP) and single-use recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Our apps, in dependency order: an app imports only from apps above it.
    "outbox",
    "inventory",
    "pharmacy",
    "orders",
    "shipping",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outermost but one, so every answer carries its headers, the other middleware's too.
    "pharmacy.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that queries with request data or reads the body (sessions, CSRF).
    "lib.request_limits.RequestLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Which device, if any, passed this session's second factor (request.user.is_verified).
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "pharmacy.middleware.SessionLimitsMiddleware",
    # After the session limits: an ended session signs in again rather than verifies.
    "pharmacy.access.SecondFactorMiddleware",
    # Sees the answer of every view: a signed-out person refused anything is sent to
    # sign in and back (a 403 too), htmx fragments by HX-Redirect.
    "pharmacy.access.SignInRedirectMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "pharmacy.urls"
WSGI_APPLICATION = "pharmacy.wsgi.application"
ASGI_APPLICATION = "pharmacy.asgi.application"
AUTH_USER_MODEL = "pharmacy.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "pharmacy.context_processors.pharmacy",
                "shipping.navigation.navigation",
            ],
        },
    },
]

# --------------------------------------------------------------------------- data stores

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": parse_database_url("DATABASE_URL", os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": dj_database_url.parse(
            devservices.embedded_database_url(), conn_max_age=60, conn_health_checks=True
        )
    }
# Tests (pytest-django) create "test_<name>"; a Celery worker started by a test is
# pointed at that database through this variable.
if os.environ.get("DATABASE_NAME_OVERRIDE"):
    DATABASES["default"]["NAME"] = os.environ["DATABASE_NAME_OVERRIDE"]
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
    "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
)
# Behind a pooler in transaction mode (PgBouncer's pool_mode = transaction) each
# transaction may run on another server connection, so nothing may outlive one on the
# server: Django's server-side cursors (``.iterator()``, WITH HOLD outside a transaction)
# would. Connections to the pooler are still kept (CONN_MAX_AGE): they cost it nothing.
DATABASE_TRANSACTION_POOLING = env_bool("DATABASE_TRANSACTION_POOLING", False)
if DATABASE_TRANSACTION_POOLING:
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Tests use their own Redis database so a `make run` going on at the same time never
# consumes their Celery tasks; the worker and commands a test starts inherit the variable.
if "pytest" in sys.modules:
    os.environ.setdefault("PHARMACY_TEST_REDIS", "1")
_redis_db = 0 if not os.environ.get("PHARMACY_TEST_REDIS") else 8
REDIS_URL = parse_redis_url(
    "REDIS_URL", os.environ.get("REDIS_URL") or devservices.embedded_redis_url(_redis_db)
)

# A web request waits on a frozen Redis (broker or cache) at most this long, never a
# worker thread; what it queued is in the outbox already, so a timed-out publish only
# delays work. Our Redis clients give up on each command or connection attempt after
# half of it: a publish on a new connection makes two attempts (kombu's
# ensure_connection with max_retries=1).
BROKER_PUBLISH_TIMEOUT = env_float("BROKER_PUBLISH_TIMEOUT", 1.0, minimum=0.1)
REDIS_SOCKET_TIMEOUT = BROKER_PUBLISH_TIMEOUT / 2

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "test" if os.environ.get("PHARMACY_TEST_REDIS") else "",
        "TIMEOUT": 300,
        # Sessions live in the database (SESSION_ENGINE is Django's default), so a hung
        # Redis never stalls a page; whatever uses the cache waits this long at most.
        "OPTIONS": {
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

# --------------------------------------------------------------------------- Celery


def celery_broker_url(redis_url: str) -> str:
    """Kombu spells a Unix-socket Redis differently, and reads the database number only
    from `virtual_host` there: redis+socket:///path?virtual_host=N."""
    url = urlsplit(redis_url)
    if url.scheme != "unix":
        return redis_url
    database = parse_qs(url.query).get("db", ["0"])[0]
    return f"redis+socket://{url.path}?virtual_host={database}"


CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# A task is acknowledged only after it finished, and goes back to the queue if the worker
# dies mid-task: a label or alert is never lost (tasks must therefore be idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=2)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # With late acks a task whose worker died is redelivered after the visibility timeout.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=60),
    # No retry after REDIS_SOCKET_TIMEOUT: a frozen Redis would otherwise hold a
    # publishing web request forever. An idle worker is unaffected (Redis answers its
    # BRPOP within BRPOP's own timeout).
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "retry_on_timeout": False,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
# A publish that fails is not retried (Celery's default retries three times): the side
# effect is in the outbox and the sweep queues it again. Beat's periodic tasks are
# published again at their next run.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_DEFAULT_RETRY_DELAY = 5
# A worker delivering a side effect holds it this long; a claim that runs out (the
# worker died) is taken over by the sweep. Longer than the task time limit, so a live
# worker's claim is never taken.
OUTBOX_CLAIM_SECONDS = env_int("OUTBOX_CLAIM_SECONDS", 120, minimum=5)
CELERY_WORKER_SEND_TASK_EVENTS = False
# Periodic jobs. Side effects (Rx labels, reorder e-mails, shipments of ready orders...)
# have no catch-up of their own: the outbox sweep re-delivers every kind.
CELERY_BEAT_SCHEDULE = {
    # Side effects not delivered on their own: the broker was down at commit, the task was
    # lost, a worker died mid-delivery, or a failure is due to be tried again.
    "deliver-due-side-effects": {
        "task": "outbox.tasks.deliver_due_side_effects_task",
        "schedule": timedelta(seconds=env_int("OUTBOX_SWEEP_SECONDS", 10, minimum=1)),
    },
    "clear-expired-sessions": {
        "task": "pharmacy.tasks.clear_expired_sessions_task",
        "schedule": crontab(hour=3, minute=17),
    },
    # 05:07 UTC is just after midnight in the continental US; the task uses the local date.
    "expire-lots": {
        "task": "inventory.tasks.expire_lots_task",
        "schedule": crontab(hour=5, minute=7),
    },
    # Shipments of ready orders that their own side effect did not make (two last fills
    # approved at the same instant, a CancelRx), or whose blocked address was corrected
    # since. Cheap and idempotent.
    "ensure-shipments": {
        "task": "shipping.tasks.ensure_shipments_task",
        "schedule": timedelta(seconds=30),
    },
    # Refills scheduled for today (asked for too soon) enter the fill queue: each run
    # claims each schedule once, so the interval only bounds how late in the day.
    "queue-due-refills": {
        "task": "orders.tasks.queue_due_refills_task",
        "schedule": timedelta(minutes=env_int("SCHEDULED_REFILL_MINUTES", 15, minimum=1)),
    },
}

# --------------------------------------------------------------------------- auth

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "pharmacy.permissions.StaffRoleBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Staff sessions end after 15 idle minutes and 12 hours at most (pharmacy workstations
# are shared; PHI must not stay open on an abandoned screen).
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 15, minimum=1))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env_int("SESSION_ABSOLUTE_HOURS", 12, minimum=1))
SESSION_COOKIE_AGE = int(SESSION_IDLE_TIMEOUT.total_seconds())
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# How many proxies of our own stand in front of the application, each appending the
# address it received a request from to X-Forwarded-For (compose.yaml: Caddy, so 1). With
# 0 the header, which any client can set, is ignored. See lib/client_ip.py.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30, minimum=1))
# Lock an account from one address: locking by username alone let anyone lock anyone out,
# and by address alone would lock the whole floor (a pharmacy's workstations share one
# outbound address) after one person's typos.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "lib.client_ip.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Guessing across usernames: after this many failed sign-ins from one address within the
# window, its sign-ins are refused until the window ends (pharmacy/sign_in_limits.py).
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
LOGIN_ADDRESS_WINDOW = timedelta(minutes=env_int("LOGIN_ADDRESS_WINDOW_MINUTES", 15, minimum=1))
# At most this many failed-sign-in rows per address an hour reach the audit trail, then one
# saying the rest are not recorded: a guesser must not be able to flood it.
LOGIN_FAILURE_AUDIT_LIMIT = env_int("LOGIN_FAILURE_AUDIT_LIMIT", 20, minimum=1)
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# The second factor (issue 12). Staff of these roles, and superusers, pass it (a code from
# an authenticator app, or a recovery code) before anything else after their password;
# anyone else who set one up passes it too. See pharmacy/access.py.
MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES", ["pharmacist", "manager"])
if unknown := set(MFA_REQUIRED_ROLES) - {"technician", "pharmacist", "manager"}:
    raise ImproperlyConfigured(
        f"MFA_REQUIRED_ROLES names unknown roles {sorted(unknown)}; "
        "use technician, pharmacist and manager."
    )
# How many single-use recovery codes a person gets when they set up their app.
MFA_RECOVERY_CODES = 10
# The admin does not show authenticator secrets or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# API tokens expire this many days after they are made unless told otherwise.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90, minimum=1)

# --------------------------------------------------------------------------- security

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Every page's scripts and styles are our own static files (no inline script or style, no
# CDN), so markup smuggled into a page cannot run, and no response loosens it. No page
# frames another: the Rx label shows inline from its own HTML in a srcdoc frame, which
# loads no URL.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
# The barcode scanner is a keyboard wedge: no page needs these browser features.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# --------------------------------------------------------------------------- i18n, static

LANGUAGE_CODE = "en-us"
TIME_ZONE = parse_time_zone("TIME_ZONE", env_str("TIME_ZONE", "America/New_York"))
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --------------------------------------------------------------------------- e-mail

_email = parse_email_url("EMAIL_URL", env_str("EMAIL_URL", f"file:{VAR_DIR / 'mail'}"))
EMAIL_BACKEND = _email.pop("EMAIL_BACKEND")
globals().update(_email)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "pharmacy@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --------------------------------------------------------------------------- API

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "pharmacy.permissions.StaffTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["pharmacy.permissions.IsStaffWithRole"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "lib.api_pagination.LimitOffsetPagination",
    "DEFAULT_PARSER_CLASSES": [
        "lib.api_parsers.JSONParser",
        "lib.api_parsers.FormParser",
        "lib.api_parsers.MultiPartParser",
    ],
    "DEFAULT_METADATA_CLASS": "lib.api_metadata.SimpleMetadata",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "lib.api_errors.exception_handler",
    # Answered 429 {"error": "throttled", ...} with Retry-After (lib/throttles.py). Callers
    # without credentials per address; everyone else per user, generous for the
    # e-prescribing networks' bursts. Scopes: a view's throttle_scope.
    "DEFAULT_THROTTLE_CLASSES": [
        "lib.throttles.AnonymousRateThrottle",
        "lib.throttles.UserRateThrottle",
        "lib.throttles.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": parse_rate("API_ANON_RATE", env_str("API_ANON_RATE", "60/min")),
        "user": parse_rate("API_USER_RATE", env_str("API_USER_RATE", "2000/min")),
        # Rx number and birth date name a patient's prescription: a caller guessing birth
        # dates is stopped long before a year's worth. The callers are the patient portal
        # and the phone system, each acting for many patients under one token.
        "refill_request": parse_rate(
            "API_REFILL_REQUEST_RATE", env_str("API_REFILL_REQUEST_RATE", "600/hour")
        ),
        # A caller's answers checked before anything is disclosed to them (support).
        "identity_check": parse_rate(
            "API_IDENTITY_CHECK_RATE", env_str("API_IDENTITY_CHECK_RATE", "60/hour")
        ),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mail-order pharmacy API",
    "DESCRIPTION": "Prescription intake, fill and verification, inventory and shipping.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the drf-spectacular-sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The errors any operation may answer (400, 401, 403, 404, 413), documented once.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "lib.api_schema.document_common_errors",
    ],
    # Status fields of different models share the name "status"; name their enums apart.
    "ENUM_NAME_OVERRIDES": {
        "StockLotStatusEnum": "inventory.models.StockLot.Status",
        "FillStatusEnum": "orders.models.Fill.Status",
        "PrescriptionStatusEnum": "orders.models.Prescription.Status",
        "OrderStatusEnum": "orders.models.Order.Status",
        "HoldReasonEnum": "orders.models.HoldReason",
        "OverrideReasonEnum": "orders.models.OverrideReason",
        "DiscrepancyKindEnum": "orders.models.Discrepancy.Kind",
        "ShipmentStatusEnum": "shipping.models.Shipment.Status",
        "DeliveryExceptionKindEnum": "shipping.models.DeliveryException.Kind",
        "CarrierEnum": "shipping.models.Carrier",
    },
}

# --------------------------------------------------------------------------- the pharmacy

# Printed on every Rx vial label and packing slip (federal minimum: name, address, phone).
PHARMACY_NAME = env_str("PHARMACY_NAME", "Riverbend Mail-Order Pharmacy")
PHARMACY_ADDRESS = env_str("PHARMACY_ADDRESS", "1200 Commerce Drive, Suite 100, Columbus, OH 43215")
PHARMACY_PHONE = env_str("PHARMACY_PHONE", "(614) 555-0140")
PHARMACY_NCPDP_ID = env_str("PHARMACY_NCPDP_ID", "3612345")
PHARMACY_NPI = env_str("PHARMACY_NPI", "1245319599")
PHARMACY_DEA = env_str("PHARMACY_DEA", "FR1234563")
# The name an authenticator app shows beside the staff member's username.
OTP_TOTP_ISSUER = PHARMACY_NAME
if not (PHARMACY_NCPDP_ID.isdigit() and len(PHARMACY_NCPDP_ID) == 7):
    raise ImproperlyConfigured("PHARMACY_NCPDP_ID must be the 7-digit NCPDP provider ID.")

# Prescription rules that vary by state (DESIGN.md section 5). Controlled substances:
# 21 CFR 1306.22, at most 5 refills within 6 months of the written date.
RX_EXPIRY_DAYS = env_int("RX_EXPIRY_DAYS", 365, minimum=1)
CONTROLLED_RX_EXPIRY_DAYS = env_int("CONTROLLED_RX_EXPIRY_DAYS", 183, minimum=1)
# States whose boards let only a pharmacist take a new verbal (phone) order: when the
# patient's shipping state or the pharmacy's own (SHIP_FROM_STATE) is one, phone entry
# names the pharmacist who took it. Empty by default: each pharmacy lists its states.
VERBAL_ORDER_PHARMACIST_STATES = env_states("VERBAL_ORDER_PHARMACIST_STATES", [])
# A refill is too soon until this share (percent) of the last fill's days supply passed.
REFILL_DUE_PERCENT = env_int("REFILL_DUE_PERCENT", 75, minimum=1)
CONTROLLED_REFILL_DUE_PERCENT = env_int("CONTROLLED_REFILL_DUE_PERCENT", 90, minimum=1)

# Stock: lots expiring within this many days are listed on the expiry report.
EXPIRY_WARNING_DAYS = env_int("EXPIRY_WARNING_DAYS", 90, minimum=1)
if OUTBOX_CLAIM_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("OUTBOX_CLAIM_SECONDS must be longer than CELERY_TASK_TIME_LIMIT.")

# Filling (issue 5). A lot is dispensed only if it outlasts the patient's supply by this
# many days (the days the package spends in the mail before the first dose). A fill
# claimed by someone who did nothing with it for this many minutes may be taken over.
DISPENSE_EXPIRY_MARGIN_DAYS = env_int("DISPENSE_EXPIRY_MARGIN_DAYS", 7, minimum=0)
FILL_CLAIM_MINUTES = env_int("FILL_CLAIM_MINUTES", 15, minimum=1)


# Shipping (issue 6). The built-in local carrier signs its tracking webhooks with this
# secret (hex HMAC-SHA256 of the body); a development default, a real one in production.
if DEBUG:
    LOCAL_CARRIER_WEBHOOK_SECRET = env_str(
        "LOCAL_CARRIER_WEBHOOK_SECRET", "development-only-local-carrier-webhook-secret"
    )
else:
    LOCAL_CARRIER_WEBHOOK_SECRET = env_str("LOCAL_CARRIER_WEBHOOK_SECRET")
    if len(LOCAL_CARRIER_WEBHOOK_SECRET) < 32:
        raise ImproperlyConfigured(
            "LOCAL_CARRIER_WEBHOOK_SECRET must be at least 32 characters in production."
        )
# EasyPost (optional): with no API key only the built-in local carrier is offered. Its
# webhooks are refused until EASYPOST_WEBHOOK_SECRET is set.
EASYPOST_API_KEY = env_str("EASYPOST_API_KEY", "")
EASYPOST_WEBHOOK_SECRET = env_str("EASYPOST_WEBHOOK_SECRET", "")
EASYPOST_API_BASE = env_str("EASYPOST_API_BASE", "https://api.easypost.com/v2")
if urlsplit(EASYPOST_API_BASE).scheme not in {"https", "http"}:
    raise ImproperlyConfigured("EASYPOST_API_BASE must be an https:// URL.")
# The return address printed on carrier labels and sent to carriers.
SHIP_FROM = {
    "name": env_str("SHIP_FROM_NAME", PHARMACY_NAME),
    "line1": env_str("SHIP_FROM_LINE1", "1200 Commerce Drive"),
    "line2": env_str("SHIP_FROM_LINE2", "Suite 100"),
    "city": env_str("SHIP_FROM_CITY", "Columbus"),
    "state": env_str("SHIP_FROM_STATE", "OH"),
    "postal_code": env_str("SHIP_FROM_POSTAL_CODE", "43215"),
    "phone": env_str("SHIP_FROM_PHONE", PHARMACY_PHONE),
}

# `/health/` answers within HEALTH_TIMEOUT (a check still waiting is reported down) and
# reuses one round of checks for HEALTH_CACHE_SECONDS, so a busy probe costs no more. A
# worker that missed three heartbeats is counted dead.
HEALTH_TIMEOUT = env_int("HEALTH_TIMEOUT_MS", 1000, minimum=50) / 1000
HEALTH_CACHE_SECONDS = env_float("HEALTH_CACHE_SECONDS", 2.0, minimum=0)
WORKER_HEARTBEAT_SECONDS = env_float("WORKER_HEARTBEAT_SECONDS", 1.0, minimum=0.2)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # WeasyPrint logs every rendering step of every PDF at INFO.
    "loggers": {"axes": {"level": "WARNING"}, "weasyprint.progress": {"level": "WARNING"}},
}

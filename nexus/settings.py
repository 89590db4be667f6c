"""Django settings for Nexus.

Every difference between environments comes from environment variables; `.env.example`
lists each one. Outside DEBUG the process refuses to start without its secrets.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from nexus.env import env_bool, env_int, env_list, env_required, env_str, load_env_file

BASE_DIR = Path(__file__).resolve().parent.parent
# `.env` (or the file NEXUS_ENV_FILE names; empty: none) fills in variables that the real
# environment does not set; the real environment always wins.
load_env_file(BASE_DIR / ".env")

# =============================================================================
# CORE
# =============================================================================
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_required(
    "DJANGO_SECRET_KEY", unless=DEBUG, fallback="insecure-development-key-only-for-DEBUG"
)
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "csp",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "nexus",
    "users",
    "catalog",
    "cart",
    "orders",
    "payments",
    "reviews",
    "webhooks",
]

# The session, authentication and message middleware run for the admin's paths only
# (``NEXUS_SESSION_PATH_PREFIXES``); the API authenticates by token (nexus/middleware.py).
MIDDLEWARE = [
    "nexus.middleware.RequestIDMiddleware",
    "nexus.middleware.MetricsMiddleware",
    "nexus.middleware.RequestGuardMiddleware",
    "nexus.middleware.PrivateCacheMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "nexus.middleware.NexusCSPMiddleware",
    "nexus.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "nexus.middleware.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "nexus.middleware.AuthenticationMiddleware",
    "nexus.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

NEXUS_SESSION_PATH_PREFIXES = ("/admin/",)

ROOT_URLCONF = "nexus.urls"
WSGI_APPLICATION = "nexus.wsgi.application"
ASGI_APPLICATION = "nexus.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "nexus" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_USER_MODEL = "users.User"
# authenticate() (the admin's login included) checks passwords through the API's lockout.
AUTHENTICATION_BACKENDS = ["users.backends.LockoutModelBackend"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))

# Uploads: product images are capped at 5 MB (nginx's client_max_body_size matches).
NEXUS_MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Any request body (JSON or multipart) above this is refused with 413 (nexus/middleware.py).
NEXUS_MAX_REQUEST_BYTES = 6 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024
# JSON bodies nesting arrays/objects deeper than this are refused (400 parse_error).
NEXUS_JSON_MAX_DEPTH = env_int("NEXUS_JSON_MAX_DEPTH", 32)

# =============================================================================
# DATABASE
# =============================================================================
# Unset DATABASE_URL: a SQLite file for the quick start. Production, Compose and CI set a
# postgres:// URL; connections are persistent and health-checked, and connecting gives
# up after a few seconds so that a dead database fails requests fast instead of hanging.
_database_url = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with the health check skipped for DATABASE_HEALTH_CHECK_INTERVAL_MS
    # ms after a request on the connection succeeded (nexus/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "nexus.postgresql"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3)}
    )
    # Server-side binding: parameters travel apart from the statement text, so psycopg
    # can prepare a statement it has run DATABASE_PREPARE_THRESHOLD times on this
    # connection and PostgreSQL stops parsing and planning it on every request (about a
    # third of PostgreSQL's CPU in a checkout; docs/PERFORMANCE.md). "off" keeps
    # server-side binding without prepared statements (a pooler that cannot track them,
    # e.g. PgBouncer older than 1.21 in transaction mode); DATABASE_SERVER_SIDE_BINDING=0
    # goes back to Django's default, client-side binding.
    if env_bool("DATABASE_SERVER_SIDE_BINDING", True):
        _prepare = env_str("DATABASE_PREPARE_THRESHOLD", "5").strip().lower()
        DATABASES["default"]["OPTIONS"].update(
            {
                "server_side_binding": True,
                "prepare_threshold": None
                if _prepare in ("off", "none")
                else env_int("DATABASE_PREPARE_THRESHOLD", 5),
            }
        )
    if DATABASES["default"]["OPTIONS"].get("options") is None:
        # A runaway query must not pin a worker: cap every statement.
        DATABASES["default"]["OPTIONS"]["options"] = (
            f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 15000)}"
        )
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "nexus.postgresql"
# Milliseconds after a request on a connection succeeded during which the next request
# skips CONN_HEALTH_CHECKS' SELECT 1 (PostgreSQL; 0: check before every request, as Django
# does). Kept in seconds.
DATABASE_HEALTH_CHECK_INTERVAL = env_int("DATABASE_HEALTH_CHECK_INTERVAL_MS", 1000) / 1000

# =============================================================================
# CACHE
# =============================================================================
# Unset REDIS_URL: an in-process cache. With Redis, short socket timeouts and ignored
# exceptions make a dead Redis a slower, uncached service instead of hung requests.
REDIS_URL = env_str("REDIS_URL")
# Each pytest-xdist worker gets its own key space so parallel tests never share entries.
_cache_prefix = env_str("CACHE_KEY_PREFIX", "nexus") + os.environ.get("PYTEST_XDIST_WORKER", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _cache_prefix,
            "TIMEOUT": 300,
            "OPTIONS": {
                "CLIENT_CLASS": "nexus.cache.CircuitBreakerClient",
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
                "CONNECTION_POOL_KWARGS": {"retry_on_timeout": False},
            },
        }
    }
    DJANGO_REDIS_IGNORE_EXCEPTIONS = True
    # The circuit breaker logs each outage once instead of a traceback per cache call.
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "nexus",
            "KEY_PREFIX": _cache_prefix,
        }
    }
# After a Redis error the cache is skipped for this long (nexus/cache.py).
NEXUS_CACHE_BREAKER_SECONDS = env_int("NEXUS_CACHE_BREAKER_SECONDS", 5)

# =============================================================================
# BACKGROUND WORK (Celery, the outbox, scheduled jobs)
# =============================================================================
# The broker must never evict: production points this at its own Redis (noeviction,
# append-only), not at the allkeys-lru cache (docs/DEPLOYMENT.md).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL
# "celery": outbox rows go to the workers after commit. "inline": delivered in this process
# right after the commit (the quick start without Redis needs no worker).
NEXUS_OUTBOX_DISPATCH = env_str("NEXUS_OUTBOX_DISPATCH") or (
    "celery" if CELERY_BROKER_URL else "inline"
)
if NEXUS_OUTBOX_DISPATCH not in ("celery", "inline"):
    raise ImproperlyConfigured("NEXUS_OUTBOX_DISPATCH must be 'celery' or 'inline'.")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged after it ran; a worker killed mid-task gets it redelivered.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from a request must not wait on a dead broker: no publish retries (the outbox
# sweeper re-enqueues what could not be published) and short socket timeouts.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # An unacknowledged task (its worker died) is redelivered after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    # A publish tries the connection once more at most instead of for connect timeout.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
}
CELERY_BEAT_SCHEDULER = "nexus.celery:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = 15

# Outbox: attempts per row, backoff base and cap (exponential with jitter), how long a
# pending row may be overdue before the sweeper re-enqueues it, how long delivered rows stay.
NEXUS_OUTBOX_MAX_ATTEMPTS = env_int("NEXUS_OUTBOX_MAX_ATTEMPTS", 10)
NEXUS_OUTBOX_BACKOFF_SECONDS = env_int("NEXUS_OUTBOX_BACKOFF_SECONDS", 30)
NEXUS_OUTBOX_BACKOFF_MAX_SECONDS = env_int("NEXUS_OUTBOX_BACKOFF_MAX_SECONDS", 3600)
NEXUS_OUTBOX_SWEEP_AFTER_SECONDS = env_int("NEXUS_OUTBOX_SWEEP_AFTER_SECONDS", 60)
NEXUS_OUTBOX_KEEP_DAYS = env_int("NEXUS_OUTBOX_KEEP_DAYS", 7)
NEXUS_OUTBOX_BROKER_BREAKER_SECONDS = env_int("NEXUS_OUTBOX_BROKER_BREAKER_SECONDS", 5)
# Outbox kind -> handler (dotted path). A new kind of delivery (webhooks) adds one entry.
NEXUS_OUTBOX_HANDLERS = {
    "email": "nexus.mail.email_deliver",
    "password_reset": "users.services.password_reset_email_deliver",
    "webhook": "webhooks.services.webhook_deliver",
}
# Kind -> hook called after a failed attempt (nexus/outbox.py): webhooks log every attempt.
NEXUS_OUTBOX_FAILURE_HOOKS = {"webhook": "webhooks.services.webhook_attempt_failed"}

# Scheduled jobs: name -> (management command and arguments, default interval in seconds).
# Each is also runnable by hand (`python manage.py <command>`). NEXUS_BEAT_INTERVALS
# overrides intervals, e.g. "outbox_sweep=5,idempotency_prune=10" (the drills shorten them).
NEXUS_SCHEDULED_JOBS = {
    "outbox_sweep": (["outbox_sweep"], 60),
    "outbox_prune": (["outbox_prune"], 24 * 3600),
    "idempotency_prune": (["idempotency_prune"], 3600),
    "guest_carts_purge": (["carts_abandoned", "--purge-guests", "--days", "30"], 24 * 3600),
    "jwt_flush_expired": (["flushexpiredtokens"], 24 * 3600),
    "auth_prune": (["auth_prune"], 24 * 3600),
    # Unpaid card orders past NEXUS_UNPAID_ORDER_TTL_MINUTES, and automatic refunds to resend.
    "orders_expire_unpaid": (["orders_expire_unpaid"], 60),
    "webhooks_prune": (["webhooks_prune"], 24 * 3600),
    # Safety net: the catalog services keep these exact (catalog/services.py).
    "catalog_recount": (["catalog_recount"], 24 * 3600),
}
_beat_intervals = dict(
    item.split("=", 1) for item in env_list("NEXUS_BEAT_INTERVALS", []) if "=" in item
)
_unknown_jobs = set(_beat_intervals) - set(NEXUS_SCHEDULED_JOBS)
if _unknown_jobs:
    raise ImproperlyConfigured(f"NEXUS_BEAT_INTERVALS: unknown jobs {sorted(_unknown_jobs)}")
CELERY_BEAT_SCHEDULE = {}
for _job, (_command, _seconds) in NEXUS_SCHEDULED_JOBS.items():
    _interval = float(_beat_intervals.get(_job, _seconds))
    CELERY_BEAT_SCHEDULE[_job] = {
        "task": "nexus.run_command",
        "schedule": timedelta(seconds=_interval),
        "args": _command,
        # A run nobody picked up before the next one is due is dropped, not piled up.
        "options": {"expires": _interval},
    }

# =============================================================================
# AUTH
# =============================================================================
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3
# Frontend page that receives ?uid=...&token=... from the reset email.
NEXUS_PASSWORD_RESET_URL = env_str(
    "NEXUS_PASSWORD_RESET_URL", "http://localhost:3000/reset-password"
)

# Login failures: per account and per client address, counted in the database so that
# the lockout keeps working when Redis is down.
NEXUS_LOGIN_FAILURE_WINDOW = timedelta(minutes=env_int("NEXUS_LOGIN_FAILURE_WINDOW_MIN", 15))
NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
NEXUS_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("NEXUS_LOGIN_MAX_FAILURES_PER_ADDRESS", 20)

# =============================================================================
# DRF
# =============================================================================
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.NexusJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["nexus.renderers.JSONRenderer"],
    # JSON everywhere; the image upload view alone takes multipart (API.md).
    # Nesting deeper than NEXUS_JSON_MAX_DEPTH is a 400 parse_error (nexus/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["nexus.parsers.BoundedJSONParser"],
    "DEFAULT_METADATA_CLASS": "nexus.metadata.NexusMetadata",
    "DEFAULT_PAGINATION_CLASS": "nexus.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "nexus.openapi.NexusAutoSchema",
    "EXCEPTION_HANDLER": "nexus.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "nexus.throttles.AnonymousRateThrottle",
        "nexus.throttles.SignedInRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("NEXUS_THROTTLE_ANON", "300/min"),
        "user": env_str("NEXUS_THROTTLE_USER", "1200/min"),
        "auth": env_str("NEXUS_THROTTLE_AUTH", "20/min"),
        "password_reset": env_str("NEXUS_THROTTLE_PASSWORD_RESET", "5/hour"),
        "review_create": env_str("NEXUS_THROTTLE_REVIEW_CREATE", "10/hour"),
        # Guest checkout, preview and order-by-token reads, per client address.
        "guest_checkout": env_str("NEXUS_THROTTLE_GUEST_CHECKOUT", "30/hour"),
        "guest_order": env_str("NEXUS_THROTTLE_GUEST_ORDER", "120/hour"),
    },
    "NUM_PROXIES": env_int("NEXUS_NUM_PROXIES", 0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_required("JWT_SIGNING_KEY", unless=DEBUG, fallback=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Nexus API",
    "DESCRIPTION": (
        "E-commerce backend: auth, users, catalog, cart, orders and reviews. Every error is "
        "an RFC 9457 problem+json document; lists are paginated with `page` and `page_size`. "
        "A method a path does not list answers 405 `method_not_allowed` (with `Allow`); an "
        "`Accept` other than JSON answers 406; a path without its trailing slash answers 308 "
        "to the slashed one. Every answer carries `X-Request-ID`. Frontend guide: docs/API.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PaymentProviderEnum": "payments.choices.Provider",
        # Webhook payloads reuse the order enums; the delivery log has its own status.
        "OrderPaymentStatusEnum": "orders.choices.PaymentStatus",
        "OrderStatusEnum": "orders.choices.OrderStatus",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
    # One server: the host that serves the schema (paths carry /api/v1).
    "SERVERS": [{"url": "/", "description": "The server this schema is served from."}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "nexus.openapi.postprocess_schema",
    ],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

NEXUS_CURRENCY = env_str("NEXUS_CURRENCY", "USD")

# =============================================================================
# EVENTS AND WEBHOOKS (nexus/events.py, webhooks/, docs/WEBHOOKS.md)
# =============================================================================
# Where event_emit() hands every event (dotted paths, called in the caller's transaction).
NEXUS_EVENT_SINKS = ["webhooks.services.event_record"]
# stock.low fires when a product's stock goes from above this to at or below it.
NEXUS_STOCK_LOW_THRESHOLD = env_int("NEXUS_STOCK_LOW_THRESHOLD", 5)
# 1: webhook URLs may point at loopback/private/link-local addresses (tests, private
# networks). Cloud metadata addresses stay refused.
NEXUS_WEBHOOKS_ALLOW_PRIVATE = env_bool("NEXUS_WEBHOOKS_ALLOW_PRIVATE", False)
NEXUS_WEBHOOKS_TIMEOUT_SECONDS = env_int("NEXUS_WEBHOOKS_TIMEOUT_SECONDS", 5)
NEXUS_WEBHOOKS_MAX_ATTEMPTS = env_int("NEXUS_WEBHOOKS_MAX_ATTEMPTS", 8)
# Consecutive failed deliveries (retries exhausted or a final 4xx) after which an endpoint
# is deactivated (admins are emailed).
NEXUS_WEBHOOKS_DEACTIVATE_AFTER = env_int("NEXUS_WEBHOOKS_DEACTIVATE_AFTER", 20)
# Finished deliveries (and events without pending ones) older than this are deleted.
NEXUS_WEBHOOKS_KEEP_DAYS = env_int("NEXUS_WEBHOOKS_KEEP_DAYS", 30)

# =============================================================================
# CATALOG
# =============================================================================
# Public product responses are cached while the catalog version is unchanged. Unset:
# on with Redis, off with the per-process cache (other workers would serve stale data).
_catalog_cache = env_str("NEXUS_CATALOG_CACHE", "")
NEXUS_CATALOG_CACHE = env_bool("NEXUS_CATALOG_CACHE") if _catalog_cache else None
NEXUS_CATALOG_CACHE_SECONDS = env_int("NEXUS_CATALOG_CACHE_SECONDS", 300)

# =============================================================================
# CART AND ORDERS
# =============================================================================
# Most units of one product in a cart line.
NEXUS_CART_MAX_QUANTITY = env_int("NEXUS_CART_MAX_QUANTITY", 1000)
NEXUS_SHIPPING_FLAT_RATE = env_str("NEXUS_SHIPPING_FLAT_RATE", "9.99")
NEXUS_FREE_SHIPPING_THRESHOLD = env_str("NEXUS_FREE_SHIPPING_THRESHOLD", "100.00")
# Catalog prices include tax (tax is then the part of each amount it contains).
NEXUS_PRICES_INCLUDE_TAX = env_bool("NEXUS_PRICES_INCLUDE_TAX", False)
# The storefront page of a guest order; the confirmation email links to <url>/<guest_token>.
NEXUS_GUEST_ORDER_URL = env_str("NEXUS_GUEST_ORDER_URL", "http://localhost:3000/orders/guest")
# Idempotency keys are kept this long; a claim whose worker died is taken over after the lease.
NEXUS_IDEMPOTENCY_TTL_HOURS = env_int("NEXUS_IDEMPOTENCY_TTL_HOURS", 24)
NEXUS_IDEMPOTENCY_LEASE_SECONDS = env_int("NEXUS_IDEMPOTENCY_LEASE_SECONDS", 60)

# =============================================================================
# PAYMENTS
# =============================================================================
# Card payments go through Stripe PaymentIntents. Without a secret key they are off:
# checkout refuses `card` with 400 payment_method_unavailable. The webhook secret
# (whsec_...) verifies POST /api/v1/payments/stripe/webhook/; the API base points the
# stripe library elsewhere (tests: a local Stripe-compatible server).
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "https://api.stripe.com")
# Seconds a Stripe API call may take, and how many times the library retries it (with the
# same Idempotency-Key, so a retry never charges twice).
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 10)
STRIPE_MAX_NETWORK_RETRIES = env_int("STRIPE_MAX_NETWORK_RETRIES", 2)
# Webhook signatures older than this are refused (replay protection; Stripe's default).
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env_int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", 300)
# Unpaid card orders older than this are cancelled and restocked (manage.py orders_expire_unpaid).
NEXUS_UNPAID_ORDER_TTL_MINUTES = env_int("NEXUS_UNPAID_ORDER_TTL_MINUTES", 30)

# =============================================================================
# REVIEWS
# =============================================================================
NEXUS_REVIEWS_REQUIRE_PURCHASE = env_bool("NEXUS_REVIEWS_REQUIRE_PURCHASE", True)
NEXUS_REVIEWS_REQUIRE_MODERATION = env_bool("NEXUS_REVIEWS_REQUIRE_MODERATION", False)
# Open reports that send an approved review back to pending (0: never).
NEXUS_REVIEWS_REPORTS_TO_HIDE = env_int("NEXUS_REVIEWS_REPORTS_TO_HIDE", 3)
NEXUS_REVIEWS_MAX_LINKS = env_int("NEXUS_REVIEWS_MAX_LINKS", 1)
NEXUS_REVIEWS_DUPLICATE_MIN_LENGTH = env_int("NEXUS_REVIEWS_DUPLICATE_MIN_LENGTH", 20)
NEXUS_REVIEWS_BLOCKED_WORDS = env_list("NEXUS_REVIEWS_BLOCKED_WORDS", [])

# =============================================================================
# CORS
# =============================================================================
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_EXPOSE_HEADERS = [
    "X-Cart-Token",
    "Retry-After",
    "X-Request-ID",
    "Idempotent-Replayed",
    "RateLimit",
    "RateLimit-Policy",
]
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-cart-token",
    "x-request-id",
]

# =============================================================================
# SECURITY
# =============================================================================
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    # Nginx terminates TLS and says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Health checks come from inside the network over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# =============================================================================
# CSP
# =============================================================================
# API responses may load nothing at all. The docs pages and the admin get their own,
# still strict, policies (nexus/middleware.py and nexus/urls.py): no CDN, no unsafe-eval.
_NONE = "'none'"
_SELF = "'self'"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [_NONE],
        "frame-ancestors": [_NONE],
        "base-uri": [_NONE],
        "form-action": [_NONE],
    }
}
NEXUS_CSP_DOCS = {
    "default-src": [_NONE],
    "script-src": [_SELF],
    "style-src": [_SELF, "'unsafe-inline'"],
    "img-src": [_SELF, "data:"],
    "font-src": [_SELF],
    "connect-src": [_SELF],
    "worker-src": [_SELF, "blob:"],
    "frame-ancestors": [_NONE],
    "base-uri": [_NONE],
    "form-action": [_NONE],
}
NEXUS_CSP_ADMIN = {
    "default-src": [_NONE],
    "script-src": [_SELF],
    "style-src": [_SELF],
    "img-src": [_SELF, "data:"],
    "font-src": [_SELF],
    "connect-src": [_SELF],
    "frame-ancestors": [_NONE],
    "base-uri": [_SELF],
    "form-action": [_SELF],
}

# =============================================================================
# EMAIL
# =============================================================================
EMAIL_BACKEND = env_str(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Nexus <no-reply@nexus.local>")

# =============================================================================
# LOGGING AND METRICS
# =============================================================================
# plain: one readable line per record; json: one JSON object per line (nexus/requestid.py).
NEXUS_LOG_FORMAT = env_str("NEXUS_LOG_FORMAT") or "plain"
if NEXUS_LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured("NEXUS_LOG_FORMAT must be plain or json.")
# One line per request from Django (method, path, route, status, duration, user id).
# Unset: on with the JSON format, off with plain (runserver and gunicorn print their own).
NEXUS_ACCESS_LOG = (
    env_bool("NEXUS_ACCESS_LOG") if env_str("NEXUS_ACCESS_LOG") else NEXUS_LOG_FORMAT == "json"
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "nexus.requestid.RequestIDLogFilter"},
        "quiet_client_errors": {"()": "nexus.requestid.QuietClientErrorsFilter"},
    },
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "nexus.requestid.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": NEXUS_LOG_FORMAT,
            "filters": ["request_id", "quiet_client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default config gives "django" its own console handler (in DEBUG) on top
        # of the root one: every line was printed twice. Everything goes through root.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "django_redis": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
    },
}
# The Prometheus endpoint /metrics answers only with `Authorization: Bearer <token>`;
# unset, it answers 404 (nexus/metrics.py; nginx does not route it publicly either).
NEXUS_METRICS_TOKEN = env_str("NEXUS_METRICS_TOKEN", "")

# =============================================================================
# PUBLIC HTTP CACHING
# =============================================================================
# Anonymous GETs of these routes get an ETag, 304 on If-None-Match and
# `Cache-Control: public, max-age=N` (nexus/middleware.py ConditionalGetMiddleware).
NEXUS_PUBLIC_CACHE_ROUTES = ["category-list", "category-detail", "product-list", "product-detail"]
NEXUS_PUBLIC_CACHE_MAX_AGE = env_int("NEXUS_PUBLIC_CACHE_MAX_AGE", 60)

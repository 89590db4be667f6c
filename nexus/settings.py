"""Django settings for Nexus.

Every difference between environments comes from environment variables; `.env.example`
lists each one. Outside DEBUG the process refuses to start without its secrets.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

from nexus.env import env_bool, env_int, env_list, env_required, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

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
    "reviews",
]

MIDDLEWARE = [
    "nexus.middleware.RequestIDMiddleware",
    "nexus.middleware.RequestGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "nexus.middleware.NexusCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"connect_timeout": env_int("DATABASE_CONNECT_TIMEOUT", 3)}
    )
    if DATABASES["default"]["OPTIONS"].get("options") is None:
        # A runaway query must not pin a worker: cap every statement.
        DATABASES["default"]["OPTIONS"]["options"] = (
            f"-c statement_timeout={env_int('DATABASE_STATEMENT_TIMEOUT_MS', 15000)}"
        )
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

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
    # After a Redis error the cache is skipped for this long (nexus/cache.py).
    NEXUS_CACHE_BREAKER_SECONDS = env_int("NEXUS_CACHE_BREAKER_SECONDS", 5)
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
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON everywhere; the image upload view alone takes multipart (API.md).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "nexus.metadata.NexusMetadata",
    "DEFAULT_PAGINATION_CLASS": "nexus.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "nexus.openapi.NexusAutoSchema",
    "EXCEPTION_HANDLER": "nexus.errors.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "nexus.throttles.SignedInRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("NEXUS_THROTTLE_ANON", "300/min"),
        "user": env_str("NEXUS_THROTTLE_USER", "1200/min"),
        "auth": env_str("NEXUS_THROTTLE_AUTH", "20/min"),
        "password_reset": env_str("NEXUS_THROTTLE_PASSWORD_RESET", "5/hour"),
        "review_create": env_str("NEXUS_THROTTLE_REVIEW_CREATE", "10/hour"),
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
        "an RFC 9457 problem+json document; lists are paginated with `page` and `page_size`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
}

NEXUS_CURRENCY = env_str("NEXUS_CURRENCY", "USD")

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
# Idempotency keys are kept this long; a claim whose worker died is taken over after the lease.
NEXUS_IDEMPOTENCY_TTL_HOURS = env_int("NEXUS_IDEMPOTENCY_TTL_HOURS", 24)
NEXUS_IDEMPOTENCY_LEASE_SECONDS = env_int("NEXUS_IDEMPOTENCY_LEASE_SECONDS", 60)

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
CORS_EXPOSE_HEADERS = ["X-Cart-Token", "Retry-After", "X-Request-ID", "Idempotent-Replayed"]
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
# LOGGING
# =============================================================================
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "nexus.requestid.RequestIDLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_redis": {"level": "WARNING"},
    },
}

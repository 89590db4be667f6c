"""Prometheus metrics: HTTP requests, database queries, cache calls and business counters,
served at ``/metrics`` to operators only.

Access: ``/metrics`` answers only with ``Authorization: Bearer <NEXUS_METRICS_TOKEN>``
(404 while the token is unset, 401 with a wrong one), and the public nginx server does
not route it at all; scrape it from inside the network (gunicorn's port). Under gunicorn
with several workers, ``PROMETHEUS_MULTIPROC_DIR`` (set by gunicorn.conf.py) makes every
scrape add up all workers.

Registry API for other apps (docs/OBSERVABILITY.md)::

    from nexus import metrics

    PAYMENTS = metrics.counter("payments_total", "Payments by outcome.", ["outcome"])
    PAYMENTS.labels(outcome="succeeded").inc()          # names get the ``nexus_`` prefix

    metrics.gauge_callback(                             # computed at scrape time
        "outbox_backlog", "Outbox messages not yet sent.", lambda: Outbox.objects.count()
    )

``counter``/``histogram``/``gauge`` return the existing metric when called again with the
same name (safe at import time, in tests and on autoreload). Count business events in
``transaction.on_commit`` so a rolled-back transaction counts nothing.
"""

import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.db.backends.signals import connection_created
from django.http import HttpResponse, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from nexus.errors import PROBLEM_CONTENT_TYPE, problem

logger = logging.getLogger("nexus.metrics")

PREFIX = "nexus_"
_lock = threading.Lock()
_metrics: dict[str, object] = {}
_callbacks: dict[str, tuple[str, Callable[[], float]]] = {}


def _get_or_create(kind, name: str, documentation: str, labelnames: Sequence[str], **kwargs):
    full = name if name.startswith(PREFIX) else PREFIX + name
    with _lock:
        existing = _metrics.get(full)
        if existing is None:
            existing = kind(full, documentation, labelnames=tuple(labelnames), **kwargs)
            _metrics[full] = existing
        elif not isinstance(existing, kind):
            raise ValueError(f"metric {full} already exists as {type(existing).__name__}")
        return existing


def counter(name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
    return _get_or_create(Counter, name, documentation, labelnames)


def histogram(
    name: str, documentation: str, labelnames: Sequence[str] = (), buckets=Histogram.DEFAULT_BUCKETS
) -> Histogram:
    return _get_or_create(Histogram, name, documentation, labelnames, buckets=buckets)


def gauge(
    name: str, documentation: str, labelnames: Sequence[str] = (), multiprocess_mode="livesum"
) -> Gauge:
    return _get_or_create(
        Gauge, name, documentation, labelnames, multiprocess_mode=multiprocess_mode
    )


def gauge_callback(name: str, documentation: str, compute: Callable[[], float]) -> None:
    """A gauge whose value ``compute()`` returns at scrape time (queue backlogs, counts in
    the database). A failing callback is logged and left out of that scrape."""
    full = name if name.startswith(PREFIX) else PREFIX + name
    with _lock:
        _callbacks[full] = (documentation, compute)


class _CallbackCollector(Collector):
    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, (documentation, compute) in list(_callbacks.items()):
            try:
                value = float(compute())
            except Exception:
                logger.warning("metrics callback %s failed", name, exc_info=True)
                continue
            yield GaugeMetricFamily(name, documentation, value=value)


_callback_collector = _CallbackCollector()
REGISTRY.register(_callback_collector)

# --------------------------------------------------------------------------- built-in metrics

REQUESTS = counter("http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
REQUEST_SECONDS = histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"]
)
REQUESTS_IN_PROGRESS = gauge("http_requests_in_progress", "HTTP requests being answered.")
DB_QUERY_SECONDS = histogram(
    "db_query_duration_seconds",
    "Database query time (the count is the number of queries).",
    ["alias"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
DB_ERRORS = counter("db_errors_total", "Database queries that raised an error.", ["alias"])
CACHE_CALLS = counter(
    "cache_calls_total", "Redis cache calls by command and outcome.", ["command", "outcome"]
)
CACHE_LOOKUPS = counter("cache_lookups_total", "Cache keys looked up, by result.", ["result"])
CACHE_BREAKER_TRIPS = counter(
    "cache_breaker_trips_total", "Times the Redis circuit breaker opened."
)
ORDERS_PLACED = counter("orders_placed_total", "Orders placed (committed checkouts).")
ORDERS_CANCELLED = counter("orders_cancelled_total", "Orders cancelled.")


def install_outbox_metrics() -> None:
    """The outbox backlog, read from the database at scrape time (nexus/outbox.py)."""
    from nexus.models import OutboxMessage, OutboxStatus

    def _count(status: str) -> Callable[[], float]:
        return lambda: OutboxMessage.objects.filter(status=status).count()

    gauge_callback(
        "outbox_pending", "Outbox messages waiting for delivery.", _count(OutboxStatus.PENDING)
    )
    gauge_callback(
        "outbox_failed", "Outbox messages that gave up (need a look).", _count(OutboxStatus.FAILED)
    )


# (method, route, status) -> the labelled children of REQUESTS and REQUEST_SECONDS. The
# client library keeps every child for good anyway; looking them up here skips its
# keyword handling and lock on every request.
_request_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (
            REQUESTS.labels(method=method, route=route, status=str(status)),
            REQUEST_SECONDS.labels(method=method, route=route),
        )
    children[0].inc()
    children[1].observe(seconds)


def _database_wrapper(execute, sql, params, many, context):
    alias = context["connection"].alias
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception:
        DB_ERRORS.labels(alias=alias).inc()
        raise
    finally:
        DB_QUERY_SECONDS.labels(alias=alias).observe(time.perf_counter() - started)


def _on_connection_created(sender, connection, **kwargs) -> None:
    if _database_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_database_wrapper)


def install_database_metrics() -> None:
    """Time every query on every connection (called from NexusConfig.ready)."""
    connection_created.connect(_on_connection_created, dispatch_uid="nexus.metrics.db")


# --------------------------------------------------------------------------- the endpoint


def _registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_callback_collector)
    return registry


def metrics_view(request):
    """``GET /metrics``: the Prometheus text format, for a bearer of NEXUS_METRICS_TOKEN."""
    token = settings.NEXUS_METRICS_TOKEN
    if not token:
        return JsonResponse(
            problem(404, "not_found", "No resource at this address."),
            status=404,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = JsonResponse(
            problem(401, "not_authenticated", "The metrics token is missing or wrong."),
            status=401,
            content_type=PROBLEM_CONTENT_TYPE,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response

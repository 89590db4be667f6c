"""Gunicorn settings for Nexus, used by the container entrypoint, Compose and CI.

Every value can be overridden from the environment (GUNICORN_*), so the same file serves a
laptop, a 2-core VM and a large host without edits.
"""

import os


def _cpu_count() -> int:
    # sched_getaffinity honours CPU pinning (taskset, cgroup cpusets); cpu_count does not.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return value in ("1", "true", "yes", "on") if value else default


wsgi_app = "nexus.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").split(",")

# Sync workers by default: the app is I/O bound on PostgreSQL with short requests, and Nginx
# buffers slow clients, so a worker is never held by a slow upload or download.
workers = _env_int("GUNICORN_WORKERS", 2 * _cpu_count() + 1)
threads = _env_int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"

# A request that runs longer than this is killed; Nginx's proxy_read_timeout is a little
# longer so the client gets Gunicorn's answer, not a 504.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM (docker stop, deploys) workers finish in-flight requests for this long.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _env_int("GUNICORN_KEEPALIVE", 5)

# Import the project once in the master and fork the workers from it. Without this, every
# worker imports Django and the project itself (about a second of CPU on a 2-core host), and
# so does every recycled worker: with recycling after 1,000 requests that re-import ran every
# few seconds per worker under load and halved the throughput of even a constant view
# (docs/PERFORMANCE.md has the before/after). Preloading is safe here because nothing opens
# a connection at import: Django opens database connections lazily per worker (and the
# pre_fork hook below closes any the master might have opened), redis-py's pool resets
# itself in a forked process, and the cache circuit breaker (nexus/cache.py) is plain
# per-process state with no thread. The price: a HUP reloads the configuration but not the
# code; deploys restart the container (or the master), which reloads both.
preload_app = _env_bool("GUNICORN_PRELOAD", True)

# Recycle workers now and then so a slow leak never takes a replica down. A preloaded
# worker is a cheap fork of the master, so recycling costs little, but a fresh worker still
# reconnects to PostgreSQL and Redis and warms its caches: every 10,000 requests (jittered so
# workers do not restart together) keeps that below 1% of the work. 0 turns recycling off.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 10000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 1000)

# The image points the worker heartbeat file at /dev/shm: on a container's overlay
# filesystem a slow disk can stall it and get healthy workers killed.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None

# Only the proxy in front may claim HTTPS via X-Forwarded-Proto (Django decides on its own
# via SECURE_PROXY_SSL_HEADER; this keeps Gunicorn's wsgi.url_scheme consistent).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs go to stdout/stderr for the container runtime. The access log carries the request id
# (set by Nginx or by the app, echoed on the response) and the client address from Nginx.
# An empty GUNICORN_ACCESS_LOG turns the access log off (the benchmark does, for every server).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s xff="%({x-forwarded-for}i)s" "%(r)s" %(s)s %(B)s %(M)sms '
    'rid=%({x-request-id}o)s "%(f)s" "%(a)s"'
)

# NEXUS_LOG_FORMAT=json: access and error lines as JSON objects, like Django's lines
# (request id, method, path, status, duration); see docs/OBSERVABILITY.md.
if os.environ.get("NEXUS_LOG_FORMAT", "plain") == "json":
    logger_class = "nexus.gunicorn_logging.JSONLogger"

# Prometheus metrics of every worker add up when they share a directory (nexus/metrics.py).
# One fresh directory per Gunicorn run unless PROMETHEUS_MULTIPROC_DIR names one; workers
# inherit it. A dead worker's live gauges are dropped when it exits.
_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    _own_metrics_dir = tempfile.mkdtemp(prefix="nexus-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        import shutil

        shutil.rmtree(_own_metrics_dir, ignore_errors=True)


# Bound what a single request may send before Django sees it.
limit_request_line = 8190
limit_request_fields = 100


def _freeze_heap() -> None:
    """Move every object alive now (the imported project: modules, classes, URL patterns,
    serializer fields) out of the garbage collector's reach for good.

    A sync worker's heap is mostly that import, and a full (generation 2) collection walks
    all of it: measured under wrk on the cached product list, every worker paused 200 to
    320 ms a few times a minute, which alone put the p99 above 100 ms. Frozen, a full
    collection walks only what the worker made since, and pauses 13 to 25 ms. Collecting
    first keeps garbage out of the frozen set (it would never be freed). In the master it
    also keeps the children's collections from writing to the shared pages they inherit
    (copy-on-write), as the ``gc.freeze`` documentation describes."""
    import gc

    gc.collect()
    gc.freeze()


def when_ready(server):
    # The preloaded project is in the master now; the first workers fork after this.
    if preload_app:
        _freeze_heap()


def post_worker_init(worker):
    # Gunicorn's own error answers (invalid header value, request line too long) in the
    # API's problem+json shape instead of an HTML page: nexus/gunicorn_errors.py.
    from nexus.gunicorn_errors import install

    install()
    # Without preload the worker has just imported the project itself (with preload this
    # freezes the little the worker made on its way up).
    _freeze_heap()


def pre_fork(server, worker):
    """Runs in the master before each fork: no database connection may be shared by two
    processes (their queries would interleave on one socket). Nothing in the project opens
    one at import, so this is a no-op unless a future import-time query slips in."""
    if preload_app:
        import sys

        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()

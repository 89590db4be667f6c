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

# Recycle workers now and then so a slow leak never takes a replica down.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# The image points the worker heartbeat file at /dev/shm: on a container's overlay
# filesystem a slow disk can stall it and get healthy workers killed.
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or None

# Only the proxy in front may claim HTTPS via X-Forwarded-Proto (Django decides on its own
# via SECURE_PROXY_SSL_HEADER; this keeps Gunicorn's wsgi.url_scheme consistent).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Logs go to stdout/stderr for the container runtime. The access log carries the request id
# (set by Nginx or by the app, echoed on the response) and the client address from Nginx.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = (
    '%(h)s xff="%({x-forwarded-for}i)s" "%(r)s" %(s)s %(B)s %(M)sms '
    'rid=%({x-request-id}o)s "%(f)s" "%(a)s"'
)

# Bound what a single request may send before Django sees it.
limit_request_line = 8190
limit_request_fields = 100

"""Logs and metrics (issue 19): the request context on every log line, JSON logs for
Django and Gunicorn, one line per record (never twice), `.env` loading, and the
Prometheus endpoint with request, database, cache and business metrics."""

import json
import logging
import os
import runpy
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from nexus import metrics
from nexus.requestid import JSONFormatter, QuietClientErrorsFilter, RequestIDLogFilter
from nexus.testing import problem_codes

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


class _Capture(logging.Handler):
    """Records as the console handler sees them (same filters)."""

    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIDLogFilter())
        self.addFilter(QuietClientErrorsFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured():
    handler = _Capture()
    logging.getLogger().addHandler(handler)
    yield handler.records
    logging.getLogger().removeHandler(handler)


def test_django_response_lines_carry_request_and_user_id(user, user_client, captured):
    """Django logs 4xx answers after the middleware chain returned: the id used to be
    cleared by then (``[-]``)."""
    response = user_client.get("/api/v1/orders/987654/", HTTP_X_REQUEST_ID="rid-19-a")
    assert response.status_code == 404
    lines = [r for r in captured if r.name == "django.request"]
    assert lines, [r.getMessage() for r in captured]
    assert {r.request_id for r in lines} == {"rid-19-a"}
    assert {r.user_id for r in lines} == {user.pk}
    assert all("orders" in r.route for r in lines)


def test_request_context_does_not_leak_into_the_next_request(api_client, captured):
    api_client.get("/api/v1/nothing/", HTTP_X_REQUEST_ID="first-request")
    logging.getLogger("nexus.test").warning("between requests")
    between = [r for r in captured if r.name == "nexus.test"]
    assert between[0].request_id == "-" and between[0].user_id is None


def test_client_errors_keep_their_line_but_not_the_traceback(captured, staff_user):
    """A staff account without permissions opening an admin page: 403, logged once,
    without the traceback of the PermissionDenied."""
    from django.test import Client

    staff_user.groups.clear()
    client = Client()
    client.force_login(staff_user)
    response = client.get("/admin/orders/order/")
    assert response.status_code == 403
    forbidden = [r for r in captured if r.name == "django.request" and r.status_code == 403]
    assert len(forbidden) == 1
    assert forbidden[0].exc_info is None


def test_access_log_line_has_method_route_status_duration(settings, user, user_client, captured):
    settings.NEXUS_ACCESS_LOG = True
    user_client.get("/api/v1/users/profile/", HTTP_X_REQUEST_ID="rid-19-b")
    (line,) = [r for r in captured if r.name == "nexus.access"]
    assert (line.method, line.path, line.status) == ("GET", "/api/v1/users/profile/", 200)
    assert line.duration_ms >= 0 and line.request_id == "rid-19-b" and line.user_id == user.pk
    assert line.route == "api/v1/users/profile/"
    body = json.loads(JSONFormatter().format(line))
    assert body["request_id"] == "rid-19-b" and body["user_id"] == user.pk
    assert body["status"] == 200 and body["route"] == "api/v1/users/profile/"
    assert body["method"] == "GET" and isinstance(body["duration_ms"], float)


def test_json_formatter_one_object_per_line_with_exception():
    record = logging.LogRecord("nexus.x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        record.exc_info = sys.exc_info()
    RequestIDLogFilter().filter(record)
    text = JSONFormatter().format(record)
    assert "\n" not in text
    body = json.loads(text)
    assert body["message"] == "boom now" and body["level"] == "ERROR"
    assert "ValueError: bad" in body["exc"] and body["request_id"] == "-"


def test_gunicorn_json_logging(monkeypatch, capsys):
    """gunicorn.conf.py with NEXUS_LOG_FORMAT=json: Gunicorn's access lines are JSON."""
    from gunicorn.config import Config

    from nexus.gunicorn_logging import JSONLogger

    monkeypatch.setenv("NEXUS_LOG_FORMAT", "json")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/not-used-here")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["logger_class"] == "nexus.gunicorn_logging.JSONLogger"
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", conf["access_log_format"])
    logger = JSONLogger(cfg)

    class Resp:
        status = "201 Created"
        sent = 17
        headers = [("X-Request-ID", "rid-gunicorn")]

    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/api/v1/orders/",
        "PATH_INFO": "/api/v1/orders/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_USER_AGENT": "curl",
    }
    logger.access(Resp(), [("USER-AGENT", "curl")], environ, timedelta(milliseconds=12.5))
    logger.error("worker %s booted", 7)
    out = capsys.readouterr()
    access = json.loads(out.out.strip().splitlines()[-1])
    assert access["logger"] == "gunicorn.access" and access["request_id"] == "rid-gunicorn"
    assert (access["method"], access["path"], access["status"]) == ("POST", "/api/v1/orders/", 201)
    assert access["duration_ms"] == 12.5 and access["user_agent"] == "curl"
    error = json.loads(out.err.strip().splitlines()[-1])
    assert error["logger"] == "gunicorn.error" and error["message"] == "worker 7 booted"


def _run(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "NEXUS_"))}
    clean.update(env)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=False,
    )


_SETUP = (
    "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'nexus.settings'); "
    "django.setup(); "
)


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_each_line_is_printed_once_in_debug(log_format):
    """Django's default config gave the ``django`` logger a console handler of its own in
    DEBUG, on top of the root one: every line was printed twice."""
    code = _SETUP + (
        "import logging; logging.getLogger('django.request').warning("
        "'Forbidden: /admin/x/', extra={'status_code': 403}, exc_info=ValueError('boom'))"
    )
    result = _run(code, DJANGO_DEBUG="1", NEXUS_ENV_FILE="", NEXUS_LOG_FORMAT=log_format)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Forbidden: /admin/x/" in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    if log_format == "json":
        assert json.loads(lines[0])["logger"] == "django.request"


def test_env_file_is_loaded_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("NEXUS_CURRENCY=EUR\nNEXUS_CART_MAX_QUANTITY=7\nDJANGO_DEBUG=1\n")
    code = _SETUP + (
        "from django.conf import settings as s; "
        "print(s.NEXUS_CURRENCY, s.NEXUS_CART_MAX_QUANTITY, s.DEBUG)"
    )
    result = _run(code, NEXUS_ENV_FILE=str(env_file), NEXUS_CART_MAX_QUANTITY="9")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["EUR", "9", "True"]
    # NEXUS_ENV_FILE= (empty) loads nothing: production secrets never come from a stray file.
    result = _run(code, NEXUS_ENV_FILE="", DJANGO_DEBUG="1")
    assert result.stdout.split() == ["USD", "1000", "True"]


def test_dotenv_default_is_the_file_beside_manage_py():
    from nexus.env import load_env_file

    assert django_settings.BASE_DIR == ROOT
    assert load_env_file(ROOT / "no-such-file.env") is None


# --------------------------------------------------------------------------- metrics


TOKEN = "metrics-secret-19"


def _scrape(client, token=TOKEN):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels) -> float:
    return samples.get(name + json.dumps(labels, sort_keys=True), 0.0)


def test_metrics_need_the_operator_token(api_client, settings):
    settings.NEXUS_METRICS_TOKEN = ""
    assert problem_codes(api_client.get("/metrics")) == (404, "not_found")
    settings.NEXUS_METRICS_TOKEN = "metrics-secret-19"
    assert problem_codes(api_client.get("/metrics")) == (401, "not_authenticated")
    wrong = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert problem_codes(wrong) == (401, "not_authenticated")
    assert wrong["WWW-Authenticate"].startswith("Bearer")


def test_metrics_count_requests_and_database_queries(api_client, settings):
    settings.NEXUS_METRICS_TOKEN = "metrics-secret-19"
    before = _scrape(api_client)
    for _ in range(3):
        assert api_client.get("/api/v1/categories/").status_code == 200
    after = _scrape(api_client)
    labels = {"method": "GET", "route": "api/v1/categories/$", "status": "200"}
    assert (
        _value(after, "nexus_http_requests_total", **labels)
        - _value(before, "nexus_http_requests_total", **labels)
        == 3
    )
    queries = "nexus_db_query_duration_seconds_count"
    assert _value(after, queries, alias="default") > _value(before, queries, alias="default")


def test_orders_placed_counter(user, user_client, settings, django_capture_on_commit_callbacks):
    from orders.tests.factories import ADDRESS, ProductFactory, fill_cart

    settings.NEXUS_METRICS_TOKEN = "metrics-secret-19"
    before = _value(_scrape(APIClient()), "nexus_orders_placed_total")
    fill_cart(user, (ProductFactory(stock_quantity=5), 1))
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(
            "/api/v1/orders/",
            {"shipping_address": ADDRESS, "payment_method": "card"},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert _value(_scrape(APIClient()), "nexus_orders_placed_total") == before + 1


def test_registry_api_for_other_apps(api_client, settings):
    settings.NEXUS_METRICS_TOKEN = "metrics-secret-19"
    payments = metrics.counter("test_payments_total", "Payments by outcome.", ["outcome"])
    assert metrics.counter("test_payments_total", "again", ["outcome"]) is payments
    payments.labels(outcome="succeeded").inc(2)
    metrics.gauge_callback("test_outbox_backlog", "Messages not yet sent.", lambda: 5)
    metrics.gauge_callback("test_broken", "Fails.", lambda: 1 / 0)
    samples = _scrape(api_client)
    assert _value(samples, "nexus_test_payments_total", outcome="succeeded") >= 2
    assert _value(samples, "nexus_test_outbox_backlog") == 5
    assert "nexus_test_broken{}" not in samples


def test_outbox_backlog_gauges(api_client, settings):
    from nexus.models import OutboxMessage, OutboxStatus

    settings.NEXUS_METRICS_TOKEN = TOKEN
    base = {"kind": "test", "payload": {}, "max_attempts": 3}
    OutboxMessage.objects.create(status=OutboxStatus.PENDING, **base)
    OutboxMessage.objects.create(status=OutboxStatus.PENDING, **base)
    OutboxMessage.objects.create(status=OutboxStatus.FAILED, **base)
    samples = _scrape(api_client)
    assert _value(samples, "nexus_outbox_pending") == 2
    assert _value(samples, "nexus_outbox_failed") == 1


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="cache metrics are Redis client metrics")
def test_cache_metrics_with_redis(api_client, settings):
    from django.core.cache import cache

    settings.NEXUS_METRICS_TOKEN = "metrics-secret-19"
    before = _scrape(api_client)
    cache.set("metrics-19", 1)
    cache.get("metrics-19")
    cache.get("metrics-19-missing")
    after = _scrape(api_client)
    for result in ("hit", "miss"):
        name = "nexus_cache_lookups_total"
        assert _value(after, name, result=result) > _value(before, name, result=result)
    calls = "nexus_cache_calls_total"
    assert _value(after, calls, command="set", outcome="ok") > _value(
        before, calls, command="set", outcome="ok"
    )


def test_public_nginx_does_not_route_metrics():
    conf = (ROOT / "nginx" / "nexus.conf.template").read_text()
    assert "location = /metrics" in conf
    block = conf.split("location = /metrics", 1)[1].split("}", 1)[0]
    assert "return 404" in block


@pytest.mark.parametrize("preload", ["1", "0"])
def test_gunicorn_freezes_the_imported_heap_before_serving(monkeypatch, preload):
    """A preloaded master freezes its heap before forking (when_ready); a worker freezes
    what it imported itself (post_worker_init). A full collection then walks only what
    the worker made since: the 200-320 ms pauses behind the cached list's p99
    (docs/PERFORMANCE.md) are gone."""
    import gc

    monkeypatch.setenv("GUNICORN_PRELOAD", preload)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/not-used-here")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    monkeypatch.setattr("nexus.gunicorn_errors.install", lambda: None)
    gc.unfreeze()
    try:
        conf["when_ready"](None)
        assert (gc.get_freeze_count() > 0) is (preload == "1")
        gc.unfreeze()
        conf["post_worker_init"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()

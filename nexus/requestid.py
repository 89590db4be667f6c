"""The current request's context (request id, user id, route) in context variables, and
the log filters and JSON formatter that put it on every log record.

The middleware sets the context when a request starts and it stays set until Django's
``request_finished`` signal, so even the lines Django logs *after* the middleware chain
returned (``django.request`` warnings for 4xx/5xx) carry the request id. Import-light on
purpose: the logging configuration loads this module early.
"""

import contextvars
import json
import logging
from datetime import UTC, datetime

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("nexus_request_id", default="-")
_user_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("nexus_user_id", default=None)
_route: contextvars.ContextVar[str | None] = contextvars.ContextVar("nexus_route", default=None)


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> None:
    _request_id.set(value)


def set_user_id(value: int | None) -> None:
    _user_id.set(value)


def set_route(value: str | None) -> None:
    _route.set(value)


def clear_context(**_kwargs) -> None:
    """Forget the request's context (connected to request_started and request_finished)."""
    _request_id.set("-")
    _user_id.set(None)
    _route.set(None)


class RequestIDLogFilter(logging.Filter):
    """Adds ``request_id``, ``user_id`` and ``route`` of the current request to a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        if not hasattr(record, "user_id"):
            record.user_id = _user_id.get()
        if not hasattr(record, "route"):
            record.route = _route.get()
        return True


class QuietClientErrorsFilter(logging.Filter):
    """Django logs every 4xx answer to an exception (a 403 from the admin, a 404) with
    its traceback. A client error is not a server fault: keep the line, drop the trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status < 500 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "user_id",
    "route",
    "request",
    "server_time",
}


def _gunicorn_access(record: logging.LogRecord) -> dict | None:
    """Gunicorn passes its access-log atoms as the record's args (a dict)."""
    atoms = record.args
    if record.name != "gunicorn.access" or not isinstance(atoms, dict):
        return None
    fields = {
        "method": atoms.get("m"),
        "path": atoms.get("U"),
        "query": atoms.get("q") or None,
        "status": int(atoms["s"]) if str(atoms.get("s", "")).isdigit() else atoms.get("s"),
        "bytes": atoms.get("B"),
        "duration_ms": round(float(atoms.get("D", 0)) / 1000, 1),
        "remote": atoms.get("h"),
        "forwarded_for": atoms.get("{x-forwarded-for}i"),
        "user_agent": atoms.get("a"),
    }
    request_id = atoms.get("{x-request-id}o")
    if request_id and request_id != "-":
        fields["request_id"] = request_id
    return fields


class JSONFormatter(logging.Formatter):
    """One JSON object per line (``NEXUS_LOG_FORMAT=json``), for Django and Gunicorn alike.

    Every line has ``time``, ``level``, ``logger``, ``message``, ``request_id`` and
    ``user_id``; request lines add ``method``, ``path``, ``route``, ``status`` and
    ``duration_ms``; an exception adds ``exc``.
    """

    def format(self, record: logging.LogRecord) -> str:
        access = _gunicorn_access(record)
        body: dict = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": "request" if access is not None else record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
            "user_id": getattr(record, "user_id", None),
        }
        if getattr(record, "route", None):
            body["route"] = record.route
        if access is not None:
            body.update({k: v for k, v in access.items() if v not in (None, "", "-")})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return json.dumps(body, default=str)

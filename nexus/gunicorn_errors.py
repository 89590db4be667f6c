"""Gunicorn's own error answers in the API's problem+json shape.

Gunicorn refuses some requests before Django sees them (a control character in a header
value, an invalid header, a request line too long) and answers with an HTML page. Behind
Nginx most of these are refused by Nginx first (nginx/nexus.conf.template answers them as
problem+json), but a control character in a header *value* passes Nginx and reached
Gunicorn's HTML 400. ``install()`` (called from gunicorn.conf.py in each worker) replaces
Gunicorn's error writer with one that writes problem+json; status and reason are
Gunicorn's. Importable without Django.
"""

import json

# Stable codes for the statuses Gunicorn answers itself.
_CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "server_error",
    501: "not_implemented",
}


def problem_error_bytes(status_int: int, reason: str, mesg: str) -> bytes:
    """The full HTTP/1.1 response Gunicorn sends for a request it refused."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason,
            "status": status_int,
            "code": _CODES.get(status_int, "bad_request"),
            "detail": mesg or reason,
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    return head + body


def _write_error(sock, status_int, reason, mesg):
    from gunicorn import util

    util.write_nonblock(sock, problem_error_bytes(status_int, reason, mesg))


def install() -> None:
    """Make Gunicorn's workers answer their own errors as problem+json."""
    from gunicorn import util

    util.write_error = _write_error

"""The current request id (set by RequestIDMiddleware) and a log filter that adds it to
every record. Import-light on purpose: the logging configuration loads it early."""

import logging
import threading

_local = threading.local()


def current_request_id() -> str:
    return getattr(_local, "request_id", "-")


class RequestIDLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True

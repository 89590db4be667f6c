"""Gunicorn's logger with ``NEXUS_LOG_FORMAT=json`` (gunicorn.conf.py picks it): the same
handlers and destinations as Gunicorn's own (GUNICORN_ACCESS_LOG / GUNICORN_ERROR_LOG),
each line formatted as one JSON object by nexus.requestid.JSONFormatter, so access and
error lines look like the Django lines. Import-light: it runs in the Gunicorn master."""

from gunicorn.glogging import Logger

from nexus.requestid import JSONFormatter


class JSONLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        formatter = JSONFormatter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)

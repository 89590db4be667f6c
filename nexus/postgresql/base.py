"""Django's PostgreSQL backend, with the per-request health check skipped when it has
just been answered.

``CONN_HEALTH_CHECKS`` makes Django send ``SELECT 1`` before the first statement of
every request on a persistent connection, so that a connection which died while idle
(a server restart, a network drop, an idle timeout) is replaced instead of failing the
request. Under load a worker's connection is idle for milliseconds between requests, and
that round trip is about a twentieth of an uncached product read (docs/PERFORMANCE.md,
"The health check answered once a second").

Here a request whose statements all succeeded *proves* its connection at its end; the
next request skips the check when that proof is younger than
``settings.DATABASE_HEALTH_CHECK_INTERVAL`` seconds (``DATABASE_HEALTH_CHECK_INTERVAL_MS``
in the environment, default 1000; 0 checks before every request as Django does). A request
in which a statement failed proves nothing, and Django's own handling still closes a
connection that errored and no longer answers. The one thing this gives up: if the
server goes away within that second after a successful request, the next request on
that connection fails with the usual 503 instead of reconnecting first (and the
connection is then replaced), as a request running when the server goes away does.
"""

import time

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    _proven_at = float("-inf")  # monotonic time a request last ended with no errors
    _used_in_request = False

    def close_if_health_check_failed(self):
        # Called before every cursor; the first call of a request does the check.
        self._used_in_request = True
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self._proven_at < settings.DATABASE_HEALTH_CHECK_INTERVAL
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self):
        # Called at the start and the end of every request (and of every Celery task).
        used, failed = self._used_in_request, self.errors_occurred
        self._used_in_request = False
        super().close_if_unusable_or_obsolete()
        if used:  # a request that ran no statement leaves the last proof as it was
            proven = not failed and self.connection is not None
            self._proven_at = time.monotonic() if proven else float("-inf")

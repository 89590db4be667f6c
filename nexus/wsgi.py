"""WSGI entry point (Gunicorn serves ``nexus.wsgi:application``).

The URLconf (and with it every view, serializer and filter module) is imported here, not on
the first request: with gunicorn's ``preload_app`` (gunicorn.conf.py) that happens once in
the master and every forked worker starts warm, instead of each worker paying the import on
its first request. Nothing it imports touches the database or the cache.
"""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")

application = get_wsgi_application()
get_resolver().url_patterns  # noqa: B018  (imports the URLconf now; see the docstring)

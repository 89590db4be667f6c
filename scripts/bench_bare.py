"""The bare Django ceiling for scripts/bench.py: a Django app of its own with one view that
returns constant JSON, no middleware, no installed apps, no database, no cache.

Served by the same gunicorn.conf.py with the same worker count as the project, it measures
what Django and gunicorn cost on this machine before the project adds anything; every
figure of the benchmark is given as a share of it.

    gunicorn -c gunicorn.conf.py scripts.bench_bare:application
"""

import django
from django.conf import settings
from django.http import JsonResponse
from django.urls import path

# The same body as the project's ceiling view (scripts/bench_urls.py).
_CONSTANT = {"status": "ok", "items": list(range(10))}


def ceiling(request):
    return JsonResponse(_CONSTANT)


urlpatterns = [path("bench/ceiling/", ceiling)]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-bare-ceiling-not-a-secret",  # nothing is signed
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings.configure)

application = get_wsgi_application()

#!/usr/bin/env python
"""In-process cost of the per-request hot path (docs/PERFORMANCE.md, "Hot path").

    DATABASE_URL=... REDIS_URL=... python scripts/hotpath.py [-n 5000] [--profile CASE]

Calls the WSGI application directly (no test client, no network) with the bench settings
(scripts/bench_settings.py, production-like: DEBUG off, Prometheus multiprocess files)
and prints, per case, the median and p99 wall time of one request, the mean CPU time
of this process per request, and the SQL statements and Redis round trips of one request.
Cases: the ceiling view behind the full middleware, a cached product list page and detail
(hits), and an uncached detail (the default set); also the bench's other uncached reads:
``list-uncached``, ``categories-uncached``, ``category-uncached`` (``?category=electronics``),
``filtered`` and ``search``; ``detail-stale`` and ``list-stale``, cached entries hit after
each stock change of another product (``--cases``). Read-only on the database.
``--without MIDDLEWARE`` drops middleware classes (a substring of the dotted path) to
measure what each costs. ``--profile CASE`` prints a cProfile of that case instead
(``HOTPATH_SORT=tottime`` sorts it by own time, ``HOTPATH_CALLERS=name`` adds who called
``name``); ``HOTPATH_SQL=1`` prints each case's statements.
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _environ(path: str, query: str = "") -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="requests per case (5000)")
    parser.add_argument("--cases", default="ceiling,list,detail,detail-uncached")
    parser.add_argument("--without", action="append", default=[], help="drop a middleware")
    parser.add_argument("--profile", default="", help="cProfile this case instead")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scripts.bench_settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    os.environ.setdefault("DJANGO_SECRET_KEY", "hotpath-" + "x" * 50)
    os.environ.setdefault("JWT_SIGNING_KEY", "hotpath-" + "y" * 50)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    os.environ.setdefault("NEXUS_THROTTLE_ANON", "1000000/s")
    os.environ.setdefault("CACHE_KEY_PREFIX", "nexus-hotpath")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="hotpath-prom-"))

    import django
    from django.conf import settings

    django.setup()
    if args.without:
        settings.MIDDLEWARE = [
            name for name in settings.MIDDLEWARE if not any(w in name for w in args.without)
        ]
    from django.core.wsgi import get_wsgi_application
    from django.db import connection

    from catalog.models import Product

    application = get_wsgi_application()
    product = Product.objects.filter(is_active=True).order_by("id").first()
    detail = f"/api/v1/products/{product.slug}/"
    cases = {
        "ceiling": ("/bench/ceiling/", "", True),
        "list": ("/api/v1/products/", "", True),
        "detail": (detail, "", True),
        "detail-uncached": (detail, "", False),
        # The bench's other uncached reads (scripts/bench.py, NEXUS_CATALOG_CACHE off).
        "list-uncached": ("/api/v1/products/", "", False),
        "categories-uncached": ("/api/v1/categories/", "", False),
        "category-uncached": ("/api/v1/products/", "category=electronics", False),
        "filtered": (
            "/api/v1/products/",
            "category=electronics&price_min=10&ordering=-price",
            False,
        ),
        "search": ("/api/v1/products/", "search=laptop", False),
        # Cached entries after a stock change elsewhere (the mixed run's checkouts move
        # the stock version many times a second): the entry's stock is re-checked.
        "detail-stale": (detail, "", True),
        "list-stale": ("/api/v1/products/", "", True),
    }
    from catalog.cache import stock_changed

    elsewhere = Product.objects.order_by("id").values_list("id", flat=True)[1000]

    def stock_moved() -> None:
        stock_changed(product_ids=[elsewhere])  # autocommit: recorded at once

    before_each = {"detail-stale": stock_moved, "list-stale": stock_moved}
    # Round trips to Redis: one packed send per command or pipeline.
    from redis.connection import AbstractConnection

    sent = [0]
    send = AbstractConnection.send_packed_command

    def counted_send(self, command, check_health=True):
        sent[0] += 1
        return send(self, command, check_health)

    AbstractConnection.send_packed_command = counted_send

    def call(path: str, query: str) -> bytes:
        chunks = []

        def start_response(status, headers, exc_info=None):
            assert status.startswith("200"), status
            return chunks.append

        result = application(_environ(path, query), start_response)
        try:
            chunks.extend(result)
        finally:
            result.close()
        return b"".join(chunks)

    for name in args.cases.split(","):
        path, query, cache_on = cases[name]
        before = before_each.get(name, lambda: None)
        settings.NEXUS_CATALOG_CACHE = cache_on
        call(path, query)  # warm: fills the cache, compiles, connects
        before()
        statements: list[str] = []

        def record(execute, sql, *rest, statements=statements):
            statements.append(sql)
            return execute(sql, *rest)

        with connection.execute_wrapper(record):
            call(path, query)
        before()
        sent[0] = 0
        call(path, query)
        commands = sent[0]
        if args.profile == name:
            profiler = cProfile.Profile()
            for _ in range(args.n):
                before()
                profiler.enable()
                call(path, query)
                profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(
                os.environ.get("HOTPATH_SORT", "cumulative")
            ).print_stats(45)
            if os.environ.get("HOTPATH_CALLERS"):
                pstats.Stats(profiler, stream=out).print_callers(os.environ["HOTPATH_CALLERS"])
            print(out.getvalue())
            continue
        times = []
        cpu = 0.0
        for _ in range(args.n):
            before()
            cpu_started, started = time.process_time(), time.perf_counter()
            call(path, query)
            times.append(time.perf_counter() - started)
            cpu += time.process_time() - cpu_started
        cpu /= args.n
        times.sort()
        print(
            f"{name:16} median {statistics.median(times) * 1e6:7.0f} us  "
            f"p99 {times[int(len(times) * 0.99)] * 1e6:7.0f} us  cpu {cpu * 1e6:6.0f} us  "
            f"SQL {len(statements)}  Redis round trips {commands}"
        )
        if os.environ.get("HOTPATH_SQL"):
            for sql in statements:
                print("   ", sql)


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""In-process cost of a signed-in cart add and a 3-line checkout (docs/PERFORMANCE.md,
"Checkout and cart add: hand-written hot reads").

    DATABASE_URL=... REDIS_URL=... python scripts/checkout_profile.py [-n 200] [--profile CASE]

Django's test ``Client`` in this process with the bench settings (scripts/bench_settings.py:
DEBUG off, the bench's throttle rates, the dummy email backend, the outbox handed to the
Celery broker in ``REDIS_URL`` after commit, as the bench runs it). One user, logged in
once over ``POST auth/login/`` (not counted), with 10 products of its own (stock 10^9).
Cases: ``add`` (``POST cart/`` by product, the 10 products in turn) and ``checkout``
(``POST orders/`` of a 3-line cart with an ``Idempotency-Key``, the bench's body; the
three adds before each checkout are not counted). Per case: median and minimum wall and
process CPU time per request, SQL statements and Redis round trips of one request.
``--profile CASE`` prints a cProfile of that case instead. Writes orders and outbox rows:
use a database of its own. The broker queue in ``REDIS_URL`` is emptied at the end.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(os.environ.get("CHECKOUT_PROFILE_ROOT") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))

ORDER_BODY = {
    "payment_method": "cash_on_delivery",
    "shipping_address": {
        "full_name": "Bench User",
        "street": "1 Load Street",
        "city": "Springfield",
        "postal_code": "12345",
        "country": "US",
        "phone_number": "+15555550100",
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="requests per case (200)")
    parser.add_argument("--cases", default="add,checkout")
    parser.add_argument("--profile", default="", help="cProfile this case instead")
    parser.add_argument("--sql", action="store_true", help="print the statements of one request")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scripts.bench_settings")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.setdefault("DJANGO_SECRET_KEY", "checkout-profile-" + "x" * 50)
    os.environ.setdefault("JWT_SIGNING_KEY", "checkout-profile-" + "y" * 50)
    os.environ.setdefault("JWT_ACCESS_MINUTES", "240")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1")
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    for scope in ("ANON", "USER", "AUTH"):
        os.environ.setdefault(f"NEXUS_THROTTLE_{scope}", "1000000/s")
    os.environ.setdefault("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend")
    os.environ.setdefault("CACHE_KEY_PREFIX", "nexus-checkout-profile")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="checkout-prom-"))

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count, Q
    from django.test import Client
    from redis.connection import AbstractConnection

    from catalog.models import Product, ProductVariant
    from users.models import User

    assert settings.NEXUS_OUTBOX_DISPATCH == "celery", settings.NEXUS_OUTBOX_DISPATCH
    email = "checkout-profile@example.com"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password="profile-pass-123", first_name="Pro", last_name="File"
        )
    # Cart adds by product need products with exactly one active variant (as the bench).
    single = Count("variants", filter=Q(variants__is_active=True))
    products = list(
        Product.objects.filter(is_active=True)
        .annotate(n=single)
        .filter(n=1)
        .order_by("id")
        .values_list("id", flat=True)[:10]
    )
    ProductVariant.objects.filter(product_id__in=products).update(stock_quantity=10**9)

    client = Client()
    login = client.post(
        "/api/v1/auth/login/",
        {"email": email, "password": "profile-pass-123"},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    access = login.json().get("access") or login.json()["tokens"]["access"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {access}"}
    client.delete("/api/v1/cart/", **headers)

    sent = [0]
    send = AbstractConnection.send_packed_command

    def counted_send(self, command, check_health=True):
        sent[0] += 1
        return send(self, command, check_health)

    AbstractConnection.send_packed_command = counted_send

    turn = [0]

    def add() -> None:
        product = products[turn[0] % len(products)]
        turn[0] += 1
        response = client.post(
            "/api/v1/cart/",
            json.dumps({"product": product, "quantity": 1}),
            content_type="application/json",
            **headers,
        )
        assert response.status_code in (200, 201), response.content

    def fill() -> None:
        for product in products[:3]:
            response = client.post(
                "/api/v1/cart/",
                json.dumps({"product": product, "quantity": 1}),
                content_type="application/json",
                **headers,
            )
            assert response.status_code in (200, 201), response.content

    def checkout() -> None:
        response = client.post(
            "/api/v1/orders/",
            json.dumps(ORDER_BODY),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            **headers,
        )
        assert response.status_code == 201, response.content

    cases = {"add": (add, None), "checkout": (checkout, fill)}
    for name in args.cases.split(","):
        run, before = cases[name]
        if name == "add":
            client.delete("/api/v1/cart/", **headers)

        def once(run=run, before=before) -> None:
            if before:
                before()
            run()

        once()  # warm: compiles, connects
        statements: list[str] = []

        def record(execute, sql, *rest, statements=statements):
            statements.append(sql)
            return execute(sql, *rest)

        if before:
            before()
        sent[0] = 0
        with connection.execute_wrapper(record):
            run()
        commands = sent[0]
        if args.sql:
            for number, sql in enumerate(statements, 1):
                print(f"{number:3}. {sql[:200]}")
        if args.profile == name:
            profiler = cProfile.Profile()
            for _ in range(args.n):
                if before:
                    before()
                profiler.enable()
                run()
                profiler.disable()
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
                int(os.environ.get("PROFILE_LINES", "60"))
            )
            if os.environ.get("PROFILE_CALLERS"):
                stats.print_callers(os.environ["PROFILE_CALLERS"])
            print(out.getvalue())
            continue
        walls, cpus = [], []
        for _ in range(args.n):
            if before:
                before()
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
        print(
            f"{name:9} wall median {statistics.median(walls) * 1e3:6.2f} ms "
            f"min {min(walls) * 1e3:6.2f}  cpu mean {statistics.fmean(cpus) * 1e3:6.2f} ms "
            f"median {statistics.median(cpus) * 1e3:6.2f} min {min(cpus) * 1e3:6.2f}  "
            f"SQL {len(statements)}  Redis round trips {commands}"
        )
    client.delete("/api/v1/cart/", **headers)
    # Nobody consumes the published tasks here.
    from nexus.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.client.delete("celery")


if __name__ == "__main__":
    main()

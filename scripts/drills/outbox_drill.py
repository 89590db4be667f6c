#!/usr/bin/env python3
"""Helpers of scripts/drills/background_work.sh: place orders, time password resets, count
what the SMTP sink received against the outbox, seed and check the pruned tables.

    outbox_drill.py place --base URL --users FILE --count N --out FILE [--p95-limit MS]
    outbox_drill.py reset-timing --base URL --users FILE --tries N [--limit-ms MS]
    outbox_drill.py expect --since EPOCH --out FILE          (outbox email rows since then)
    outbox_drill.py delivered --expect FILE --sink-log FILE --timeout S [--grace S]
    outbox_drill.py pending --expect FILE                     (rows not delivered yet)
    outbox_drill.py prune-seed --out FILE
    outbox_drill.py prune-check --seed FILE --timeout S

HTTP commands use only the standard library (traffic.py's client); database commands set
Django up from the environment the drill exported (DATABASE_URL, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from traffic import ADDRESS, _login, http, product_ids  # noqa: E402


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
    import django

    django.setup()


def _p95(values: list[float]) -> float:
    values = sorted(values) or [0.0]
    return values[min(len(values) - 1, int(len(values) * 0.95))]


# --------------------------------------------------------------------------- HTTP


def cmd_place(args: argparse.Namespace) -> None:
    """Sign in N users, fill one cart line each, then check out with a few threads."""
    users = json.loads(Path(args.users).read_text())[: args.count]
    # Enough stock that no product of this phase can sell out (a 409 would be a false
    # alarm): each product takes at most `count` orders here; later phases pick again.
    products = product_ids(args.base, min_stock=args.count)
    if not products:
        raise SystemExit(f"no single-variant product with {args.count} units in stock")
    cache = Path(args.users).with_suffix(".tokens.json")
    known = json.loads(cache.read_text()) if cache.exists() else {}
    tokens = []
    for index, user in enumerate(users):
        # Signed in once per drill: password hashing is not what this drill measures.
        token = known.get(user["email"]) or _login(args.base, user)
        known[user["email"]] = token
        status, _, body, _ = http(
            args.base,
            "POST",
            "/api/v1/cart/",
            body={"product": products[index % len(products)], "quantity": 1},
            token=token,
        )
        if status != 201:
            raise SystemExit(f"cart add failed: {status} {body}")
        tokens.append(token)
    cache.write_text(json.dumps(known))
    results: list[dict] = []
    lock = threading.Lock()
    queue = list(tokens)

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                token = queue.pop()
            status, _, body, ms = http(
                args.base,
                "POST",
                "/api/v1/orders/",
                body={"shipping_address": ADDRESS, "payment_method": args.payment_method},
                token=token,
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            with lock:
                number = body.get("number") if isinstance(body, dict) else None
                results.append({"status": status, "ms": round(ms, 1), "number": number})

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    statuses = Counter(r["status"] for r in results)
    times = [r["ms"] for r in results]
    p95 = _p95(times)
    Path(args.out).write_text(json.dumps(results))
    print(
        f"  orders: {len(results)} placed, answers {dict(statuses)}, "
        f"p95 {p95:.0f} ms, median {statistics.median(times):.0f} ms, max {max(times):.0f} ms"
    )
    problems = []
    if statuses.get(201, 0) != args.count:
        problems.append(f"{args.count - statuses.get(201, 0)} order(s) not 201")
    if args.p95_limit:
        limit = args.p95_limit
        if args.baseline:
            # On a machine so loaded that checkouts are slow with SMTP up, the absolute bar
            # measures the machine: then compare with the baseline taken just before (a
            # request waiting on SMTP would add EMAIL_TIMEOUT, seconds, either way).
            base = _p95([r["ms"] for r in json.loads(Path(args.baseline).read_text())])
            if base > args.p95_limit:
                limit = base * 1.5 + 50
                print(
                    f"  NOTE: baseline p95 {base:.0f} ms already exceeds {args.p95_limit:.0f} ms "
                    f"(machine load {os.getloadavg()[0]:.1f}); judged against "
                    f"1.5 x baseline + 50 = {limit:.0f} ms"
                )
        if p95 > limit:
            problems.append(f"p95 {p95:.0f} ms > {limit:.0f} ms")
    for problem in problems:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


def cmd_reset_timing(args: argparse.Namespace) -> None:
    """Alternate reset requests for existing and unknown emails; compare status and medians."""
    users = json.loads(Path(args.users).read_text())
    samples: dict[str, list[float]] = {"existing": [], "unknown": []}
    statuses: dict[str, Counter] = {"existing": Counter(), "unknown": Counter()}
    for index in range(-3, args.tries):  # three warm-up rounds, not counted
        for kind in ("existing", "unknown"):
            email = (
                users[index % len(users)]["email"]
                if kind == "existing"
                else f"nobody-{uuid.uuid4().hex[:12]}@example.com"
            )
            status, _, _, ms = http(
                args.base, "POST", "/api/v1/auth/password/reset/", body={"email": email}
            )
            if index >= 0:
                samples[kind].append(ms)
                statuses[kind][status] += 1
    existing, unknown = (statistics.median(samples[k]) for k in ("existing", "unknown"))
    print(
        f"  password reset: existing {dict(statuses['existing'])} median {existing:.1f} ms; "
        f"unknown {dict(statuses['unknown'])} median {unknown:.1f} ms; "
        f"difference {abs(existing - unknown):.1f} ms over {args.tries} tries each"
    )
    problems = []
    if set(statuses["existing"]) != set(statuses["unknown"]) or len(statuses["existing"]) != 1:
        problems.append(
            f"statuses differ: {dict(statuses['existing'])} vs {dict(statuses['unknown'])}"
        )
    if abs(existing - unknown) > args.limit_ms:
        problems.append(f"medians differ by {abs(existing - unknown):.1f} ms > {args.limit_ms}")
    for problem in problems:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


# --------------------------------------------------------------------------- outbox


def cmd_expect(args: argparse.Namespace) -> None:
    """Write the ids of email-carrying outbox rows created since --since."""
    _django()
    from datetime import UTC, datetime

    from nexus.models import OutboxMessage

    since = datetime.fromtimestamp(args.since, tz=UTC)
    ids = list(
        OutboxMessage.objects.filter(kind__in=args.kinds.split(","), created_at__gte=since)
        .order_by("id")
        .values_list("id", flat=True)
    )
    Path(args.out).write_text(json.dumps(ids))
    print(f"  outbox: {len(ids)} email row(s) since the phase started")


def _sink_counts(path: str) -> Counter:
    counts: Counter = Counter()
    if os.path.exists(path):
        for line in Path(path).read_text().splitlines():
            if line.strip():
                counts[str(json.loads(line).get("outbox_id"))] += 1
    return counts


def cmd_pending(args: argparse.Namespace) -> None:
    _django()
    from nexus.models import OutboxMessage, OutboxStatus

    ids = json.loads(Path(args.expect).read_text())
    rows = OutboxMessage.objects.filter(pk__in=ids)
    pending = rows.filter(status=OutboxStatus.PENDING)
    retried = pending.filter(attempts__gte=1).count()
    print(
        f"  outbox now: {rows.filter(status=OutboxStatus.DELIVERED).count()} delivered, "
        f"{pending.count()} pending ({retried} of them already failed an attempt), "
        f"{rows.filter(status=OutboxStatus.FAILED).count()} failed"
    )
    if args.require_failed_attempts and retried == 0:
        print("  VIOLATION: no delivery attempt failed while SMTP was down")
        sys.exit(1)


def cmd_delivered(args: argparse.Namespace) -> None:
    """Wait until every expected row reached the sink; then no duplicate during --grace."""
    _django()
    from nexus.models import OutboxMessage, OutboxStatus

    ids = [str(i) for i in json.loads(Path(args.expect).read_text())]
    started = time.time()
    deadline = started + args.timeout
    while time.time() < deadline:
        counts = _sink_counts(args.sink_log)
        if all(counts[i] >= 1 for i in ids):
            break
        time.sleep(0.2)
    took = time.time() - started
    time.sleep(args.grace)  # anything sent twice would arrive now
    counts = _sink_counts(args.sink_log)
    missing = [i for i in ids if counts[i] == 0]
    twice = {i: counts[i] for i in ids if counts[i] > 1}
    statuses = Counter(OutboxMessage.objects.filter(pk__in=ids).values_list("status", flat=True))
    attempts = list(OutboxMessage.objects.filter(pk__in=ids).values_list("attempts", flat=True))
    print(
        f"  delivered: {len(ids) - len(missing)}/{len(ids)} emails in {took:.1f}s, "
        f"{len(twice)} sent twice, rows {dict(statuses)}, attempts per row "
        f"max {max(attempts, default=0)}"
    )
    problems = []
    if missing:
        problems.append(f"{len(missing)} email(s) never arrived: outbox ids {missing[:10]}")
    if twice:
        problems.append(f"email(s) received more than once: {twice}")
    if statuses.get(OutboxStatus.DELIVERED, 0) != len(ids):
        problems.append(f"rows not all delivered: {dict(statuses)}")
    for problem in problems:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


# --------------------------------------------------------------------------- pruning


def _tables():
    """(label, queryset of everything, queryset of what the jobs must delete, make-stale)."""
    from datetime import timedelta

    from django.apps import apps
    from django.conf import settings
    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from cart.models import Cart
    from nexus.models import OutboxMessage, OutboxStatus
    from users.models import LoginFailure, RevokedAccessToken

    # The idempotency model may live in orders or nexus: find it by name.
    idempotency = next(m for m in apps.get_models() if m.__name__ == "IdempotencyKey")
    now = timezone.now()
    long_ago = now - timedelta(days=60)
    window = settings.NEXUS_LOGIN_FAILURE_WINDOW
    return {
        "idempotency_keys": (
            idempotency.objects.all(),
            idempotency.objects.filter(created_at__lt=now - timedelta(days=2)),
        ),
        "guest_carts": (
            Cart.objects.filter(user__isnull=True),
            Cart.objects.filter(user__isnull=True, updated_at__lt=now - timedelta(days=31)),
        ),
        "outstanding_tokens": (
            OutstandingToken.objects.all(),
            OutstandingToken.objects.filter(expires_at__lt=now),
        ),
        "revoked_access_tokens": (
            RevokedAccessToken.objects.all(),
            RevokedAccessToken.objects.filter(expires_at__lt=now),
        ),
        "login_failures": (
            LoginFailure.objects.all(),
            LoginFailure.objects.filter(window_started_at__lt=now - window - window),
        ),
        "outbox_delivered": (
            OutboxMessage.objects.all(),
            OutboxMessage.objects.filter(
                status=OutboxStatus.DELIVERED, delivered_at__lt=now - timedelta(days=30)
            ),
        ),
    }, long_ago


def cmd_prune_seed(args: argparse.Namespace) -> None:
    """Add stale rows (what each job must delete) and fresh ones (what it must keep)."""
    _django()
    import secrets
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    from cart.models import Cart
    from nexus.models import OutboxMessage, OutboxStatus
    from users.models import LoginFailure, RevokedAccessToken, User

    tables, long_ago = _tables()
    idempotency = tables["idempotency_keys"][0].model
    now = timezone.now()
    user = User.objects.order_by("id").first()
    for index in range(40):
        stale = index % 2 == 0
        when = long_ago if stale else now
        tag = secrets.token_hex(8)
        key = idempotency.objects.create(
            user=user, key=f"drill-{tag}", request_hash="0" * 64, status="completed"
        )
        idempotency.objects.filter(pk=key.pk).update(created_at=when)
        cart = Cart.objects.create(token=f"drill-{tag}")
        Cart.objects.filter(pk=cart.pk).update(updated_at=when)
        OutstandingToken.objects.create(
            user=user,
            jti=f"drill-{tag}",
            token="x",
            expires_at=long_ago if stale else now + timedelta(days=7),
        )
        RevokedAccessToken.objects.create(
            jti=f"drill-{tag}", expires_at=long_ago if stale else now + timedelta(minutes=15)
        )
        LoginFailure.objects.create(key=f"account:drill-{tag}", failures=3, window_started_at=when)
        OutboxMessage.objects.create(
            kind="email",
            payload={},
            status=OutboxStatus.DELIVERED,
            max_attempts=1,
            attempts=1,
            delivered_at=when,
        )
    counts = {name: (all_.count(), stale.count()) for name, (all_, stale) in tables.items()}
    Path(args.out).write_text(json.dumps(counts))
    print("  seeded: " + ", ".join(f"{n} {a} rows ({s} stale)" for n, (a, s) in counts.items()))


def cmd_prune_check(args: argparse.Namespace) -> None:
    """Wait until beat's jobs deleted every stale row; fresh rows must all remain."""
    _django()
    seeded = json.loads(Path(args.seed).read_text())
    started = time.time()
    deadline = started + args.timeout
    while True:
        tables, _ = _tables()
        now_counts = {name: (a.count(), s.count()) for name, (a, s) in tables.items()}
        if all(stale == 0 for _, stale in now_counts.values()) or time.time() > deadline:
            break
        time.sleep(0.5)
    took = time.time() - started
    problems = []
    parts = []
    for name, (before_all, before_stale) in seeded.items():
        after_all, after_stale = now_counts[name]
        parts.append(f"{name} {before_all}->{after_all}")
        if after_stale:
            problems.append(f"{name}: {after_stale} stale row(s) left")
        if after_all >= before_all:
            problems.append(f"{name} did not shrink ({before_all} -> {after_all})")
        if after_all < before_all - before_stale:
            problems.append(f"{name}: fresh rows deleted ({before_all} -> {after_all})")
    print(f"  pruned within {took:.1f}s: " + ", ".join(parts))
    for problem in problems:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    place = sub.add_parser("place")
    place.add_argument("--base", required=True)
    place.add_argument("--users", required=True)
    place.add_argument("--count", type=int, required=True)
    place.add_argument("--threads", type=int, default=5)
    place.add_argument("--out", required=True)
    place.add_argument("--p95-limit", type=float, default=0)
    # Not "card": since the payments app, a card order needs Stripe configured (else 400).
    place.add_argument("--payment-method", default="bank_transfer")
    place.add_argument("--baseline", help="results of a baseline run (SMTP up) to compare with")
    timing = sub.add_parser("reset-timing")
    timing.add_argument("--base", required=True)
    timing.add_argument("--users", required=True)
    timing.add_argument("--tries", type=int, default=20)
    timing.add_argument("--limit-ms", type=float, default=10)
    expect = sub.add_parser("expect")
    expect.add_argument("--since", type=float, required=True)
    expect.add_argument("--kinds", default="email")
    expect.add_argument("--out", required=True)
    pending = sub.add_parser("pending")
    pending.add_argument("--expect", required=True)
    pending.add_argument("--require-failed-attempts", action="store_true")
    delivered = sub.add_parser("delivered")
    delivered.add_argument("--expect", required=True)
    delivered.add_argument("--sink-log", required=True)
    delivered.add_argument("--timeout", type=float, default=60)
    delivered.add_argument("--grace", type=float, default=3)
    seed = sub.add_parser("prune-seed")
    seed.add_argument("--out", required=True)
    check = sub.add_parser("prune-check")
    check.add_argument("--seed", required=True)
    check.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    {
        "place": cmd_place,
        "reset-timing": cmd_reset_timing,
        "expect": cmd_expect,
        "pending": cmd_pending,
        "delivered": cmd_delivered,
        "prune-seed": cmd_prune_seed,
        "prune-check": cmd_prune_check,
    }[args.command](args)


if __name__ == "__main__":
    main()

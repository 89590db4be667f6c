#!/usr/bin/env python3
"""Traffic generator and verdicts for the outage drills (standard library only).

    traffic.py run --base URL --users FILE --duration MAX_S --out LOG [--stop-file F]
    traffic.py verdict {redis,postgres} --log LOG --phases FILE

``run`` runs a thread per user until the stop file appears; each signs in as its user and
loops over a mix of requests that exist
in the live schema: readiness, login, profile, product list and detail, and a checkout
(cart add + order with an Idempotency-Key) when ``/api/v1/orders/`` exists. Every request
is one JSON line: time, name, status (0 = no answer), milliseconds, content type.
``verdict`` checks a drill's rules against that log and the phase marks the drill wrote
(``name epoch`` per line), prints one summary line and exits non-zero on a violation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from decimal import Decimal
from typing import Any

TIMEOUT = 20.0
ADDRESS = {
    "full_name": "Drill Customer",
    "street": "1 Main Street",
    "city": "Springfield",
    "postal_code": "12345",
    "country": "US",
}


def http(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, Any, float]:
    """(status, content type, parsed JSON or None, milliseconds); status 0 = no answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)  # noqa: S310
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            status, ctype, raw = (
                response.status,
                response.headers.get("Content-Type", ""),
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        status, ctype, raw = exc.code, exc.headers.get("Content-Type", ""), exc.read()
    except Exception as exc:  # connection refused/reset, timeout: no answer
        return 0, type(exc).__name__, None, (time.monotonic() - started) * 1000
    elapsed = (time.monotonic() - started) * 1000
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, ctype, parsed, elapsed


class Recorder:
    def __init__(self, path: str) -> None:
        self.stream = open(path, "a", buffering=1)  # noqa: SIM115 (closed by close())
        self.lock = threading.Lock()

    def record(self, name: str, status: int, ctype: str, ms: float, extra: Any = None) -> None:
        line = {
            "t": time.time(),
            "name": name,
            "status": status,
            "ms": round(ms, 1),
            "ctype": ctype,
        }
        if extra is not None:
            line["extra"] = extra
        with self.lock:
            self.stream.write(json.dumps(line) + "\n")

    def close(self) -> None:
        self.stream.close()


def _call(rec: Recorder, name: str, base: str, method: str, path: str, **kwargs):
    status, ctype, body, ms = http(base, method, path, **kwargs)
    extra = body.get("status") if name == "ready" and isinstance(body, dict) else None
    rec.record(name, status, ctype, ms, extra)
    return status, body


def product_ids(base: str, token: str | None = None, *, min_stock: int = 0) -> list[Any]:
    status, _, body, _ = http(base, "GET", "/api/v1/products/?page_size=50", token=token)
    if status != 200 or not isinstance(body, dict):
        return []
    return [
        p["id"]
        for p in body.get("results", [])
        # Staff see inactive products too; only sellable ones can go in a cart, and by
        # product id only those with exactly one active variant (v1.1 variants).
        if p.get("in_stock", True)
        and p.get("is_active", True)
        and "id" in p
        and sum(1 for v in p.get("variants", [{}]) if v.get("is_active", True)) == 1
        and p.get("stock_quantity", min_stock) >= min_stock
    ]


def has_path(base: str, path: str) -> bool:
    status, _, schema, _ = http(base, "GET", "/api/v1/schema/?format=json")
    return status == 200 and isinstance(schema, dict) and path in schema.get("paths", {})


def worker(
    base: str, user: dict[str, str], stop: threading.Event, rec: Recorder, checkout: bool
) -> None:
    token = None
    products: list[Any] = []
    turn = 0
    while not stop.is_set():
        turn += 1
        _call(rec, "ready", base, "GET", "/health/ready/")
        if token is None or turn % 5 == 0:
            status, body = _call(
                rec,
                "login",
                base,
                "POST",
                "/api/v1/auth/login/",
                body={"email": user["email"], "password": user["password"]},
            )
            if status == 200:
                token = body["access"]
        if token:
            _call(rec, "profile", base, "GET", "/api/v1/users/profile/", token=token)
        if not products:
            products = product_ids(base)
        if products:
            pid = products[turn % len(products)]
            _call(rec, "products", base, "GET", "/api/v1/products/?page_size=20")
            _call(rec, "product", base, "GET", f"/api/v1/products/{pid}/")
            if checkout and token:
                status, _ = _call(
                    rec,
                    "cart_add",
                    base,
                    "POST",
                    "/api/v1/cart/",
                    body={"product": pid, "quantity": 1},
                    token=token,
                )
                if status == 201:
                    _call(
                        rec,
                        "checkout",
                        base,
                        "POST",
                        "/api/v1/orders/",
                        body={"shipping_address": ADDRESS, "payment_method": "bank_transfer"},
                        token=token,
                        headers={"Idempotency-Key": uuid.uuid4().hex},
                    )
        time.sleep(0.05)


def cmd_run(args: argparse.Namespace) -> None:
    with open(args.users) as stream:
        users = json.load(stream)
    checkout = has_path(args.base, "/api/v1/orders/") and has_path(args.base, "/api/v1/cart/")
    print(
        f"traffic: {len(users)} threads (at most {args.duration}s), checkout={checkout}",
        file=sys.stderr,
    )
    rec = Recorder(args.out)
    stop = threading.Event()
    threads = [
        threading.Thread(target=worker, args=(args.base, user, stop, rec, checkout), daemon=True)
        for user in users
    ]
    for thread in threads:
        thread.start()
    # Until the drill creates the stop file (or the duration cap runs out).
    deadline = time.time() + args.duration
    while time.time() < deadline and not os.path.exists(args.stop_file):
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(4 * TIMEOUT)
    rec.close()


# --------------------------------------------------------------------------- verdicts


def _load(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, float]]:
    with open(args.log) as stream:
        records = [json.loads(line) for line in stream if line.strip()]
    phases = {}
    with open(args.phases) as stream:
        for line in stream:
            name, at = line.split()
            phases[name] = float(at)
    return records, phases


def _between(records, start: float, end: float) -> list[dict[str, Any]]:
    return [r for r in records if start <= r["t"] < end]


def _fmt(records) -> str:
    counts: dict[str, int] = {}
    for r in records:
        key = f"{r['name']}:{r['status']}"
        counts[key] = counts.get(key, 0) + 1
    return " ".join(f"{k}={v}" for k, v in sorted(counts.items()))


def _p95(records) -> float:
    values = sorted(r["ms"] for r in records) or [0.0]
    return values[min(len(values) - 1, int(len(values) * 0.95))]


def verdict_redis(records, phases) -> list[str]:
    problems = []
    down, starting = phases["redis_down"], phases["redis_starting"]
    up, end = phases["redis_up"], phases["end"]
    for r in records:
        if r["status"] >= 500 or r["status"] == 0:
            problems.append(f"{r['name']} answered {r['status']} at +{r['t'] - down:.1f}s")
    # Readiness requests sent after the stop (those in flight at that instant may say ok).
    outage = _between(records, down + 1.0, starting)
    ready = [r for r in outage if r["name"] == "ready"]
    if not ready or any(r.get("extra") != "degraded" or r["status"] != 200 for r in ready):
        problems.append(
            f"/health/ready/ during the outage: {_fmt(ready)} "
            f"{sorted({r.get('extra') for r in ready}, key=str)}"
        )
    work = [r for r in outage if r["name"] != "ready"]
    # Everything succeeds, except that stock may run out under the checkout loop (409).
    refused = [
        r
        for r in work
        if not 200 <= r["status"] < 300
        and not (r["status"] == 409 and r["name"] in ("cart_add", "checkout"))
    ]
    if not work or refused:
        problems.append(f"requests refused during the outage: {_fmt(refused)}")
    for name in sorted({r["name"] for r in work}):
        if not any(200 <= r["status"] < 300 for r in work if r["name"] == name):
            problems.append(f"no {name} succeeded during the outage")
    # A dead or hung Redis must cost little: the cache client's circuit breaker skips it.
    if work and _p95(work) > 2000:
        problems.append(f"p95 {_p95(work):.0f} ms during the outage (limit 2000 ms)")
    recovered = [r for r in _between(records, up + 10, end) if r["name"] == "ready"]
    if not recovered or any(r.get("extra") != "ok" for r in recovered):
        problems.append(f"readiness did not recover to ok within 10s: {_fmt(recovered)}")
    print(
        f"redis drill: outage {_fmt(outage)}; p95 {_p95(work):.0f} ms during the outage, "
        f"{_p95(_between(records, 0, down)):.0f} ms before"
    )
    return problems


def verdict_postgres(records, phases) -> list[str]:
    problems = []
    stopping, down = phases["pg_stopping"], phases["pg_down"]
    starting, up, end = phases["pg_starting"], phases["pg_up"], phases["end"]
    for r in records:
        if r["status"] == 0:
            problems.append(f"{r['name']}: no answer ({r['ctype']}) at +{r['t'] - down:.1f}s")
    outage = _between(records, down + 1.0, starting)
    for r in outage:
        if r["ms"] > 5000:
            problems.append(f"{r['name']} took {r['ms']:.0f} ms during the outage")
        if r["name"] == "ready" and r["status"] != 503:
            problems.append(f"/health/ready/ answered {r['status']} during the outage")
        # A read the cache can answer without the database may still succeed.
        if r["name"] != "ready" and r["status"] != 503 and not 200 <= r["status"] < 300:
            problems.append(f"{r['name']} answered {r['status']} during the outage")
        if r["name"] != "ready" and r["status"] == 503 and "problem+json" not in r["ctype"]:
            problems.append(f"{r['name']} 503 is not problem+json ({r['ctype']})")
    if not outage:
        problems.append("no request during the outage")
    for r in _between(records, 0, stopping) + _between(records, up + 10, end):
        if r["status"] >= 500:
            problems.append(f"{r['name']} answered {r['status']} outside the outage")
    recovered = _between(records, up + 10, end)
    if not recovered:
        problems.append("no request after recovery")
    first_ok = min(
        (r["t"] for r in records if r["t"] >= up and r["name"] == "ready" and r["status"] == 200),
        default=None,
    )
    recovery = f"{first_ok - up:.1f}s" if first_ok else "never"
    print(
        f"postgres drill: outage {_fmt(outage)}; "
        f"max {max((r['ms'] for r in outage), default=0):.0f} ms; "
        f"ready again {recovery} after the restart; after: {_fmt(recovered)}"
    )
    return problems


def cmd_verdict(args: argparse.Namespace) -> None:
    records, phases = _load(args)
    check = {"redis": verdict_redis, "postgres": verdict_postgres}[args.drill]
    problems = check(records, phases)
    for problem in problems[:30]:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


# --------------------------------------------------------------------------- SIGTERM burst


def _login(base: str, account: dict[str, str]) -> str:
    status, _, body, _ = http(
        base,
        "POST",
        "/api/v1/auth/login/",
        body={"email": account["email"], "password": account["password"]},
    )
    if status != 200:
        raise SystemExit(f"login of {account['email']} failed: {status} {body}")
    return body["access"]


def _stock(base: str, staff: str, pid: Any) -> int:
    status, _, body, _ = http(base, "GET", f"/api/v1/products/{pid}/", token=staff)
    if status != 200 or "stock_quantity" not in body:
        raise SystemExit(f"cannot read the stock of product {pid}: {status} {body}")
    return int(body["stock_quantity"])


def cmd_burst_prepare(args: argparse.Namespace) -> None:
    """Sign everybody in, give each user one cart line, write the state to --state."""
    with open(args.users) as stream:
        users = json.load(stream)
    with open(args.staff) as stream:
        staff = _login(args.base, json.load(stream))
    products = product_ids(args.base, staff)[:5]
    if not products:
        raise SystemExit("no product in stock to order")
    state: dict[str, Any] = {"users": [], "stock": {}}
    for index, user in enumerate(users):
        token = _login(args.base, user)
        pid = products[index % len(products)]
        quantity = 1 + index % 2
        status, _, body, _ = http(
            args.base,
            "POST",
            "/api/v1/cart/",
            body={"product": pid, "quantity": quantity},
            token=token,
        )
        if status != 201:
            raise SystemExit(f"cart add failed: {status} {body}")
        state["users"].append({**user, "token": token, "product": pid, "quantity": quantity})
    state["stock"] = {str(pid): _stock(args.base, staff, pid) for pid in products}
    with open(args.state, "w") as stream:
        json.dump(state, stream)
    print(f"burst: {len(users)} carts ready on products {products}", file=sys.stderr)


def cmd_burst_fire(args: argparse.Namespace) -> None:
    """Every user checks out at once; SIGTERM goes to Gunicorn --delay seconds later."""
    import signal

    with open(args.state) as stream:
        state = json.load(stream)
    barrier = threading.Barrier(len(state["users"]) + 1)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def checkout(user: dict[str, Any]) -> None:
        barrier.wait()
        status, _ctype, body, ms = http(
            args.base,
            "POST",
            "/api/v1/orders/",
            body={"shipping_address": ADDRESS, "payment_method": "bank_transfer"},
            token=user["token"],
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        with lock:
            results.append(
                {
                    "email": user["email"],
                    "status": status,
                    "ms": round(ms),
                    "done": time.time(),
                    "order": body.get("id") if isinstance(body, dict) else None,
                }
            )

    threads = [threading.Thread(target=checkout, args=(user,)) for user in state["users"]]
    for thread in threads:
        thread.start()
    barrier.wait()
    fired = time.time()
    time.sleep(args.delay)
    os.kill(args.pid, signal.SIGTERM)
    sigterm = time.time()
    for thread in threads:
        thread.join(4 * TIMEOUT)
    state.update({"results": results, "fired": fired, "sigterm": sigterm})
    with open(args.state, "w") as stream:
        json.dump(state, stream)


def cmd_burst_verify(args: argparse.Namespace) -> None:
    """Against a fresh Gunicorn: every answered 201 has its order, nothing else does, every
    order is whole, stock moved by exactly what was ordered, carts match."""
    with open(args.state) as stream:
        state = json.load(stream)
    with open(args.staff) as stream:
        staff = _login(args.base, json.load(stream))
    problems: list[str] = []
    outcome: dict[str, int] = {}
    ordered: dict[str, int] = {}
    finished_after_sigterm = 0
    by_email = {r["email"]: r for r in state["results"]}
    for user in state["users"]:
        result = by_email.get(user["email"], {"status": -1})
        code = result["status"]
        outcome[str(code)] = outcome.get(str(code), 0) + 1
        if code == 201 and result["done"] > state["sigterm"]:
            finished_after_sigterm += 1
        if code >= 500:
            problems.append(f"{user['email']}: checkout answered {code}")
        token = _login(args.base, user)
        status, _, page, _ = http(args.base, "GET", "/api/v1/orders/", token=token)
        orders = page.get("results", []) if status == 200 and isinstance(page, dict) else None
        if orders is None:
            problems.append(f"{user['email']}: cannot list orders ({status})")
            continue
        if code == 201 and len(orders) != 1:
            problems.append(f"{user['email']}: answered 201 but has {len(orders)} orders")
        if code != 201 and orders:
            problems.append(f"{user['email']}: answered {code} but an order exists (lost answer)")
        for order in orders:
            items = order.get("items") or []
            if not items:
                problems.append(f"order {order.get('number')}: no items")
            lines = sum(Decimal(i["line_total"]) for i in items)
            if Decimal(order["subtotal"]) != lines:
                problems.append(f"order {order.get('number')}: subtotal != sum of lines")
            if Decimal(order["total"]) != Decimal(order["subtotal"]) + Decimal(
                order["shipping_cost"]
            ):
                problems.append(f"order {order.get('number')}: total != subtotal + shipping")
            for item in items:
                key = str(
                    item["product"]
                    if not isinstance(item["product"], dict)
                    else item["product"]["id"]
                )
                ordered[key] = ordered.get(key, 0) + int(item["quantity"])
        status, _, cart, _ = http(args.base, "GET", "/api/v1/cart/", token=token)
        in_cart = int(cart.get("total_items", 0)) if isinstance(cart, dict) else -1
        if orders and in_cart != 0:
            problems.append(f"{user['email']}: ordered but the cart still holds {in_cart}")
        if not orders and in_cart == 0:
            problems.append(f"{user['email']}: no order but the cart was emptied")
    for pid, before in state["stock"].items():
        after = _stock(args.base, staff, pid)
        if before - after != ordered.get(pid, 0):
            problems.append(
                f"product {pid}: stock {before} -> {after} but {ordered.get(pid, 0)} ordered"
            )
    print(
        f"sigterm drill: {len(state['users'])} checkouts, answers {outcome}, "
        f"{finished_after_sigterm} finished after the SIGTERM, "
        f"{sum(ordered.values())} units ordered, stock consistent: "
        f"{not any('stock' in p for p in problems)}"
    )
    for problem in problems[:30]:
        print(f"  VIOLATION: {problem}")
    if problems:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--base", required=True)
    run.add_argument("--users", required=True)
    run.add_argument("--duration", type=float, required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--stop-file", default="/nonexistent")
    verdict = sub.add_parser("verdict")
    verdict.add_argument("drill", choices=["redis", "postgres"])
    verdict.add_argument("--log", required=True)
    verdict.add_argument("--phases", required=True)
    for name in ("burst-prepare", "burst-fire", "burst-verify"):
        burst = sub.add_parser(name)
        burst.add_argument("--base", required=True)
        burst.add_argument("--state", required=True)
        burst.add_argument("--users")
        burst.add_argument("--staff")
        burst.add_argument("--pid", type=int)
        burst.add_argument("--delay", type=float, default=0.15)
    args = parser.parse_args()
    commands = {
        "run": cmd_run,
        "verdict": cmd_verdict,
        "burst-prepare": cmd_burst_prepare,
        "burst-fire": cmd_burst_fire,
        "burst-verify": cmd_burst_verify,
    }
    commands[args.command](args)


if __name__ == "__main__":
    main()

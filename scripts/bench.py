#!/usr/bin/env python
"""Benchmark: gunicorn on PostgreSQL + Redis with a seeded catalogue, loaded with wrk.

    python scripts/bench.py [--products 100000] [--duration 10] [--only ceiling,list]
    python scripts/bench.py --smoke          # about a minute: proves the script works

Every figure is a share of a **bare Django ceiling** measured in the same run: a Django
app of its own (scripts/bench_bare.py: one view returning constant JSON, no middleware,
no database) served by the same gunicorn.conf.py with the same worker count. The bare
server runs for the whole benchmark; it and each case alternate in short slices
(``--slice``; checkouts and the mixed run are one continuous run between two halves of
bare measurement), and each case's share is taken against its own bare measurements, so
a machine shared with other work shifts both figures together. ``cpu-share`` is the same
ratio from the CPU time of the gunicorn processes (PostgreSQL and Redis not included).

Cases (``--only`` takes their keys, comma-separated; ``--list`` prints them):

- ``ceiling``: the project's ceiling view (scripts/bench_urls.py), full middleware;
  ``ceiling-old``: the same under the previous worker policy (no preload, recycling after
  1,000 requests); ``ceiling-norecycle``: the current policy without recycling.
- ``list``, ``detail``, ``categories``: public catalog reads with the response cache on;
  ``list-uncached``, ``detail-uncached``, ``filtered``, ``search``,
  ``categories-uncached``: with the catalog cache off (a server started with
  BENCH_CATALOG_CACHE=0).
- ``cart``: POST cart/ (signed in), each connection its own user.
- ``checkout``: each connection fills a 3-line cart and places the order, over and over;
  the figure is orders per second.
- ``mixed``: 85% catalog reads, 10% cart writes, 5% checkouts for ``--mixed-duration``
  seconds (30): each connection is a user who browses, adds to the cart and checks out.
  Reports overall requests/s, errors and the product cache hit rate, counted by the app
  (scripts/bench_urls.py, BENCH_COUNT_CACHE) and, for reference, Redis's own
  keyspace_hits/misses (all Redis reads: throttles, the version key, stale entries).

The signed-in cases log in over HTTP as users the benchmark creates (``bench-N@bench.test``),
and give each user its own products with a stock large enough to never run out, so
checkouts do not queue on the same rows. Writes need one wrk connection per user, so they
run wrk with as many threads as connections (each thread's requests are then strictly
sequential).

Creates the scratch database if needed (default ``nexus_bench``, or BENCH_DATABASE_URL),
migrates, seeds up to ``--products`` products, and by default starts a private Redis on a
free port (``--redis-url`` uses another), so the shared Redis is neither flushed nor counted.
Prints progress, a table, and writes ``bench-results/bench-<time>.json`` plus a bar chart
(PNG) of every share next to its goal (matplotlib: ``pip install -e .[bench]``). Needs
``wrk`` (Debian: ``apt-get install wrk``).
"""

# A local developer tool: it runs fixed commands (python, wrk, redis-server) and fetches
# from servers it started on 127.0.0.1, so the subprocess/urlopen audit rules do not apply.
# ruff: noqa: S310, S603, S607

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STARTED = time.monotonic()

# Goals from issue 18: share of the bare ceiling (and p99 in ms where one is set).
CEILING_PATH = "/bench/ceiling/"
FILTERED_PATH = "/api/v1/products/?category=electronics&price_min=10&ordering=-price"


@dataclass(frozen=True)
class Case:
    key: str
    name: str
    server: str  # which project server: cached, uncached, old, norecycle, mixed
    kind: str = "get"  # get, cart, checkout, mixed
    path: str = ""
    goal: float | None = None
    goal_p99_ms: float | None = None


CASES = [
    Case(
        "ceiling", "project ceiling view (full middleware)", "cached", path=CEILING_PATH, goal=0.75
    ),
    Case(
        "ceiling-old",
        "ceiling, previous policy (no preload, recycle 1000)",
        "old",
        path=CEILING_PATH,
    ),
    Case("ceiling-norecycle", "ceiling, preload, no recycling", "norecycle", path=CEILING_PATH),
    Case(
        "list",
        "product list, cached",
        "cached",
        path="/api/v1/products/",
        goal=0.35,
        goal_p99_ms=25,
    ),
    Case("detail", "product detail, cached", "cached", path="{detail}", goal=0.40, goal_p99_ms=25),
    Case("categories", "categories/, cached", "cached", path="/api/v1/categories/", goal=0.25),
    Case("cart", "cart add (signed in)", "cached", kind="cart", goal=0.05),
    Case("checkout", "checkout, 3-line cart (orders/s)", "cached", kind="checkout", goal=0.02),
    Case(
        "list-uncached", "product list, uncached", "uncached", path="/api/v1/products/", goal=0.10
    ),
    Case("detail-uncached", "product detail, uncached", "uncached", path="{detail}", goal=0.15),
    Case(
        "filtered",
        "category+price filter, -price, uncached",
        "uncached",
        path=FILTERED_PATH,
        goal=0.05,
    ),
    Case(
        "search",
        "search '{search}', uncached",
        "uncached",
        path="/api/v1/products/?search={search}",
        goal=0.04,
    ),
    Case(
        "categories-uncached",
        "categories/, uncached",
        "uncached",
        path="/api/v1/categories/",
        goal=0.25,
    ),
    Case("mixed", "mixed: 85% reads, 10% cart, 5% checkout", "mixed", kind="mixed", goal=0.12),
]
SERVER_ORDER = ["cached", "uncached", "old", "norecycle", "mixed"]
MIXED_HIT_RATE_GOAL = 0.80


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- environment


def _env(args, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": args.secret,
            "JWT_SIGNING_KEY": args.jwt_secret,
            "JWT_ACCESS_MINUTES": "240",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            # DRF keeps every request of the window in one cached list: a per-second window
            # keeps that list short, a per-minute one would grow to 60 s of requests.
            "NEXUS_THROTTLE_ANON": "1000000/s",
            "NEXUS_THROTTLE_USER": "1000000/s",
            "NEXUS_THROTTLE_AUTH": "1000000/s",
            # The order confirmation email is not what is measured (and no SMTP server runs).
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "nexus-bench",
            "DJANGO_LOG_LEVEL": "WARNING",
            "BENCH_CATALOG_CACHE": "1",
            "PYTHONPATH": str(ROOT),
            # Same gunicorn.conf.py for every server; the access log is off for all of them.
            "GUNICORN_ACCESS_LOG": "",
            "GUNICORN_LOG_LEVEL": "warning",
        }
    )
    env.update(overrides)
    return env


# Per project server: what differs from the defaults above.
SERVER_ENV = {
    "cached": {},
    "uncached": {"BENCH_CATALOG_CACHE": "0"},
    # The gunicorn.conf.py policy before issue 18.
    "old": {
        "GUNICORN_PRELOAD": "0",
        "GUNICORN_MAX_REQUESTS": "1000",
        "GUNICORN_MAX_REQUESTS_JITTER": "100",
    },
    "norecycle": {"GUNICORN_MAX_REQUESTS": "0"},
    "mixed": {"BENCH_COUNT_CACHE": "1"},
}


class PrivateRedis:
    """A throwaway redis-server on a free port, so the benchmark neither flushes nor
    counts anyone else's keys (keyspace_hits is server-wide)."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.dir = tempfile.mkdtemp(prefix="nexus-bench-redis-")
        self.port = free_port()

    def __enter__(self) -> "PrivateRedis":
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", self.dir, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise SystemExit("private redis-server did not start")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def redis_command(url: str, *command: str) -> str:
    """One command through redis-cli (no Python Redis client needed in this process)."""
    parsed = urlparse(url)
    cli = ["redis-cli", "-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 6379)]
    if parsed.password:
        cli += ["-a", parsed.password, "--no-auth-warning"]
    database = (parsed.path or "/0").lstrip("/") or "0"
    return subprocess.run(
        [*cli, "-n", database, *command], check=True, capture_output=True, text=True
    ).stdout


def catalog_version(args) -> int | None:
    """The catalog cache version (catalog/cache.py), read straight from Redis: Django's key
    is ``<CACHE_KEY_PREFIX>:<cache version 1>:catalog:version``, an integer django-redis
    stores as plain digits."""
    raw = redis_command(args.redis_url, "GET", "nexus-bench:1:catalog:version").strip()
    return int(raw) if raw.isdigit() else None


def redis_stats(url: str) -> dict[str, int]:
    info = redis_command(url, "INFO", "stats")
    return {
        key: int(value)
        for key, value in re.findall(r"^(keyspace_hits|keyspace_misses):(\d+)", info, re.M)
    }


# --------------------------------------------------------------------------- database


def _create_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def _manage(args, *command: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *command],
        cwd=ROOT,
        env=_env(args),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


# Users and their products for the signed-in cases: one user per connection, each with
# products of its own whose stock never runs out. Run with manage.py shell; prints JSON.
FIXTURES = """
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db.models import Count, Q
from cart.models import CartItem
from catalog.models import Product, ProductVariant

users, per_user, password = {users}, {per_user}, {password!r}
User = get_user_model()
hashed = make_password(password)
emails = [f"bench-{{n}}@bench.test" for n in range(users)]
existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
for email in emails:  # save(), not bulk_create: the model derives fields in save()
    if email not in existing:
        User(email=email, username=email.split("@")[0], password=hashed).save()
User.objects.filter(email__in=emails).update(password=hashed, is_active=True)
CartItem.objects.filter(cart__user__email__in=emails).delete()
# v1-style cart adds (by product) need products with exactly one active variant.
single = Count("variants", filter=Q(variants__is_active=True))
active = Product.objects.filter(is_active=True).annotate(n=single).filter(n=1).order_by("id")
ids = list(active.values_list("id", flat=True)[: users * per_user])
if len(ids) < users * per_user:
    raise SystemExit(f"need {{users * per_user}} single-variant products, have {{len(ids)}}")
ProductVariant.objects.filter(product_id__in=ids).update(stock_quantity=1_000_000_000)
slices = [ids[n * per_user : (n + 1) * per_user] for n in range(users)]
print(json.dumps({{"emails": emails, "products": slices}}))
"""


def _prepare(args) -> None:
    _create_database(args.database_url)
    log("migrating...")
    _manage(args, "migrate", "--noinput", "-v0")
    count = int(
        _manage(
            args,
            "shell",
            "-c",
            "from catalog.models import Product; print(Product.objects.count())",
        ).split()[-1]
    )
    if count < args.products:
        log(f"seeding {args.products - count} products (have {count})...")
        started = time.monotonic()
        subprocess.run(
            [PYTHON, "scripts/seed_database.py", "--products", str(args.products), "--no-users"],
            cwd=ROOT,
            env=_env(args),
            check=True,
        )
        log(f"seeded in {time.monotonic() - started:.1f}s")
    else:
        log(f"{count} products present, no seeding needed")


def empty_cache(args, private: bool) -> None:
    if private:  # ours alone
        redis_command(args.redis_url, "FLUSHDB")
    else:  # someone else's Redis: only make the catalog entries stale
        _manage(args, "shell", "-c", "from catalog.cache import _bump; _bump()")


def _fixtures(args) -> dict:
    log(f"bench users and products ({args.connections} users)...")
    script = FIXTURES.format(users=args.connections, per_user=10, password=args.user_password)
    return json.loads(_manage(args, "shell", "-c", script).strip().splitlines()[-1])


# --------------------------------------------------------------------------- servers


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()


def process_tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a gunicorn master and its workers, live and exited (the
    master reaps recycled workers, so their time is in its cutime/cstime). Per request,
    this is much less sensitive to other work on the machine than requests/s."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    # After ")": state is field 3 of stat(5), so utime (14) is index 11 here.
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):  # exited meanwhile: in the cutime
            child = _stat(int(entry))
            if int(child[1]) == pid:
                ticks += int(child[11]) + int(child[12])
    return ticks / _TICK


def _has_control_socket() -> bool:
    if not hasattr(_has_control_socket, "answer"):
        help_text = subprocess.run(
            [PYTHON, "-m", "gunicorn", "--help"], capture_output=True, text=True
        ).stdout
        _has_control_socket.answer = "--control-socket" in help_text
    return _has_control_socket.answer


class Server:
    def __init__(self, args, label: str, app: str, env: dict[str, str], health: str):
        self.args, self.label, self.app, self.env, self.health = args, label, app, env, health
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        started = time.monotonic()
        command = [
            PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", self.app,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.args.workers),
            "--backlog", "2048",
        ]  # fmt: skip
        if _has_control_socket():  # gunicorn 24+: one socket per server, not a shared path
            command += [
                "--control-socket",
                str(Path(tempfile.gettempdir()) / f"bench-{self.port}.ctl"),
            ]
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn ({self.label}) exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.base + self.health, timeout=1) as response:
                    if response.status == 200:
                        log(f"server {self.label} up on :{self.port} in "
                            f"{time.monotonic() - started:.1f}s")  # fmt: skip
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"gunicorn ({self.label}) did not start")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def call(self, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json"}
            | ({"Authorization": f"Bearer {token}"} if token else {}),
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw else {}

    def warm(self, path: str, times: int = 3) -> None:
        for _ in range(times):
            urllib.request.urlopen(self.base + path, timeout=30).read()


def project_server(args, label: str) -> Server:
    return Server(
        args, label, "nexus.wsgi:application", _env(args, **SERVER_ENV[label]), "/health/"
    )


def bare_server(args) -> Server:
    env = _env(args)
    env.pop("DJANGO_SETTINGS_MODULE")
    return Server(args, "bare", "scripts.bench_bare:application", env, CEILING_PATH)


# --------------------------------------------------------------------------- wrk

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(
    args, url: str, *, duration: int, threads: int, script: Path | None = None, pid: int = 0
) -> dict:
    command = [
        "wrk", f"-t{threads}", f"-c{args.connections}", f"-d{duration}s",
        "--latency", "--timeout", "10s",
    ]  # fmt: skip
    if script:
        command += ["-s", str(script)]
    cpu_before = process_tree_cpu(pid) if pid else 0.0
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    cpu = process_tree_cpu(pid) - cpu_before if pid else 0.0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    result = {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "requests": total,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "server_cpu_s": cpu,
    }
    report = re.search(r"^BENCH (\{.*\})$", output, re.M)
    if report:
        result["script"] = json.loads(report.group(1))
    return result


def _lua(value) -> str:
    """A Python value as a Lua literal (lists become arrays, dicts tables)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid Lua ones for this ASCII
    if isinstance(value, list | tuple):
        return "{" + ", ".join(_lua(item) for item in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{json.dumps(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


# One script for the three signed-in cases; each thread (one connection) is one user and
# walks its own cycle: ``cycle`` lists the steps ("read", "add" or "checkout").
LUA = r"""
local cfg = __CONFIG__
local threads, count = {}, 0

function setup(thread)
  thread:set("me", count)
  count = count + 1
  table.insert(threads, thread)
end

function init(args)
  index = me % #cfg.users + 1
  user = cfg.users[index]
  auth = {["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json"}
  step, adds, orders, order_tries, reads, bad, last = 0, 0, 0, 0, 0, 0, nil
  in_cart = 0
  math.randomseed(index * 7919 + cfg.seed)
end

function request()
  step = step + 1
  last = cfg.cycle[(step - 1) % #cfg.cycle + 1]
  if last == "checkout" and in_cart == 0 then last = "add" end
  if last == "add" then
    adds = adds + 1
    local product = user.products[(adds - 1) % #user.products + 1]
    return wrk.format("POST", "/api/v1/cart/", auth,
      '{"product": ' .. product .. ', "quantity": 1}')
  elseif last == "checkout" then
    order_tries = order_tries + 1
    local headers = {["Authorization"] = auth["Authorization"],
      ["Content-Type"] = "application/json",
      ["Idempotency-Key"] = cfg.nonce .. "-" .. index .. "-" .. order_tries}
    return wrk.format("POST", "/api/v1/orders/", headers, cfg.order_body)
  else
    reads = reads + 1
    return wrk.format("GET", cfg.reads[math.random(#cfg.reads)], auth)
  end
end

function response(status, headers, body)
  if status >= 400 then
    bad = bad + 1
    if bad <= 2 then io.stderr:write(last .. " " .. status .. " " .. body:sub(1, 300) .. "\n") end
    return
  end
  if last == "add" then in_cart = in_cart + 1 end
  if last == "checkout" then orders = orders + 1; in_cart = 0 end
end

function done(summary, latency, requests)
  local total = {orders = 0, adds = 0, reads = 0, bad = 0}
  for _, t in ipairs(threads) do
    total.orders = total.orders + t:get("orders")
    total.adds = total.adds + t:get("adds")
    total.reads = total.reads + t:get("reads")
    total.bad = total.bad + t:get("bad")
  end
  io.write(string.format('BENCH {"orders": %d, "adds": %d, "reads": %d, "bad": %d}\n',
    total.orders, total.adds, total.reads, total.bad))
end
"""

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


def _reads(detail_slugs: list[str], search: str) -> list[str]:
    """The catalog read mix of the mixed run (100 paths, drawn at random): mostly the
    first list pages and popular products, some category pages, searches, the tree."""
    paths: list[str] = []
    paths += ["/api/v1/products/"] * 25
    paths += [f"/api/v1/products/?page={n}" for n in range(2, 6) for _ in range(3)]
    paths += [f"/api/v1/products/{slug}/" for slug in detail_slugs[:38]]
    paths += ["/api/v1/products/?category=electronics"] * 5 + [FILTERED_PATH] * 3
    paths += [f"/api/v1/products/?search={search}"] * 4
    paths += ["/api/v1/categories/"] * 13
    return paths[:100]


def write_script(args, workdir: Path, kind: str, tokens: list[str], fixtures: dict) -> Path:
    cycle = {
        "cart": ["add"],
        "checkout": ["add", "add", "add", "checkout"],
        # 20 steps: 17 reads (85%), 2 cart adds (10%), 1 checkout (5%).
        "mixed": ["add"] + ["read"] * 9 + ["add"] + ["read"] * 8 + ["checkout"],
    }[kind]
    per_user = 3 if kind == "checkout" else 10
    config = {
        "users": [
            {"token": token, "products": products[:per_user]}
            for token, products in zip(tokens, fixtures["products"], strict=True)
        ],
        "cycle": cycle,
        "reads": fixtures["reads"] or ["/api/v1/products/"],
        "order_body": json.dumps(ORDER_BODY),
        "nonce": f"bench-{secrets.token_hex(6)}",
        "seed": secrets.randbelow(1_000_000),
    }
    path = workdir / f"{kind}.lua"
    path.write_text(LUA.replace("__CONFIG__", _lua(config)))
    return path


# --------------------------------------------------------------------------- run


def combine(runs: list[dict]) -> dict:
    """wrk runs of one target as one: requests/s over their total time, the median of
    their p50s, the worst of their p99s (percentiles of slices cannot be merged exactly, so
    the p99 is the pessimistic one), errors and script counts added up."""
    seconds = sum(run["requests"] / run["rps"] for run in runs if run["rps"])
    requests = sum(run["requests"] for run in runs)
    p50s = sorted(run["p50_ms"] for run in runs)
    combined = {
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": p50s[len(p50s) // 2],
        "p99_ms": max(run["p99_ms"] for run in runs),
        "requests": requests,
        "seconds": seconds,
        "slices": len(runs),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": sum(run["socket_errors"] for run in runs),
        "server_cpu_s": sum(run["server_cpu_s"] for run in runs),
    }
    # CPU of the gunicorn processes per request (PostgreSQL and Redis not included).
    combined["cpu_ms_per_request"] = (
        1000 * combined["server_cpu_s"] / requests if requests else None
    )
    scripted = [run["script"] for run in runs if "script" in run]
    if scripted:
        combined["script"] = {key: sum(s[key] for s in scripted) for key in scripted[0]}
    return combined


def measure(args, case: Case, bare: Server, server: Server, context: dict) -> dict:
    duration = {"mixed": args.mixed_duration}.get(case.kind, args.duration)
    if case.key.startswith("ceiling"):
        duration = args.ceiling_duration
    path = case.path.format(detail=context["detail"], search=args.search)
    # The machine is shared: the bare ceiling and the case alternate in short slices, so a
    # change of load in the background weighs on both alike.
    slices = max(1, duration // args.slice)
    length = max(1, duration // slices)
    # A user's checkout cycle must not be cut in pieces: checkouts and the mixed run are one
    # continuous wrk run, with the bare ceiling measured half before and half after it.
    continuous = case.kind in ("checkout", "mixed")
    if continuous:
        plan = f"{duration}s case between two {max(1, duration // 2)}s bare ceilings"
    else:
        plan = f"{slices} x ({length}s bare ceiling, {length}s case)"
    log(f"{case.key}: {case.name.format(search=args.search)}, {plan}")
    extra: dict = {}
    script = None
    if case.kind == "get":
        server.warm(path)
    else:
        for token in context["tokens"]:  # every user starts from an empty cart
            server.call("DELETE", "/api/v1/cart/", token=token)
        script = write_script(args, context["workdir"], case.kind, context["tokens"], context)
    if case.kind == "mixed":
        redis_command(args.redis_url, "DEL", "bench:catalog:hit", "bench:catalog:miss")
        before = redis_stats(args.redis_url)

    def bare_run(seconds: int) -> dict:
        return wrk(
            args,
            bare.base + CEILING_PATH,
            duration=seconds,
            threads=args.threads,
            pid=bare.process.pid,
        )

    def case_run(seconds: int) -> dict:
        if script is None:
            return wrk(
                args,
                server.base + path,
                duration=seconds,
                threads=args.threads,
                pid=server.process.pid,
            )
        return wrk(  # one connection per thread: one user each, its requests in order
            args,
            server.base + "/",
            duration=seconds,
            threads=args.connections,
            script=script,
            pid=server.process.pid,
        )

    version_before = catalog_version(args)
    bare_runs, runs = [], []
    if continuous:
        bare_runs.append(bare_run(max(1, duration // 2)))
        runs.append(case_run(duration))
        bare_runs.append(bare_run(max(1, duration // 2)))
    else:
        for _ in range(slices):
            bare_runs.append(bare_run(length))
            runs.append(case_run(length))
    ceiling, measured = combine(bare_runs), combine(runs)
    version_after = catalog_version(args)
    if version_before is not None and version_after is not None:
        # Every bump makes every cached product response stale (catalog/cache.py).
        extra["catalog_version_bumps"] = version_after - version_before
    counts = measured.pop("script", {})
    extra.update(counts)
    rate = measured["rps"]
    if case.kind == "checkout":
        rate = counts.get("orders", 0) / measured["seconds"] if measured["seconds"] else 0.0
        extra["orders_per_s"] = rate
    if case.kind == "mixed":
        after = redis_stats(args.redis_url)
        hits = int(redis_command(args.redis_url, "GET", "bench:catalog:hit").strip() or 0)
        misses = int(redis_command(args.redis_url, "GET", "bench:catalog:miss").strip() or 0)
        extra["catalog_cache_hits"], extra["catalog_cache_misses"] = hits, misses
        extra["catalog_hit_rate"] = hits / (hits + misses) if hits + misses else None
        redis_hits = after["keyspace_hits"] - before["keyspace_hits"]
        redis_misses = after["keyspace_misses"] - before["keyspace_misses"]
        extra["redis_hit_rate"] = (
            redis_hits / (redis_hits + redis_misses) if redis_hits + redis_misses else None
        )
    errors = measured["non_2xx"] + measured["socket_errors"]
    share = rate / ceiling["rps"] if ceiling["rps"] else 0.0
    # The same ratio from CPU time instead of wall time: bare CPU per request over the
    # case's CPU per request (per order for checkouts), gunicorn processes only. Steadier
    # than the share on a busy machine, blind to PostgreSQL and Redis time.
    units = counts.get("orders", 0) if case.kind == "checkout" else measured["requests"]
    case_cpu = measured["server_cpu_s"] / units if units else None
    bare_cpu = ceiling["server_cpu_s"] / ceiling["requests"] if ceiling["requests"] else None
    cpu_share = bare_cpu / case_cpu if bare_cpu and case_cpu else None
    met = case.goal is None or share >= case.goal
    if case.goal_p99_ms is not None:
        met = met and measured["p99_ms"] <= case.goal_p99_ms
    if case.kind == "mixed":
        rate_ok = extra.get("catalog_hit_rate") is not None and (
            extra["catalog_hit_rate"] >= MIXED_HIT_RATE_GOAL
        )
        met = met and errors == 0 and rate_ok
    result = {
        "key": case.key,
        "name": case.name.format(search=args.search),
        "path": path,
        "server": case.server,
        "kind": case.kind,
        **measured,
        "rate": rate,
        "errors": errors,
        "ceiling": ceiling,
        "share": share,
        "cpu_share": cpu_share,
        "goal": case.goal,
        "goal_p99_ms": case.goal_p99_ms,
        "goal_met": met if case.goal is not None else None,
        **extra,
    }
    line = (
        f"    {rate:8.1f}/s p99 {measured['p99_ms']:.1f} ms, bare {ceiling['rps']:.0f}/s, "
        f"share {share:.3f}, cpu-share {_num(cpu_share).strip()}"
    )
    if case.goal is not None:
        line += f" (goal {case.goal}: {'met' if met else 'NOT met'})"
    if errors:
        line += f", {errors} errors"
    if case.kind == "mixed":
        line += (
            f", catalog hit rate {_pct(extra['catalog_hit_rate'])}"
            f" (Redis-level {_pct(extra['redis_hit_rate'])})"
        )
    log(line)
    return result


def _num(value: float | None) -> str:
    return f"{'n/a':>6}" if value is None else f"{value:6.3f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def print_table(args, results: list[dict]) -> None:
    print()
    print(
        f"{args.products} products, gunicorn {args.workers} sync workers (gunicorn.conf.py), "
        f"wrk -c{args.connections} -d{args.duration}s (mixed {args.mixed_duration}s), "
        f"{os.cpu_count()} CPUs (shared)"
    )
    header = (
        f"{'case':22} {'rate/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'bare/s':>7} "
        f"{'share':>6} {'goal':>5} {'met':>4} {'cpu-sh':>6} errors"
    )
    print(header)
    for r in results:
        goal = "" if r["goal"] is None else f"{r['goal']:.2f}"
        met = "" if r["goal_met"] is None else ("yes" if r["goal_met"] else "NO")
        print(
            f"{r['key']:22} {r['rate']:8.1f} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f} "
            f"{r['ceiling']['rps']:7.0f} {r['share']:6.3f} {goal:>5} {met:>4} "
            f"{_num(r['cpu_share'])} {r['errors'] or ''}"
        )
        if r["kind"] == "mixed":
            print(
                f"{'':22} catalog cache hit rate {_pct(r['catalog_hit_rate'])} (goal 80%), "
                f"Redis keyspace hit rate {_pct(r['redis_hit_rate'])}; "
                f"{r.get('reads', 0)} reads, {r.get('adds', 0)} adds, {r.get('orders', 0)} orders"
            )
        if r.get("catalog_version_bumps"):
            print(f"{'':22} catalog version bumped {r['catalog_version_bumps']} times")


def write_chart(results: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed (pip install -e .[bench]): no chart")
        return False
    labels = [r["name"] for r in results]
    shares = [max(r["share"], 1e-4) for r in results]
    goals = [r["goal"] for r in results]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(results) + 1.5))
    ys = range(len(results))
    colours = [
        "#4c9a2a" if r["goal_met"] else ("#c0392b" if r["goal_met"] is False else "#7f8c8d")
        for r in results
    ]
    ax.barh([y - 0.2 for y in ys], shares, height=0.4, color=colours, label="measured share")
    ax.barh(
        [y + 0.2 for y in ys],
        [g or 0 for g in goals],
        height=0.4,
        color="#bdc3c7",
        label="goal (issue 18)",
    )
    for y, share in zip(ys, shares, strict=True):
        ax.text(share * 1.05, y - 0.2, f"{share:.3f}", va="center", fontsize=7)
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(0.003, 1.5)
    ax.set_xlabel("share of the bare Django ceiling (log scale); green: goal met, red: not")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nexus_bench"
        ),
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", ""),
        help="use this Redis (it is flushed of nothing, but its INFO counts everyone); "
        "default: a private redis-server on a free port",
    )
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads for the reads")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--mixed-duration", type=int, default=30, help="seconds of mixed traffic")
    parser.add_argument(
        "--ceiling-duration",
        type=int,
        default=30,
        help="seconds for the ceiling cases: long enough for the previous policy (recycling "
        "after 1,000 requests) to recycle every worker a few times",
    )
    parser.add_argument(
        "--slice", type=int, default=5, help="seconds per alternating bare/case wrk run"
    )
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per new server")
    parser.add_argument("--search", default="laptop", help="search term")
    parser.add_argument("--only", default="", help="comma-separated case keys (see --list)")
    parser.add_argument("--list", action="store_true", help="list the case keys and exit")
    parser.add_argument("--skip-prepare", action="store_true", help="no migrate/seed")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds: 300 products, 2 workers, 4 connections, 1 s per case, a subset",
    )
    parser.add_argument("--out", default=str(ROOT / "bench-results"), help="results folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.products = min(args.products, 300)
        args.workers, args.connections, args.threads = 2, 4, 1
        args.duration, args.mixed_duration, args.ceiling_duration, args.warmup = 1, 2, 1, 1
        args.slice = 1
        args.only = args.only or "ceiling,list,detail-uncached,cart,checkout,mixed"
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list:
        for case in CASES:
            goal = f"goal {case.goal}" if case.goal is not None else "no goal"
            print(f"{case.key:22} {case.name.format(search=args.search)} ({goal})")
        return 0
    keys = [key.strip() for key in args.only.split(",") if key.strip()]
    unknown = set(keys) - {case.key for case in CASES}
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(sorted(unknown))} (see --list)")
    cases = [case for case in CASES if not keys or case.key in keys]
    for tool in ("wrk", "redis-cli"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install -y {tool})")
    args.secret = secrets.token_urlsafe(50)
    args.jwt_secret = secrets.token_urlsafe(50)
    args.user_password = secrets.token_urlsafe(12)

    private = None
    if not args.redis_url:
        if not shutil.which("redis-server"):
            raise SystemExit("redis-server not found: install it or pass --redis-url")
        private = PrivateRedis().__enter__()
        args.redis_url = private.url
        log(f"private redis-server on :{private.port}")
    workdir = Path(tempfile.mkdtemp(prefix="nexus-bench-"))
    results: list[dict] = []
    try:
        if not args.skip_prepare:
            _prepare(args)
        signed_in = any(case.kind != "get" for case in cases)
        fixtures = _fixtures(args) if signed_in else {"emails": [], "products": []}
        context: dict = {"workdir": workdir, "tokens": [], **fixtures}
        with bare_server(args) as bare:
            wrk(args, bare.base + CEILING_PATH, duration=args.warmup, threads=1)
            for label in SERVER_ORDER:
                group = [case for case in cases if case.server == label]
                if not group:
                    continue
                with project_server(args, label) as server:
                    if label in ("cached", "mixed"):  # start from an empty product cache
                        empty_cache(args, private is not None)
                    # Every worker serves a few requests before anything is measured.
                    wrk(args, server.base + CEILING_PATH, duration=args.warmup, threads=1)
                    if "detail" not in context:
                        page = server.call("GET", "/api/v1/products/?page_size=50")["results"]
                        context["detail"] = f"/api/v1/products/{page[0]['slug']}/"
                        context["reads"] = _reads([p["slug"] for p in page], args.search)
                    if signed_in and not context["tokens"]:
                        log(f"logging in {len(fixtures['emails'])} users over HTTP...")
                        context["tokens"] = [
                            server.call(
                                "POST",
                                "/api/v1/auth/login/",
                                {"email": email, "password": args.user_password},
                            )["access"]
                            for email in fixtures["emails"]
                        ]
                    for case in group:
                        results.append(measure(args, case, bare, server, context))
    except (subprocess.CalledProcessError, urllib.error.HTTPError) as error:
        detail = getattr(error, "stderr", None) or getattr(error, "read", lambda: b"")()
        print(f"benchmark step failed: {error}\n{detail}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if private:
            private.__exit__()

    print_table(args, results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"bench-{stamp}.json"
    saved = {k: v for k, v in vars(args).items() if "secret" not in k and "password" not in k}
    path.write_text(json.dumps({"args": saved, "results": results}, indent=2, default=str))
    print(f"\nsaved {path}")
    chart = out / f"bench-{stamp}.png"
    if results and write_chart(results, chart):
        print(f"chart {chart}")
    if args.smoke:  # CI: the figures mean nothing, but every request must have worked
        broken = [r["key"] for r in results if r["errors"] or not r["requests"]]
        if broken:
            print(f"smoke: errors or no requests in {', '.join(broken)}", file=sys.stderr)
            return 1
        print("smoke: every case answered without errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

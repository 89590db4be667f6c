#!/usr/bin/env python
"""Benchmark: gunicorn on PostgreSQL + Redis with a seeded catalogue, loaded with wrk.

    python scripts/bench.py [--products 100000] [--duration 10] [--connections 16]

Creates the scratch database if needed (default ``nexus_bench``; Redis db 5), migrates,
seeds up to ``--products`` products, then runs two gunicorn servers one after the other
with identical settings except the catalog cache (on, then off) and measures with wrk:
a bare Django view returning constant JSON (the ceiling), the product list, a product
detail and a search. It prints requests/s, p50 and p99 of each, next to a ceiling run
made by the same server just before it, and the share of that ceiling; the numbers are
also saved under ``bench-results/``. Needs ``wrk`` (Debian: ``apt-get install wrk``).
"""

# A local developer tool: it runs fixed commands (python, wrk) and fetches from the
# server it started on 127.0.0.1, so the subprocess/urlopen audit rules do not apply.
# ruff: noqa: S310, S603, S607

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _env(args, cache: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scripts.bench_settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": args.secret,
            "JWT_SIGNING_KEY": args.jwt_secret,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            # DRF keeps every request of the window in one cached list: a per-second window
            # keeps that list short, a per-minute one would grow to 60 s of requests.
            "NEXUS_THROTTLE_ANON": "1000000/s",
            "NEXUS_THROTTLE_USER": "1000000/s",
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "CACHE_KEY_PREFIX": "nexus-bench",
            "DJANGO_LOG_LEVEL": "WARNING",
            "BENCH_CATALOG_CACHE": "1" if cache else "0",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def _create_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def _manage(args, *command: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *command],
        cwd=ROOT,
        env=_env(args, cache=True),
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def _prepare(args) -> None:
    _create_database(args.database_url)
    print("migrating...", flush=True)
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
        print(f"seeding {args.products - count} products (have {count})...", flush=True)
        started = time.monotonic()
        subprocess.run(
            [PYTHON, "scripts/seed_database.py", "--products", str(args.products), "--no-users"],
            cwd=ROOT,
            env=_env(args, cache=True),
            check=True,
        )
        print(f"seeded in {time.monotonic() - started:.1f}s")
    else:
        print(f"{count} products present, no seeding needed")


class Server:
    def __init__(self, args, cache: bool):
        self.args, self.cache = args, cache
        self.base = f"http://127.0.0.1:{args.port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        command = [
            PYTHON, "-m", "gunicorn", "nexus.wsgi:application",
            "--bind", f"127.0.0.1:{self.args.port}",
            "--workers", str(self.args.workers),
            "--worker-class", "sync",
            "--backlog", "2048",
            "--log-level", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=_env(self.args, self.cache), start_new_session=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/health/", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit("gunicorn did not start")

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.base + path, timeout=30) as response:
            return json.load(response)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def wrk(args, url: str) -> dict:
    output = subprocess.run(
        [
            "wrk",
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--latency",
            "--timeout",
            "10s",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors:.*", output)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(0) if socket_errors else "",
    }


def _warm(server: Server, path: str, times: int = 3) -> None:
    for _ in range(times):
        urllib.request.urlopen(server.base + path, timeout=30).read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nexus_bench"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--search", default="laptop", help="search term")
    parser.add_argument("--skip-prepare", action="store_true")
    args = parser.parse_args()
    args.secret = secrets.token_urlsafe(50)
    args.jwt_secret = secrets.token_urlsafe(50)
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    if not args.skip_prepare:
        _prepare(args)

    results: list[dict] = []
    for cache in (True, False):
        label = "cached" if cache else "uncached"
        with Server(args, cache) as server:
            if cache:  # start from an empty cache for this run's keys
                subprocess.run(
                    [PYTHON, "manage.py", "shell", "-c",
                     "from catalog.cache import _bump; _bump()"],
                    cwd=ROOT, env=_env(args, cache=True), check=True,
                )  # fmt: skip
            first = server.get_json("/api/v1/products/?page_size=1")["results"][0]
            cases = [
                (f"product list [{label}]", "/api/v1/products/"),
                (f"product detail [{label}]", f"/api/v1/products/{first['slug']}/"),
                (f"search '{args.search}' [{label}]", f"/api/v1/products/?search={args.search}"),
            ]
            # The machine may be shared: each endpoint is measured right after its own
            # ceiling run, and its share is taken against that adjacent ceiling.
            _warm(server, "/bench/ceiling/")
            for name, path in cases:
                _warm(server, path)
                print(f"wrk ceiling, then {name}: {path}", flush=True)
                ceiling = wrk(args, server.base + "/bench/ceiling/")
                measured = wrk(args, server.base + path)
                measured.update(
                    name=name,
                    path=path,
                    mode=label,
                    ceiling=ceiling,
                    share=measured["rps"] / ceiling["rps"],
                )
                results.append(measured)

    print()
    print(
        f"{args.products} products, gunicorn {args.workers} sync workers, wrk -t{args.threads} "
        f"-c{args.connections} -d{args.duration}s, {os.cpu_count()} CPUs (shared by all)"
    )
    print(
        f"{'endpoint':32} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}   "
        f"{'ceiling req/s':>13} {'p50':>6} {'p99':>7}   {'share':>5} errors"
    )
    for r in results:
        c = r["ceiling"]
        errors = (r["non_2xx"] + c["non_2xx"]) or ""
        print(
            f"{r['name']:32} {r['rps']:7.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f}   "
            f"{c['rps']:13.0f} {c['p50_ms']:6.2f} {c['p99_ms']:7.2f}   {r['share']:5.0%} {errors}"
        )
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    path = out / time.strftime("bench-%Y%m%d-%H%M%S.json")
    path.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(args).items() if "secret" not in k},
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nsaved {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

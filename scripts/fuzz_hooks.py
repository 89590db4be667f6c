"""Schemathesis hooks for scripts/fuzz.sh, plus its two helpers.

Three uses of one file:

- ``SCHEMATHESIS_HOOKS=fuzz_hooks`` (inside the schemathesis venv): an auth provider that
  signs every case in as the role under test (``FUZZ_ROLE``), gives each case of a
  session-ending operation (logout, logout-all, password change) a throw-away account of
  its own, and a ``before_call`` hook that fills the path parameters of positive cases
  with ids of real objects read from the API, so object endpoints are exercised past 404.
- ``manage.py shell -c "import fuzz_hooks; fuzz_hooks.mint_tokens(...)"``: creates the
  role's account and the throw-away pool and writes their tokens to a JSON file.
- ``python scripts/fuzz_hooks.py --summary REPORT_DIR ROLE``: cases and failures per
  operation, read from the run's JUnit report.

Nothing here knows the API's paths beyond the auth endpoints: operations come from the
live OpenAPI schema, so apps merged later are covered without edits.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

# Operations that end the session they are called with: each case gets a throw-away user.
SESSION_ENDING = re.compile(
    os.environ.get("FUZZ_THROWAWAY_REGEX", r"/auth/(logout|logout-all|password/change)/$")
)
ROLE_FLAGS = {
    "customer": {"is_staff": False, "is_superuser": False},
    "staff": {"is_staff": True, "is_superuser": False},
    "admin": {"is_staff": True, "is_superuser": True},
}


# --------------------------------------------------------------------------- token minting


def mint_tokens(role: str, path: str, pool_size: int) -> None:
    """Create the role's account and ``pool_size`` throw-away accounts; write their tokens.

    Runs inside ``manage.py shell`` against the fuzzing database. Throw-away accounts get
    an unusable password (no hashing: a pool of a thousand is made in seconds).
    """
    import secrets

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from users.tokens import tokens_for_user

    user_model = get_user_model()
    flags = ROLE_FLAGS[role]
    password = secrets.token_urlsafe(24)
    email = f"fuzz-{role}@example.com"
    user = user_model.objects.filter(email=email).first() or user_model(
        email=email, username=f"fuzz-{role}", first_name="Fuzz", last_name=role.title()
    )
    for name, value in flags.items():
        setattr(user, name, value)
    user.set_password(password)
    user.save()
    # A few objects of its own, so that /users/addresses/{id}/ is hit past 404 too.
    from users.services import address_save

    for index in range(3):
        address_save(
            user=user,
            data={
                "full_name": f"Fuzz {role.title()} {index}",
                "street": f"{index + 1} Main Street",
                "city": "Springfield",
                "postal_code": "12345",
                "country": "US",
            },
        )
    unusable = make_password(None)
    tag = secrets.token_hex(4)
    throwaways = user_model.objects.bulk_create(
        user_model(
            email=f"fuzz-{role}-{tag}-{index}@example.com",
            email_normalized=f"fuzz-{role}-{tag}-{index}@example.com",  # bulk_create skips save()
            username=f"fuzz-{role}-{tag}-{index}",
            password=unusable,
            **flags,
        )
        for index in range(pool_size)
    )
    data = {
        "role": role,
        "email": email,
        "password": password,
        "main": tokens_for_user(user),
        "pool": [tokens_for_user(account) for account in throwaways],
    }
    Path(path).write_text(json.dumps(data))
    print(f"minted tokens for {email} and {pool_size} throw-away {role} accounts")


# --------------------------------------------------------------------------- summary


def summarize(report_dir: str, role: str) -> None:
    """Print cases and failures per operation from the run's JUnit report."""
    import xml.etree.ElementTree as ET

    files = sorted(Path(report_dir).glob("*.xml"))
    counts = _cases_per_operation(report_dir)
    if not files:
        print(f"[{role}] no JUnit report found in {report_dir}")
        return
    root = ET.parse(files[-1]).getroot()  # noqa: S314 (our own report file)
    rows = []
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        failures = len(case.findall("failure")) + len(case.findall("error"))
        rows.append((name, counts.get(name), failures))
    total_cases = sum(c or 0 for _, c, _ in rows)
    failed = [r for r in rows if r[2]]
    print(
        f"[{role}] operations: {len(rows)}, cases: {total_cases or 'n/a'}, "
        f"operations failing: {len(failed)}"
    )
    for name, cases, failures in rows:
        state = "FAIL" if failures else "ok"
        print(f"[{role}]   {state:7} {cases if cases is not None else '?':>6} cases  {name}")


def _cases_per_operation(report_dir: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in sorted(Path(report_dir).glob("*.ndjson"))[-1:]:
        with path.open() as stream:
            for line in stream:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                for label, n in _scenario_counts(event):
                    counts[label] = counts.get(label, 0) + n
    return counts


def _scenario_counts(event: dict[str, Any]):
    """(operation label, cases) from a ScenarioFinished event of the ndjson report."""
    body = event.get("ScenarioFinished")
    if not isinstance(body, dict):
        return
    label = body.get("label") or (body.get("recorder") or {}).get("label")
    recorder = body.get("recorder") or {}
    cases = recorder.get("cases") or {}
    if label:
        yield label, len(cases)


# --------------------------------------------------------------------------- hooks

try:  # only inside the schemathesis venv
    import requests
    import schemathesis
    from schemathesis.core.parameters import ParameterLocation
except ImportError:  # manage.py shell / --summary
    schemathesis = None

if schemathesis is not None:
    BASE_URL = os.environ.get("FUZZ_BASE_URL", "http://127.0.0.1:8000")
    ROLE = os.environ.get("FUZZ_ROLE", "anonymous")
    _rng = random.Random(int(os.environ.get("FUZZ_SEED", "42")))  # noqa: S311 (reproducible)
    _lock = threading.Lock()
    _session = requests.Session()

    class _Credentials:
        """The role's tokens: the main access token, re-obtained by logging in when it
        stops working, and the throw-away pool."""

        def __init__(self) -> None:
            data = json.loads(Path(os.environ["FUZZ_TOKENS_FILE"]).read_text())
            self.email = data["email"]
            self.password = data["password"]
            self.main = data["main"]
            self.pool = list(data["pool"])
            self.last_check = 0.0

        def throwaway(self) -> dict[str, str]:
            with _lock:
                if self.pool:
                    return self.pool.pop()
            return self._register()

        def _register(self) -> dict[str, str]:
            # The pool ran dry: a fresh customer through the API (slower: hashes a password).
            email = f"fuzz-extra-{time.monotonic_ns()}@example.com"
            response = _session.post(
                f"{BASE_URL}/api/v1/auth/register/",
                json={
                    "email": email,
                    "password": "Fuzz-throwaway-9",
                    "password_confirm": "Fuzz-throwaway-9",
                },
                timeout=30,
            )
            response.raise_for_status()
            body = response.json()
            return {"access": body["access"], "refresh": body["refresh"]}

        def recheck(self) -> None:
            """Called after a 401: if the main token was revoked, log in again."""
            with _lock:
                if time.monotonic() - self.last_check < 1:
                    return
                self.last_check = time.monotonic()
                probe = _session.get(
                    f"{BASE_URL}/api/v1/users/profile/",
                    headers={"Authorization": f"Bearer {self.main['access']}"},
                    timeout=20,
                )
                if probe.status_code != 401:
                    return
                response = _session.post(
                    f"{BASE_URL}/api/v1/auth/login/",
                    json={"email": self.email, "password": self.password},
                    timeout=30,
                )
                response.raise_for_status()
                body = response.json()
                self.main = {"access": body["access"], "refresh": body["refresh"]}
                print(f"[fuzz_hooks] {ROLE} token was revoked; logged in again", file=sys.stderr)

    CREDENTIALS = _Credentials() if ROLE != "anonymous" else None

    if CREDENTIALS is not None:

        @schemathesis.auth(refresh_interval=None)
        class RoleAuth:
            """Bearer token of the role under test; a throw-away account's token for
            operations that would end the session."""

            def get(self, case, context):
                if SESSION_ENDING.search(case.operation.path):
                    return CREDENTIALS.throwaway()
                return dict(CREDENTIALS.main)

            def set(self, case, data, context):
                case.headers = case.headers or {}
                case.headers["Authorization"] = f"Bearer {data['access']}"
                body = case.body
                if (
                    SESSION_ENDING.search(case.operation.path)
                    and isinstance(body, dict)
                    and isinstance(body.get("refresh"), str)
                    and not _is_negative(case, ParameterLocation.BODY)
                    and _rng.random() < 0.5
                ):
                    # Half the valid-looking logouts use the real refresh token: the 204 path.
                    body["refresh"] = data["refresh"]

    # ---------------------------------------------------------------- real ids

    _ids: dict[str, tuple[float, list[dict[str, Any]]]] = {}
    _IDS_TTL = 15.0

    def _auth_headers() -> dict[str, str]:
        if CREDENTIALS is None:
            return {}
        return {"Authorization": f"Bearer {CREDENTIALS.main['access']}"}

    def _objects_at(url_path: str) -> list[dict[str, Any]]:
        """Objects listed at ``url_path`` (a list or a paginated page), cached briefly."""
        now = time.monotonic()
        cached = _ids.get(url_path)
        if cached and now - cached[0] < _IDS_TTL:
            return cached[1]
        objects: list[dict[str, Any]] = []
        try:
            response = _session.get(
                f"{BASE_URL}{url_path}",
                headers=_auth_headers(),
                params={"page_size": 50},
                timeout=20,
            )
            if response.ok and response.headers.get("content-type", "").startswith(
                "application/json"
            ):
                body = response.json()
                items = body.get("results") if isinstance(body, dict) else body
                if isinstance(items, list):
                    objects = [item for item in items if isinstance(item, dict)]
                elif isinstance(body, dict):
                    objects = [body]
        except (requests.RequestException, ValueError):
            objects = []
        _ids[url_path] = (now, objects)
        return objects

    def _nested(parent_path: str, segment: str) -> list[dict[str, Any]]:
        """Sub-objects embedded in the parent (``/products/7/`` -> ``images``)."""
        parents = _objects_at(parent_path)
        if len(parents) != 1:
            return []
        value = parents[0].get(segment.replace("-", "_"))
        return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []

    def _real_path_parameters(template: str) -> dict[str, Any] | None:
        """Fill every ``{param}`` of ``template`` from real objects, left to right."""
        filled: dict[str, Any] = {}
        for match in re.finditer(r"\{([^}]+)\}", template):
            name = match.group(1)
            prefix = template[: match.start()].format(**filled)
            objects = _objects_at(prefix)
            if not objects:
                # Not a list endpoint: embedded in the parent object (products/{id}/images/).
                parts = prefix.rstrip("/").rsplit("/", 1)
                if len(parts) == 2 and "{" not in parts[0]:
                    objects = _nested(parts[0] + "/", parts[1])
            key = "slug" if "slug" in name else "id"
            values = [obj[key] for obj in objects if key in obj]
            if not values:
                return None
            filled[name] = _rng.choice(values)
        return filled

    def _is_negative(case, location) -> bool:
        meta = getattr(case, "meta", None) or getattr(case, "_meta", None)
        return bool(meta is not None and meta.is_negative_at(location))

    @schemathesis.hook
    def before_call(context, case, kwargs):
        """In 60% of the cases whose path parameters are valid, aim at real objects."""
        if not case.path_parameters or _is_negative(case, ParameterLocation.PATH):
            return
        with _lock:
            roll = _rng.random()
        if roll >= 0.6:
            return
        real = _real_path_parameters(case.operation.path)
        if real:
            case.path_parameters.update(real)

    @schemathesis.hook
    def after_call(context, case, response):
        if (
            CREDENTIALS is not None
            and response.status_code == 401
            and not SESSION_ENDING.search(case.operation.path)
        ):
            CREDENTIALS.recheck()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--summary":
        summarize(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: fuzz_hooks.py --summary REPORT_DIR ROLE")

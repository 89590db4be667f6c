#!/usr/bin/env bash
# Quick start check (CI step; `make quickstart-check`): the README's quick start and the
# make targets a newcomer runs, on a fresh copy of the repository (tracked files only), in
# a clean environment (no DATABASE_URL, REDIS_URL, secrets or .env), with the existing
# virtualenv. Then `make run` on a free port, probed over HTTP: `/` leads to the docs,
# unknown /api/ paths and slashless POSTs answer problem+json, the demo customer signs in
# with the password `make demo-accounts` printed, and no log line is printed twice.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV_DIR=${QUICKSTART_VENV:-$ROOT/.venv}
COPY=$(mktemp -d -t nexus-quickstart.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill -- "-$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$COPY"
}
trap cleanup EXIT
log() { printf '[quickstart] %s\n' "$*"; }
die() { printf '[quickstart] FAIL: %s\n' "$*" >&2; exit 1; }

# The files of the repository (tracked, plus new ones not ignored; mtimes kept, so make
# does not think the venv is stale).
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$COPY"
cd "$COPY"
clean_make() {
  env -i HOME="$HOME" PATH="/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    make --no-print-directory VENV="$VENV_DIR" "$@"
}

log "make help"; clean_make help >/dev/null
log "make migrate"; clean_make migrate >/dev/null
log "make seed"; clean_make seed DEMO_PRODUCTS=30 >/dev/null
log "make demo-accounts"
accounts=$(clean_make demo-accounts)
customer_password=$(printf '%s\n' "$accounts" | sed -n 's/^Demo customer: .*password: \([^ ]*\).*/\1/p')
[ -n "$customer_password" ] || die "make demo-accounts printed no customer password: $accounts"
printf '%s\n' "$accounts" | grep -q "Demo staff: .*Shop staff" || die "demo staff not in the staff group"
log "make superuser (non-interactive)"
env -i HOME="$HOME" PATH="/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
  DJANGO_SUPERUSER_EMAIL=admin@quickstart.example DJANGO_SUPERUSER_USERNAME=admin \
  DJANGO_SUPERUSER_PASSWORD="qs-$(date +%s%N)-Admin" \
  make --no-print-directory VENV="$VENV_DIR" superuser SUPERUSER_ARGS=--noinput >/dev/null
log "make schema"; clean_make schema >/dev/null
log "make check-deploy"; clean_make check-deploy >/dev/null

PORT=$("$VENV_DIR/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "make run on 127.0.0.1:$PORT"
setsid env -i HOME="$HOME" PATH="/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
  make --no-print-directory VENV="$VENV_DIR" run PORT="$PORT" >"$COPY/run.log" 2>&1 &
SERVER_PID=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 60); do curl -fsS -o /dev/null "$base/health/" 2>/dev/null && break; sleep 1; done
curl -fsS -o /dev/null "$base/health/" || { cat "$COPY/run.log"; die "make run did not start"; }

status_of() { curl -s -o "$COPY/body" -w '%{http_code} %{content_type} %{redirect_url}' "$@"; }
out=$(status_of "$base/")
[[ $out == 302\ *"/api/v1/schema/swagger-ui/" ]] || die "GET / -> $out"
out=$(status_of "$base/api/v1/no-such-thing/")
[[ $out == "404 application/problem+json "* ]] || die "unknown /api/ path (DEBUG on) -> $out"
out=$(status_of -X POST -H 'Content-Type: application/json' -d '{"product": 1}' "$base/api/v1/cart")
[[ $out == "308 application/problem+json "*"/api/v1/cart/" ]] || die "POST /api/v1/cart -> $out"
out=$(status_of -X POST -H 'Content-Type: application/json' \
  -d "{\"email\": \"customer@nexus.example\", \"password\": \"$customer_password\"}" "$base/api/v1/auth/login/")
[[ $out == "200 application/json "* ]] || die "demo customer login -> $out $(cat "$COPY/body")"

kill -- "-$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
lines=$(grep -c "Not Found: /api/v1/no-such-thing/" "$COPY/run.log" || true)
[ "$lines" = 1 ] || { cat "$COPY/run.log"; die "the 404 was logged $lines times (want 1)"; }
grep -q "Traceback" "$COPY/run.log" && { cat "$COPY/run.log"; die "a traceback in the run log"; }
log "make clean (with a throw-away venv path)"; clean_make clean VENV="$COPY/.venv-unused" >/dev/null
[ ! -e db.sqlite3 ] || die "make clean left db.sqlite3"
log "ok: every quick-start target works on a fresh copy"

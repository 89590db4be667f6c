# shellcheck shell=bash
# Shared helpers for scripts/fuzz.sh and the outage drills (sourced, not run).
#
# Everything started here is recorded and stopped by `cleanup` (install it with
# `trap cleanup EXIT`). Private PostgreSQL/Redis instances live in a temp dir on their own
# ports: the shared services on 5432/6379 are never stopped, restarted or reconfigured.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1

# The project's interpreter: NEXUS_PYTHON, else the Makefile's .venv, else python3.
if [[ -z "${NEXUS_PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then NEXUS_PYTHON="$ROOT/.venv/bin/python"; else NEXUS_PYTHON="$(command -v python3)"; fi
fi
NEXUS_BIN="$(dirname "$NEXUS_PYTHON")"
PG_BIN="${PG_BIN:-$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)}"

WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/nexus-quality.XXXXXX")"
chmod 755 "$WORKDIR"
_PIDS=()
_PG_DATA=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

secret() { "$NEXUS_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))'; }

# free_port: a port nothing on 127.0.0.1 holds, chosen BELOW the kernel's ephemeral range.
# A server the drills stop and start again (PostgreSQL, Redis, the broker) must get its
# port back: inside the ephemeral range a client reconnecting during the outage can be
# handed that very port as its own source port (even connect to itself), and the restart
# then fails with "address already in use".
free_port() {
  "$NEXUS_PYTHON" - <<'PY'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
candidates = list(range(min(20000, low - 1000), low))
random.shuffle(candidates)
for port in candidates:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))  # no SO_REUSEADDR: a port in TIME_WAIT counts as taken
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port below the ephemeral range")
PY
}

# as_postgres CMD...: PostgreSQL refuses to run as root.
as_postgres() {
  # From /: the postgres user may not be allowed into the checkout (a 0700 temp dir).
  if [[ "$(id -u)" == 0 ]]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# Environment of a production-like app process. Needs DATABASE_URL and REDIS_URL set.
app_env() {
  export DJANGO_DEBUG=0
  export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-$(secret)}"
  export JWT_SIGNING_KEY="${JWT_SIGNING_KEY:-$(secret)}"
  export DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
  export DJANGO_SECURE_SSL_REDIRECT=0
  export DJANGO_EMAIL_BACKEND="${DRILL_EMAIL_BACKEND:-django.core.mail.backends.locmem.EmailBackend}"
  export DJANGO_LOG_LEVEL="${DJANGO_LOG_LEVEL:-WARNING}"
  export CACHE_KEY_PREFIX="${CACHE_KEY_PREFIX:-quality$$}"
  # A webhook secret nobody else knows: every unsigned or forged Stripe webhook is a 400.
  export STRIPE_WEBHOOK_SECRET="${STRIPE_WEBHOOK_SECRET:-whsec_$(secret)}"
}

# Raise every throttle: fuzzing and drills measure correctness, not the limits.
app_env_unthrottled() {
  local rate=1000000/min
  export NEXUS_THROTTLE_ANON=$rate NEXUS_THROTTLE_USER=$rate NEXUS_THROTTLE_AUTH=$rate
  export NEXUS_THROTTLE_PASSWORD_RESET=$rate NEXUS_THROTTLE_REVIEW_CREATE=$rate
  export NEXUS_THROTTLE_GUEST_CHECKOUT=$rate NEXUS_THROTTLE_GUEST_ORDER=$rate
  export NEXUS_LOGIN_MAX_FAILURES_PER_ACCOUNT=${LOGIN_LIMIT_ACCOUNT:-1000000}
  export NEXUS_LOGIN_MAX_FAILURES_PER_ADDRESS=${LOGIN_LIMIT_ADDRESS:-1000000}
}

manage() { "$NEXUS_PYTHON" manage.py "$@"; }

# start_gunicorn PORT WORKERS LOGFILE [extra gunicorn args...]: sets GUNICORN_PID.
# Uses the project's gunicorn.conf.py when there is one; the flags here win over it.
start_gunicorn() {
  local port=$1 workers=$2 logfile=$3
  shift 3
  local conf=()
  [[ -f "$ROOT/gunicorn.conf.py" ]] && conf=(-c "$ROOT/gunicorn.conf.py")
  # Gunicorn 27 opens a control socket at one fixed path per OS user: give each its own.
  if "$NEXUS_BIN/gunicorn" --help 2>/dev/null | grep -q -- --control-socket; then
    conf+=(--control-socket "$WORKDIR/gunicorn-$port.ctl")
  fi
  GUNICORN_BIND="127.0.0.1:$port" GUNICORN_WORKERS="$workers" \
    "$NEXUS_BIN/gunicorn" "${conf[@]}" --bind "127.0.0.1:$port" --workers "$workers" \
    --timeout "${GUNICORN_TIMEOUT:-30}" --graceful-timeout "${GUNICORN_GRACEFUL_TIMEOUT:-30}" \
    --max-requests 0 "$@" nexus.wsgi:application >"$logfile" 2>&1 &
  GUNICORN_PID=$!
  _PIDS+=("$GUNICORN_PID")
  wait_http "http://127.0.0.1:$port/health/" 60 || { tail -50 "$logfile" >&2; die "gunicorn did not start"; }
}

# wait_http URL SECONDS: until URL answers 200.
wait_http() {
  local url=$1 deadline=$(( $(date +%s) + $2 ))
  while (( $(date +%s) < deadline )); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url")" == 200 ]] && return 0
    sleep 0.3
  done
  return 1
}

# ---------------------------------------------------------------- private services

# start_private_postgres PORT: a throw-away cluster owned by the postgres OS user.
start_private_postgres() {
  local port=$1
  [[ -x "$PG_BIN/initdb" ]] || die "no PostgreSQL binaries in $PG_BIN"
  _PG_DATA="$WORKDIR/pg/data"
  PG_PORT=$port
  mkdir -p "$_PG_DATA"
  chown -R postgres "$WORKDIR/pg" 2>/dev/null || true
  as_postgres "$PG_BIN/initdb" -D "$_PG_DATA" -U postgres -A trust --no-sync >/dev/null
  pg_start
  as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres nexus_drill
}

pg_start() {
  as_postgres "$PG_BIN/pg_ctl" -D "$_PG_DATA" -l "$WORKDIR/pg/postgres.log" -w -t 30 \
    -o "-p $PG_PORT -k $WORKDIR/pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { tail -20 "$WORKDIR/pg/postgres.log" >&2; ss -tanp "( sport = :$PG_PORT )" >&2 || true
         die "PostgreSQL did not start on :$PG_PORT"; }
}

pg_stop() {
  as_postgres "$PG_BIN/pg_ctl" -D "$_PG_DATA" -m fast -w -t 30 stop >/dev/null
}

# start_private_redis PORT: no persistence, recorded for cleanup; sets REDIS_PID.
start_private_redis() {
  REDIS_PORT=$1
  redis_start
}

redis_start() {
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$WORKDIR" --logfile "$WORKDIR/redis.log" &
  REDIS_PID=$!
  _PIDS+=("$REDIS_PID")
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  tail -20 "$WORKDIR/redis.log" >&2
  die "private redis did not start on :$REDIS_PORT"
}

redis_stop() {
  kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
}

cleanup() {
  local status=$?
  set +e  # clean up everything, even what already exited
  for pid in "${_PIDS[@]}"; do kill -CONT "$pid" 2>/dev/null; kill "$pid" 2>/dev/null; done
  for pid in "${_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n "$_PG_DATA" && -f "$_PG_DATA/postmaster.pid" ]]; then pg_stop || true; fi
  if [[ "${KEEP_WORKDIR:-0}" != 1 ]]; then rm -rf "$WORKDIR"; else log "kept $WORKDIR"; fi
  return "$status"
}

# drill_setup THREADS: private PostgreSQL and Redis, migrated and seeded, THREADS customer
# accounts (written to $WORKDIR/users.json) and one staff account ($WORKDIR/staff.json),
# then Gunicorn on a free port ($BASE_URL).
drill_setup() {
  local threads=$1
  start_private_postgres "${DRILL_PG_PORT:-$(free_port)}"
  start_private_redis "${DRILL_REDIS_PORT:-$(free_port)}"
  export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/nexus_drill"
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  # Short connect timeout: a dead database must fail a request in well under 5 s.
  export DATABASE_CONNECT_TIMEOUT=${DATABASE_CONNECT_TIMEOUT:-2}
  app_env
  app_env_unthrottled
  manage migrate --noinput >/dev/null
  if [[ -f scripts/seed_database.py ]]; then
    "$NEXUS_PYTHON" scripts/seed_database.py --products "${DRILL_PRODUCTS:-20}" >/dev/null
  fi
  manage shell -c "
import json, secrets
from users.models import User
users = []
for i in range($threads):
    password = secrets.token_urlsafe(16)
    email = f'drill-{i}@example.com'
    User.objects.create_user(email=email, password=password, username=f'drill-{i}')
    users.append({'email': email, 'password': password})
json.dump(users, open('$WORKDIR/users.json', 'w'))
password = secrets.token_urlsafe(16)
User.objects.create_user(email='drill-staff@example.com', password=password, username='drill-staff', is_staff=True)
json.dump({'email': 'drill-staff@example.com', 'password': password}, open('$WORKDIR/staff.json', 'w'))
"
  local port
  port=$(free_port)
  BASE_URL="http://127.0.0.1:$port"
  start_gunicorn "$port" "${DRILL_GUNICORN_WORKERS:-3}" "$WORKDIR/gunicorn.log"
  log "app on $BASE_URL (PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, private)"
}

mark() { echo "$1 $(date +%s.%N)" >>"$WORKDIR/phases"; }

traffic() { "$NEXUS_PYTHON" "$ROOT/scripts/drills/traffic.py" "$@"; }

# gunicorn_log_clean: false (and the evidence on stderr) when the app logged a 500, an
# unhandled error or a worker timeout during the drill.
gunicorn_log_clean() {
  local pattern="Internal Server Error|unhandled error|WORKER TIMEOUT"
  if grep -qE "$pattern" "$WORKDIR/gunicorn.log"; then
    grep -E -A20 "$pattern" "$WORKDIR/gunicorn.log" | head -40 >&2
    return 1
  fi
}

# traffic_judge KIND: stop the traffic generator, then 0 only if its verdict for the
# outage phases passes and the app's log is clean.
traffic_judge() {
  touch "$WORKDIR/stop"
  wait "$TRAFFIC_PID" || true
  local status=0
  traffic verdict "$1" --log "$WORKDIR/traffic.jsonl" --phases "$WORKDIR/phases" || status=1
  gunicorn_log_clean || status=1
  return "$status"
}


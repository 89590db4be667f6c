#!/usr/bin/env bash
# Webhook drill: a real receiver process, a real broker Redis and `celery worker` + `beat`,
# Gunicorn on private PostgreSQL and Redis (lib.sh's drill_setup, outbox_drill.py's
# checkout helper).
#
#   The receiver is down (nothing listens on its port) while 20 orders are placed through
#   the API: every checkout is 201 and every order.created delivery is pending after a
#   failed attempt. The receiver comes up: all 20 arrive, correctly signed, none twice,
#   every delivery `delivered`.
#
# Backoff is shortened (2 s doubling, capped at 15 s: 8 attempts span 37-74 s) so the
# drill takes seconds; attempts stay at the default 8.
# Every server listens on a free 127.0.0.1 port and is stopped by PID at the end.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

ORDERS=${DRILL_ORDERS:-20}
PY="$NEXUS_PYTHON"
helper() { "$PY" "$ROOT/scripts/drills/webhook_drill.py" "$@"; }
started_at=$(date +%s)

BROKER_PORT=$(free_port)
RECEIVER_PORT=$(free_port)
mkdir -p "$WORKDIR/broker"
redis-server --bind 127.0.0.1 --port "$BROKER_PORT" --save "" --appendonly no \
  --maxmemory-policy noeviction --dir "$WORKDIR/broker" --logfile "$WORKDIR/broker.log" &
_PIDS+=("$!")
for _ in $(seq 50); do redis-cli -p "$BROKER_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export CELERY_BROKER_URL="redis://127.0.0.1:$BROKER_PORT/0"
export NEXUS_WEBHOOKS_ALLOW_PRIVATE=1
export NEXUS_OUTBOX_BACKOFF_SECONDS=2 NEXUS_OUTBOX_BACKOFF_MAX_SECONDS=15
export NEXUS_OUTBOX_SWEEP_AFTER_SECONDS=3 NEXUS_BEAT_INTERVALS="outbox_sweep=2"
export DRILL_PG_PORT=${DRILL_PG_PORT:-$(free_port)} DRILL_REDIS_PORT=${DRILL_REDIS_PORT:-$(free_port)}
drill_setup "$ORDERS"

setsid "$NEXUS_BIN/celery" -A nexus worker --pool prefork --concurrency 2 \
  --hostname "webhooks-$$@%h" --loglevel INFO --without-gossip --without-mingle \
  >>"$WORKDIR/worker.log" 2>&1 &
WORKER_PID=$!
_PIDS+=("$WORKER_PID")
for _ in $(seq 100); do grep -q "webhooks-$$@.* ready" "$WORKDIR/worker.log" 2>/dev/null && break; sleep 0.2; done
grep -q "webhooks-$$@.* ready" "$WORKDIR/worker.log" || { tail -30 "$WORKDIR/worker.log" >&2; die "worker did not start"; }
NEXUS_BEAT_HEARTBEAT_FILE="$WORKDIR/beat.heartbeat" "$NEXUS_BIN/celery" -A nexus beat \
  --schedule "$WORKDIR/beat-schedule" --pidfile "$WORKDIR/beat.pid" --loglevel INFO \
  >>"$WORKDIR/beat.log" 2>&1 &
_PIDS+=("$!")

helper register --url "http://127.0.0.1:$RECEIVER_PORT/hooks/nexus" --out "$WORKDIR/secret"
status=0
since=$(date +%s.%N)
log "receiver down (nothing on :$RECEIVER_PORT); placing $ORDERS orders"
"$PY" "$ROOT/scripts/drills/outbox_drill.py" place --base "$BASE_URL" \
  --users "$WORKDIR/users.json" --count "$ORDERS" --out "$WORKDIR/orders.json" || status=1
sleep "${DRILL_RECEIVER_OUTAGE:-4}"
helper pending --since "$since" --count "$ORDERS" || status=1

# Not through ``helper``: a backgrounded shell function is a subshell, and the cleanup's
# kill of that PID left the Python receiver running (orphaned) after the drill.
"$PY" "$ROOT/scripts/drills/webhook_drill.py" receive --port "$RECEIVER_PORT" \
  --log "$WORKDIR/received.jsonl" --secret-file "$WORKDIR/secret" >>"$WORKDIR/receiver.log" 2>&1 &
_PIDS+=("$!")
log "receiver up on :$RECEIVER_PORT"
helper delivered --since "$since" --log "$WORKDIR/received.jsonl" --count "$ORDERS" \
  --timeout 45 || status=1

gunicorn_log_clean || { echo "DRILL webhooks: app log shows errors"; status=1; }
if grep -qE "Unrecoverable error|Fatal error|Traceback" "$WORKDIR/worker.log"; then
  grep -E -A10 "Unrecoverable error|Fatal error|Traceback" "$WORKDIR/worker.log" | head -30 >&2
  echo "DRILL webhooks: the worker logged an error"; status=1
fi
log "drill took $(( $(date +%s) - started_at ))s"
(( status == 0 )) && echo "DRILL webhooks/receiver_down: PASS" || echo "DRILL webhooks/receiver_down: FAIL"
exit "$status"

#!/usr/bin/env bash
# Drills for background work: a real SMTP server (aiosmtpd), a real broker Redis, real
# `celery worker` and `celery beat` processes, Gunicorn on private PostgreSQL and Redis.
#
#   reset   password reset for existing and unknown emails: same status, medians within
#           10 ms over 20 tries each (the request only writes an outbox row either way)
#   smtp_hung, smtp_down
#           SMTP frozen (SIGSTOP: connections hang until EMAIL_TIMEOUT) or stopped while 30
#           orders are placed: every POST 201 with p95 < 200 ms (next to a baseline with
#           SMTP up); SMTP back: every email arrives exactly once
#   broker  broker Redis stopped while orders are placed: every order 201; after it
#           returns, the sweeper delivers every pending email, none twice
#   kill    the worker (all its processes) SIGKILLed while deliveries are in progress:
#           the rest are redelivered, none twice
#   beat    beat runs every job on a shortened schedule; each pruned table shrinks to
#           its fresh rows
#
# Usage: background_work.sh [scenario...] (default: all, in this order). Every server
# listens on a free 127.0.0.1 port and is stopped by PID at the end, even on failure.
# Scenario functions are called indirectly ("scenario_$name"), which shellcheck cannot see.
# shellcheck disable=SC2317
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

SCENARIOS=("$@")
(( ${#SCENARIOS[@]} )) || SCENARIOS=(reset smtp_hung smtp_down broker kill beat)
ORDERS=${DRILL_ORDERS:-30}
SINK_LOG="$WORKDIR/smtp.jsonl"
CONTROL="$WORKDIR/smtp-control"
mkdir -p "$CONTROL"
PY="$NEXUS_PYTHON"
helper() { "$PY" "$ROOT/scripts/drills/outbox_drill.py" "$@"; }

# ---------------------------------------------------------------- servers

start_sink() {
  "$PY" "$ROOT/scripts/drills/smtp_sink.py" --port "$SMTP_PORT" --log "$SINK_LOG" \
    --control "$CONTROL" >>"$WORKDIR/smtp.log" 2>&1 &
  SINK_PID=$!
  _PIDS+=("$SINK_PID")
  for _ in $(seq 50); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $SMTP_PORT), 0.2).close()" 2>/dev/null && return 0
    sleep 0.1
  done
  die "smtp sink did not start"
}
stop_sink() { kill "$SINK_PID" 2>/dev/null || true; wait "$SINK_PID" 2>/dev/null || true; }

# The broker as production runs it: its own Redis, never evicting, append-only.
start_broker() {
  redis-server --bind 127.0.0.1 --port "$BROKER_PORT" --save "" --appendonly yes \
    --maxmemory-policy noeviction --dir "$WORKDIR/broker" --logfile "$WORKDIR/broker.log" &
  BROKER_PID=$!
  _PIDS+=("$BROKER_PID")
  for _ in $(seq 50); do redis-cli -p "$BROKER_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  die "broker redis did not start"
}
stop_broker() { kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }

# The worker in its own process group, so that SIGKILL takes the parent and its children.
WORKER_N=0
start_worker() {
  WORKER_N=$((WORKER_N + 1))
  setsid "$NEXUS_BIN/celery" -A nexus worker --pool prefork --concurrency 2 \
    --hostname "drill$WORKER_N-$$@%h" --loglevel INFO --without-gossip --without-mingle \
    >>"$WORKDIR/worker.log" 2>&1 &
  WORKER_PID=$!
  _PIDS+=("$WORKER_PID")
  for _ in $(seq 100); do
    grep -q "drill$WORKER_N-$$@.* ready" "$WORKDIR/worker.log" 2>/dev/null && return 0
    sleep 0.2
  done
  tail -30 "$WORKDIR/worker.log" >&2
  die "celery worker did not start"
}

start_beat() {
  NEXUS_BEAT_HEARTBEAT_FILE="$WORKDIR/beat.heartbeat" "$NEXUS_BIN/celery" -A nexus beat \
    --schedule "$WORKDIR/beat-schedule" --pidfile "$WORKDIR/beat.pid" --loglevel INFO \
    >>"$WORKDIR/beat.log" 2>&1 &
  BEAT_PID=$!
  _PIDS+=("$BEAT_PID")
}

# ---------------------------------------------------------------- setup

SMTP_PORT=$(free_port)
BROKER_PORT=$(free_port)
mkdir -p "$WORKDIR/broker"
export CELERY_BROKER_URL="redis://127.0.0.1:$BROKER_PORT/0"
export DRILL_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend
export EMAIL_HOST=127.0.0.1 EMAIL_PORT=$SMTP_PORT EMAIL_USE_TLS=0 EMAIL_TIMEOUT=3
# Shortened so the drill takes seconds, not hours: backoff 1-4 s, sweep after 3 s.
export NEXUS_OUTBOX_BACKOFF_SECONDS=1 NEXUS_OUTBOX_BACKOFF_MAX_SECONDS=4
export NEXUS_OUTBOX_MAX_ATTEMPTS=100 NEXUS_OUTBOX_SWEEP_AFTER_SECONDS=3
export NEXUS_BEAT_INTERVALS="outbox_sweep=2,outbox_prune=6,idempotency_prune=6,guest_carts_purge=6,jwt_flush_expired=6,auth_prune=6"
export DRILL_PG_PORT=${DRILL_PG_PORT:-$(free_port)} DRILL_REDIS_PORT=${DRILL_REDIS_PORT:-$(free_port)}
start_sink
start_broker
drill_setup "$ORDERS"
start_worker
start_beat
log "broker :$BROKER_PORT, SMTP sink :$SMTP_PORT, worker $WORKER_PID, beat $BEAT_PID"

status=0
result() {  # result NAME RC
  if (( $2 == 0 )); then echo "DRILL background/$1: PASS"; else echo "DRILL background/$1: FAIL"; status=1; fi
}

scenario_reset() {
  helper reset-timing --base "$BASE_URL" --users "$WORKDIR/users.json" --tries 20 --limit-ms 10
}

scenario_smtp_hung() { smtp_outage freeze; }
scenario_smtp_down() { smtp_outage stop; }

smtp_outage() {
  local since mode=$1 rc=0 relative=()
  # CI (a machine to itself) holds the absolute bar; a loaded dev machine may fall back to
  # one relative to the baseline taken just before (the drill prints a NOTE when it does).
  [[ ${CI:-} == true ]] || relative=(--baseline "$WORKDIR/baseline-orders.json")
  log "baseline: $ORDERS orders with SMTP up"
  helper place --base "$BASE_URL" --users "$WORKDIR/users.json" --count "$ORDERS" \
    --threads 1 --out "$WORKDIR/baseline-orders.json" || rc=1
  since=$(date +%s.%N)
  if [[ $mode == freeze ]]; then kill -STOP "$SINK_PID"; else stop_sink; fi
  log "SMTP $mode (outage); placing $ORDERS orders"
  helper place --base "$BASE_URL" --users "$WORKDIR/users.json" --count "$ORDERS" \
    --threads 1 --out "$WORKDIR/smtp-orders.json" --p95-limit "${DRILL_P95_LIMIT_MS:-200}" \
    "${relative[@]}" || rc=1
  helper expect --since "$since" --out "$WORKDIR/smtp-expect.json"
  sleep "${DRILL_SMTP_OUTAGE:-4}"
  helper pending --expect "$WORKDIR/smtp-expect.json" --require-failed-attempts || rc=1
  if [[ $mode == freeze ]]; then kill -CONT "$SINK_PID"; else start_sink; fi
  log "SMTP back"
  helper delivered --expect "$WORKDIR/smtp-expect.json" --sink-log "$SINK_LOG" --timeout 60 || rc=1
  return "$rc"
}

scenario_broker() {
  local since rc=0 count=${DRILL_BROKER_ORDERS:-10}
  since=$(date +%s.%N)
  stop_broker
  log "broker stopped; placing $count orders"
  helper place --base "$BASE_URL" --users "$WORKDIR/users.json" --count "$count" \
    --out "$WORKDIR/broker-orders.json" || rc=1
  helper expect --since "$since" --out "$WORKDIR/broker-expect.json"
  sleep 3
  helper pending --expect "$WORKDIR/broker-expect.json"
  start_broker
  log "broker back; waiting for the sweeper"
  helper delivered --expect "$WORKDIR/broker-expect.json" --sink-log "$SINK_LOG" --timeout 60 || rc=1
  return "$rc"
}

scenario_kill() {
  local since rc=0 count=${DRILL_KILL_ORDERS:-20} before stalled=0
  before=$(grep -c . "$SINK_LOG" 2>/dev/null || true)
  # Accept 6 more emails, then hold every later delivery at RCPT (in progress, not accepted).
  echo $(( ${before:-0} + 6 )) >"$CONTROL/stall"
  : >"$CONTROL/stalled"
  since=$(date +%s.%N)
  helper place --base "$BASE_URL" --users "$WORKDIR/users.json" --count "$count" \
    --out "$WORKDIR/kill-orders.json" || rc=1
  helper expect --since "$since" --out "$WORKDIR/kill-expect.json"
  for _ in $(seq 150); do
    stalled=$(grep -c . "$CONTROL/stalled" || true)
    (( stalled >= 1 )) && break
    sleep 0.1
  done
  (( stalled >= 1 )) || { echo "  VIOLATION: no delivery reached the SMTP server"; rc=1; }
  kill -KILL -- "-$WORKER_PID" 2>/dev/null || kill -KILL "$WORKER_PID"
  wait "$WORKER_PID" 2>/dev/null || true
  log "worker SIGKILLed with $(( $(grep -c . "$SINK_LOG") - ${before:-0} )) of $count emails accepted, $stalled delivery(ies) in progress"
  helper pending --expect "$WORKDIR/kill-expect.json"
  rm -f "$CONTROL/stall"
  start_worker
  log "a new worker is up"
  helper delivered --expect "$WORKDIR/kill-expect.json" --sink-log "$SINK_LOG" --timeout 60 || rc=1
  return "$rc"
}

scenario_beat() {
  helper prune-seed --out "$WORKDIR/prune-seed.json"
  helper prune-check --seed "$WORKDIR/prune-seed.json" --timeout 30
  local heartbeat_age
  heartbeat_age=$(( $(date +%s) - $(stat -c %Y "$WORKDIR/beat.heartbeat") ))
  echo "  beat heartbeat ${heartbeat_age}s old; jobs run: $(grep -c 'Sending due task' "$WORKDIR/beat.log")"
  (( heartbeat_age < 30 ))
}

for name in "${SCENARIOS[@]}"; do
  started=$(date +%s)
  log "scenario $name"
  rc=0
  "scenario_$name" || rc=$?
  log "scenario $name took $(( $(date +%s) - started ))s"
  result "$name" "$rc"
done
gunicorn_log_clean || { echo "DRILL background: app log shows errors"; status=1; }
# Beat and workers log the broker outage (expected); anything unrecoverable is a failure.
if grep -qE "Unrecoverable error|Fatal error" "$WORKDIR/beat.log" "$WORKDIR/worker.log"; then
  grep -E -A10 "Unrecoverable error|Fatal error" "$WORKDIR/beat.log" "$WORKDIR/worker.log" | head -30 >&2
  echo "DRILL background: a worker or beat died"; status=1
fi
(( status == 0 )) && echo "DRILL background: PASS" || echo "DRILL background: FAIL"
exit "$status"

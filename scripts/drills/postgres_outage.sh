#!/usr/bin/env bash
# Outage drill: PostgreSQL stopped while traffic runs, then started again.
#
# Passes when: during the outage /health/ready/ answers 503 and every API request answers
# a problem+json 503 (or 2xx when the cache can serve it without the database), each
# within 5 s (no hanging worker, no unanswered request); once
# PostgreSQL is back the same Gunicorn serves 2xx again on its own (no restart).
# Private PostgreSQL and Redis on their own ports (DRILL_PG_PORT, DRILL_REDIS_PORT).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

THREADS=${DRILL_THREADS:-4}
BEFORE=${DRILL_BEFORE:-6} OUTAGE=${DRILL_OUTAGE:-15} AFTER=${DRILL_AFTER:-20}
drill_setup "$THREADS"

# The script itself, not the ``traffic`` function: a backgrounded function is a subshell
# whose kill (cleanup, on a failure) would leave the Python process running.
"$NEXUS_PYTHON" "$ROOT/scripts/drills/traffic.py" run --base "$BASE_URL" \
  --users "$WORKDIR/users.json" --out "$WORKDIR/traffic.jsonl" \
  --duration 600 --stop-file "$WORKDIR/stop" &
TRAFFIC_PID=$!
_PIDS+=("$TRAFFIC_PID")
mark start
sleep "$BEFORE"

log "stopping PostgreSQL"
mark pg_stopping
pg_stop
mark pg_down
sleep "$OUTAGE"
log "starting PostgreSQL again"
mark pg_starting
pg_start
mark pg_up
sleep "$AFTER"
mark end
status=0
traffic_judge postgres || status=1
if (( status != 0 )); then echo "DRILL postgres: FAIL"; exit 1; fi
echo "DRILL postgres: PASS"

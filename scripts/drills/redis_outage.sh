#!/usr/bin/env bash
# Outage drill: Redis stopped while traffic runs, then brought back.
# DRILL_REDIS_MODE=stop (default) kills it; DRILL_REDIS_MODE=freeze SIGSTOPs it, so that
# every cache call waits for the 0.5 s socket timeout instead of being refused.
#
# Passes when: no 5xx and no unanswered request at any time; during the outage reads,
# logins and checkouts (when orders exist) still succeed, /health/ready/ answers 200
# "degraded"; the login lockout still locks an account (it is counted in PostgreSQL); once
# Redis is back, readiness says "ok" again without restarting Gunicorn.
# Private PostgreSQL and Redis on their own ports (DRILL_PG_PORT, DRILL_REDIS_PORT).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

THREADS=${DRILL_THREADS:-4}
BEFORE=${DRILL_BEFORE:-6} OUTAGE=${DRILL_OUTAGE:-15} AFTER=${DRILL_AFTER:-15}
MODE=${DRILL_REDIS_MODE:-stop}  # stop: killed, connections refused; freeze: SIGSTOP, hangs
[[ "$MODE" == stop || "$MODE" == freeze ]] || die "DRILL_REDIS_MODE is stop or freeze"
export LOGIN_LIMIT_ACCOUNT=5
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

if [[ "$MODE" == freeze ]]; then
  log "freezing Redis (SIGSTOP: connections hang instead of being refused)"
  kill -STOP "$REDIS_PID"
else
  log "stopping Redis"
  redis_stop
fi
mark redis_down
sleep 2

# Lockout with the cache down: 5 wrong passwords lock the account, even the right one is refused.
staff_email=$("$NEXUS_PYTHON" -c "import json; print(json.load(open('$WORKDIR/staff.json'))['email'])")
staff_password=$("$NEXUS_PYTHON" -c "import json; print(json.load(open('$WORKDIR/staff.json'))['password'])")
login() { curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
  -d "{\"email\": \"$staff_email\", \"password\": \"$1\"}" "$BASE_URL/api/v1/auth/login/"; }
codes=""
for _ in 1 2 3 4 5; do codes+="$(login wrong-password) "; done
locked=$(login "$staff_password")
log "lockout with Redis down: wrong x5 -> $codes; right password -> $locked"
lockout_ok=1
[[ "$codes" == "401 401 401 401 401 " && "$locked" == 429 ]] || lockout_ok=0

sleep $(( OUTAGE > 2 ? OUTAGE - 2 : 1 ))
log "bringing Redis back"
mark redis_starting
if [[ "$MODE" == freeze ]]; then kill -CONT "$REDIS_PID"; else redis_start; fi
mark redis_up
sleep "$AFTER"
mark end
status=0
traffic_judge redis || status=1
if (( lockout_ok == 0 )); then
  echo "  VIOLATION: login lockout did not hold with Redis down ($codes / $locked)"
  status=1
fi
if (( status != 0 )); then echo "DRILL redis ($MODE): FAIL"; exit 1; fi
echo "DRILL redis ($MODE): PASS (lockout with Redis down: $codes-> $locked)"

#!/usr/bin/env bash
# Drill: Gunicorn gets SIGTERM in the middle of a burst of checkouts.
#
# Passes when: no 5xx; every checkout answered 201 has exactly one whole order (items,
# subtotal = sum of lines, total = subtotal + shipping) and an emptied cart; every checkout
# without an answer or refused left no order and a full cart (nothing half-written, no
# order whose answer was lost); each product's stock fell by exactly the quantity ordered;
# Gunicorn exits on its own within its graceful timeout.
# Skips (exit 0) when the schema has no /api/v1/orders/ yet.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

USERS=${DRILL_CHECKOUTS:-24}
export NEXUS_THROTTLE_ANON=1000000/min
drill_setup "$USERS"

curl -s -o "$WORKDIR/schema.json" "$BASE_URL/api/v1/schema/?format=json"
if ! grep -q '"/api/v1/orders/"' "$WORKDIR/schema.json"; then
  echo "DRILL sigterm: SKIPPED (no /api/v1/orders/ in the schema yet)"
  exit 0
fi

STATE="$WORKDIR/burst.json"
traffic burst-prepare --base "$BASE_URL" --state "$STATE" --users "$WORKDIR/users.json" \
  --staff "$WORKDIR/staff.json"
log "burst of $USERS checkouts; SIGTERM to gunicorn $GUNICORN_PID after ${DRILL_SIGTERM_DELAY:-0.15}s"
traffic burst-fire --base "$BASE_URL" --state "$STATE" --pid "$GUNICORN_PID" \
  --delay "${DRILL_SIGTERM_DELAY:-0.15}"
status=0
deadline=$(( $(date +%s) + ${GUNICORN_GRACEFUL_TIMEOUT:-30} + 10 ))
while kill -0 "$GUNICORN_PID" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 0.2; done
if kill -0 "$GUNICORN_PID" 2>/dev/null; then
  echo "  VIOLATION: gunicorn still running after its graceful timeout"
  status=1
fi
gunicorn_log_clean || status=1

port=$(free_port)
BASE_URL="http://127.0.0.1:$port"
start_gunicorn "$port" 2 "$WORKDIR/gunicorn-after.log"
traffic burst-verify --base "$BASE_URL" --state "$STATE" --staff "$WORKDIR/staff.json" || status=1
if (( status != 0 )); then echo "DRILL sigterm: FAIL"; exit 1; fi
echo "DRILL sigterm: PASS"

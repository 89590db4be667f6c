#!/usr/bin/env bash
# Contract fuzzing: schemathesis against the live app (Gunicorn, PostgreSQL, Redis), from the
# OpenAPI schema the app serves, every operation, as anonymous, customer and staff.
#
#   bash scripts/fuzz.sh                      # what CI runs (needs PostgreSQL and Redis)
#   FUZZ_EXAMPLES=20 bash scripts/fuzz.sh     # a quicker local pass
#
# Settings (environment): FUZZ_EXAMPLES (cases per operation in the fuzzing phase, 100),
# FUZZ_SEED (42), FUZZ_ROLES ("anonymous customer staff"; "admin" also exists),
# FUZZ_PG (postgres://postgres@127.0.0.1:5432), FUZZ_DB (nexus_fuzz), FUZZ_REDIS_URL
# (redis://127.0.0.1:6379/9), FUZZ_VENV (where schemathesis is installed, outside the
# project venv), FUZZ_MAX_MINUTES (a hard cap per role, 20), FUZZ_PARALLEL (roles run at
# once, each its own process, 2), FUZZ_REPORT_DIR.
# Exits non-zero on any failure. See docs/TESTING.md.
set -euo pipefail
# shellcheck source=drills/lib.sh
source "$(dirname "$0")/drills/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

EXAMPLES=${FUZZ_EXAMPLES:-100}
SEED=${FUZZ_SEED:-42}
ROLES=${FUZZ_ROLES:-anonymous customer staff}
PG=${FUZZ_PG:-postgres://postgres@127.0.0.1:5432}
DB=${FUZZ_DB:-nexus_fuzz}
export REDIS_URL=${FUZZ_REDIS_URL:-redis://127.0.0.1:6379/9}
VENV=${FUZZ_VENV:-${TMPDIR:-/tmp}/nexus-fuzz-venv}
MAX_MINUTES=${FUZZ_MAX_MINUTES:-20}
REPORT_DIR=${FUZZ_REPORT_DIR:-${TMPDIR:-/tmp}/nexus-fuzz-report}
SCHEMATHESIS_SPEC=${FUZZ_SCHEMATHESIS:-schemathesis==4.32.5}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection
started=$(date +%s)
rm -rf "$REPORT_DIR"; mkdir -p "$REPORT_DIR"

log "schemathesis venv: $VENV ($SCHEMATHESIS_SPEC)"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "${SCHEMATHESIS_SPEC#schemathesis==}"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "$SCHEMATHESIS_SPEC"
fi

log "fresh database $DB"
export DATABASE_URL="$PG/$DB"
psql_admin() { "$NEXUS_PYTHON" - "$PG/postgres" "$@" <<'EOF'
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    for statement in sys.argv[2:]:
        conn.execute(statement)
EOF
}
psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)" "CREATE DATABASE $DB"
app_env
app_env_unthrottled
manage migrate --noinput >/dev/null
if [[ -f scripts/seed_database.py ]]; then
  log "seeding demo data"
  "$NEXUS_PYTHON" scripts/seed_database.py --products "${FUZZ_PRODUCTS:-40}" >/dev/null
fi

PORT=$(free_port)
export FUZZ_BASE_URL="http://127.0.0.1:$PORT"
log "gunicorn on $FUZZ_BASE_URL"
start_gunicorn "$PORT" "${FUZZ_GUNICORN_WORKERS:-3}" "$WORKDIR/gunicorn.log"

export PYTHONPATH="$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}"
export SCHEMATHESIS_HOOKS=fuzz_hooks
export FUZZ_SEED=$SEED
PARALLEL=${FUZZ_PARALLEL:-2}

# fuzz_role ROLE: one role's whole pass, in its own process (schemathesis' own threads race
# on CPython 3.11, see docs/TESTING.md; separate processes share nothing but the server).
# Output to REPORT_DIR/ROLE.log, exit status to REPORT_DIR/ROLE.status.
fuzz_role() {
  local role=$1 tokens=""
  if [[ "$role" != anonymous ]]; then
    # The role's own account plus a pool of throw-away accounts (for logout, logout-all,
    # password change), all with tokens minted here: no password hashing in the loop.
    tokens="$WORKDIR/tokens-$role.json"
    manage shell -c "import fuzz_hooks; fuzz_hooks.mint_tokens('$role', '$tokens', ${FUZZ_POOL:-1200})"
  fi
  # From a directory of its own: schemathesis keeps a crash cache (.schemathesis/) in the
  # working directory, which would make a run depend on the runs before it.
  mkdir -p "$WORKDIR/run-$role"
  set +e
  (cd "$WORKDIR/run-$role" && FUZZ_ROLE=$role FUZZ_TOKENS_FILE=$tokens \
    timeout --signal=INT --kill-after=30 "$(( MAX_MINUTES * 60 ))" \
    "$VENV/bin/st" run "$FUZZ_BASE_URL/api/v1/schema/" \
      --checks "$CHECKS" \
      --phases examples,coverage,fuzzing \
      --max-examples "$EXAMPLES" --seed "$SEED" \
      --workers "${FUZZ_WORKERS:-1}" --request-timeout 20 \
      --suppress-health-check all --no-color --output-truncate false \
      --generation-database none \
      --report junit,ndjson --report-dir "$REPORT_DIR/$role") >"$REPORT_DIR/$role.log" 2>&1
  echo $? >"$REPORT_DIR/$role.status"
}

# Roles run FUZZ_PARALLEL at a time (2: the client and the server each get a core); each
# role's output is printed whole when it ends, so the log reads role by role.
declare -A role_pid=()
report_done() {  # print and judge every role that has ended, once
  local role status
  for role in "${!role_pid[@]}"; do
    kill -0 "${role_pid[$role]}" 2>/dev/null && continue
    wait "${role_pid[$role]}" 2>/dev/null || true
    unset "role_pid[$role]"
    status=$(cat "$REPORT_DIR/$role.status" 2>/dev/null || echo 1)
    log "=== role $role ended (exit $status) after $(( $(date +%s) - started ))s"
    cat "$REPORT_DIR/$role.log"
    "$NEXUS_PYTHON" scripts/fuzz_hooks.py --summary "$REPORT_DIR/$role" "$role" | tee -a "$REPORT_DIR/summary.txt"
    if (( status != 0 )); then failed_roles+=("$role (exit $status)"); fi
  done
}
failed_roles=()
for role in $ROLES; do
  while (( ${#role_pid[@]} >= PARALLEL )); do sleep 2; report_done; done
  log "=== role $role: $EXAMPLES cases per operation, seed $SEED (started)"
  fuzz_role "$role" &
  role_pid[$role]=$!
done
while (( ${#role_pid[@]} )); do sleep 2; report_done; done

log "server errors logged by gunicorn: $(grep -c 'Traceback' "$WORKDIR/gunicorn.log" || true)"
grep -B2 -A30 'Traceback' "$WORKDIR/gunicorn.log" | head -120 >&2 || true
log "fuzzing done in $(( $(date +%s) - started ))s; reports in $REPORT_DIR"
if (( ${#failed_roles[@]} )); then
  export KEEP_WORKDIR=1  # read by the cleanup trap in drills/lib.sh
  die "schemathesis failed for: ${failed_roles[*]}"
fi
log "PASS: zero failures for roles: $ROLES"

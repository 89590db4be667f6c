#!/usr/bin/env bash
# Schema lint for the clients generated from it (CI step; `make schema-lint`):
#   1. the OpenAPI schema validates (drf-spectacular, --fail-on-warn);
#   2. Redocly's recommended rules report 0 errors (scripts/schema/redocly.yaml);
#   3. openapi-typescript turns it into types and a small typed frontend flow
#      (scripts/schema/flow.ts, openapi-fetch) compiles under `tsc --strict` without casts.
# The npm tools are installed at pinned versions into a cache directory outside the
# repository (SCHEMA_LINT_NPM_DIR, default ~/.cache/nexus-schema-lint); nothing is
# written to the work tree. Needs node >= 20.19 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
NPM_DIR=${SCHEMA_LINT_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nexus-schema-lint}
PACKAGES=(@redocly/cli@2.77.0 openapi-typescript@7.13.0 openapi-fetch@0.17.0 typescript@5.9.3)
WORK=$(mktemp -d -t nexus-schema-lint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
log() { printf '[schema-lint] %s\n' "$*"; }

log "OpenAPI schema (spectacular --validate --fail-on-warn)"
DJANGO_DEBUG=1 NEXUS_ENV_FILE='' "$PY" manage.py spectacular --validate --fail-on-warn \
  --file "$WORK/openapi.yml"

wanted="${PACKAGES[*]}"
if [ "$(cat "$NPM_DIR/.installed" 2>/dev/null)" != "$wanted" ]; then
  log "npm install (pinned) into $NPM_DIR: $wanted"
  mkdir -p "$NPM_DIR"
  echo '{"private": true}' > "$NPM_DIR/package.json"
  (cd "$NPM_DIR" && npm install --no-audit --no-fund --silent --save-exact "${PACKAGES[@]}")
  echo "$wanted" > "$NPM_DIR/.installed"
fi
BIN=$NPM_DIR/node_modules/.bin
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

log "redocly lint (recommended rules; errors fail)"
"$BIN/redocly" lint "$WORK/openapi.yml" --config scripts/schema/redocly.yaml --format stylish \
  2>&1 | grep -v -E '[║╔╚]' | tee "$WORK/redocly.txt"
# redocly exits non-zero on errors; pipefail carries that exit status through tee.

log "openapi-typescript + tsc --strict on scripts/schema/flow.ts"
cp scripts/schema/flow.ts scripts/schema/tsconfig.json "$WORK/"
ln -s "$NPM_DIR/node_modules" "$WORK/node_modules"
# Defaults do not make a field required (request fields with a default may be left out).
"$BIN/openapi-typescript" "$WORK/openapi.yml" --redocly scripts/schema/redocly.yaml \
  --default-non-nullable false -o "$WORK/schema.d.ts"
(cd "$WORK" && "$BIN/tsc" -p tsconfig.json)
log "ok: 0 redocly errors, the typed flow compiles"

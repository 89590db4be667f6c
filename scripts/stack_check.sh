#!/usr/bin/env bash
# The CI proof of the production stack, without Docker: the real nginx/nexus.conf.template
# (rendered as the nginx image renders it) with a self-signed certificate, in front of a
# real Gunicorn started with gunicorn.conf.py and production settings, against the
# PostgreSQL and Redis in DATABASE_URL / REDIS_URL. Then a backup and restore drill, and
# static checks of the container and Compose files and of the shell scripts.
#
#   DATABASE_URL=postgres://... REDIS_URL=redis://... bash scripts/stack_check.sh
#
# Optional: PYTHON (interpreter with the project's dependencies), STACK_HTTP_PORT (18080),
# STACK_HTTPS_PORT (18443), STACK_TIMEOUT seconds (600), STACK_KEEP_WORK=1 to keep the temp
# dir. Idempotent; installs nginx, openssl and shellcheck with apt-get when missing and root.
# Single quotes around bash -c bodies and envsubst lists are deliberate (expanded later).
# shellcheck disable=SC2016
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Bound the whole run; the trap below still cleans up when the time box fires.
if [[ -z ${STACK_CHECK_TIMEBOXED:-} ]] && command -v timeout >/dev/null; then
    export STACK_CHECK_TIMEBOXED=1
    exec timeout -k 15 "${STACK_TIMEOUT:-600}" bash "$0" "$@"
fi

DOMAIN=nexus.test
HTTP_PORT=${STACK_HTTP_PORT:-18080}
HTTPS_PORT=${STACK_HTTPS_PORT:-18443}
: "${DATABASE_URL:?export DATABASE_URL (a PostgreSQL URL) before running}"
: "${REDIS_URL:?export REDIS_URL before running}"

if [[ -z ${PYTHON:-} ]]; then
    for candidate in python python3 "$ROOT/.venv/bin/python"; do
        if command -v "$candidate" >/dev/null && "$candidate" -c 'import django, gunicorn' 2>/dev/null; then
            PYTHON=$(command -v "$candidate")
            break
        fi
    done
fi
[[ -n ${PYTHON:-} ]] || { echo "no python with Django and Gunicorn: set PYTHON" >&2; exit 2; }

STARTED=$SECONDS
PASSED=0
FAILED=0
FAILURES=()
WORK=""
GUNICORN_PID=""
NGINX_PID=""
SCRATCH_DBS=()

step() { printf '\n== %s (%ss)\n' "$*" "$((SECONDS - STARTED))"; }
info() { printf '   %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf '   ok    %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$*"); printf '   FAIL  %s\n' "$*"; }
fatal() { printf '\nFATAL: %s\n' "$*" >&2; exit 1; }
# check NAME COMMAND...: pass when the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# A URL for another database on the same server (the path is the database name).
db_url() {
    "$PYTHON" - "$DATABASE_URL" "$1" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
scheme = "postgresql" if parts.scheme in ("postgres", "pgsql") else parts.scheme
print(urlunsplit((scheme, parts.netloc, "/" + sys.argv[2], parts.query, "")))
PY
}

stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    stop_pid "$NGINX_PID"
    stop_pid "$GUNICORN_PID"
    local db
    for db in "${SCRATCH_DBS[@]}"; do
        PGOPTIONS=--client-min-messages=warning psql "$(db_url postgres)" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1
    done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ ${STACK_KEEP_WORK:-0} == 1 ]]; then
            echo "work dir kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------------------------------
step "tools"
missing=()
for tool in nginx openssl curl envsubst; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
command -v shellcheck >/dev/null || missing+=(shellcheck)
# Without the compose v2 plugin, Debian's docker-compose (v1) still validates the files.
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        packages=()
        for tool in "${missing[@]}"; do
            case $tool in
                envsubst) packages+=(gettext-base) ;;
                *) packages+=("$tool") ;;
            esac
        done
        info "apt-get install ${packages[*]}"
        # A missing linter is a nicety: its absence must not stop the proof.
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"; } \
            >/dev/null 2>&1 || info "apt-get failed; continuing with what is installed"
    fi
fi
for tool in nginx openssl curl envsubst psql pg_dump pg_restore; do
    command -v "$tool" >/dev/null || fatal "$tool is required"
done
info "$(nginx -v 2>&1), $(openssl version), python $("$PYTHON" -c 'import platform; print(platform.python_version())')"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nexus-stack.XXXXXX")
# nginx workers (www-data when we are root) read static files and the rendered config.
chmod 755 "$WORK"
mkdir -p "$WORK"/{static,media,acme/.well-known/acme-challenge,tls,backups,tmp}

# ----------------------------------------------------------------------------------------
step "self-signed certificate for $DOMAIN"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" \
    -addext "subjectAltName=DNS:$DOMAIN" \
    -keyout "$WORK/tls/privkey.pem" -out "$WORK/tls/fullchain.pem" >/dev/null 2>&1
chmod 600 "$WORK/tls/privkey.pem"
info "$WORK/tls/fullchain.pem"

# ----------------------------------------------------------------------------------------
step "Django with production settings"
APP_PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DJANGO_DEBUG=0
DJANGO_SECRET_KEY=$(openssl rand -hex 32)
JWT_SIGNING_KEY=$(openssl rand -hex 32)
export DJANGO_SECRET_KEY JWT_SIGNING_KEY
export DJANGO_ALLOWED_HOSTS=$DOMAIN
export DJANGO_SECURE_SSL_REDIRECT=1
export NEXUS_NUM_PROXIES=1
export DJANGO_STATIC_ROOT=$WORK/static
export DJANGO_MEDIA_ROOT=$WORK/media
export DJANGO_EMAIL_BACKEND=django.core.mail.backends.locmem.EmailBackend
export CACHE_KEY_PREFIX="stack-check-$$-"
export GUNICORN_BIND=127.0.0.1:$APP_PORT
export GUNICORN_WORKERS=2
export GUNICORN_ACCESS_LOG=$WORK/gunicorn-access.log
export GUNICORN_ERROR_LOG=$WORK/gunicorn-error.log
export GUNICORN_GRACEFUL_TIMEOUT=10
export NEXUS_ENV_FILE=''  # never a stray .env
export NEXUS_METRICS_TOKEN="stack-check-metrics-$$"
export DATABASE_URL REDIS_URL

"$PYTHON" manage.py migrate --noinput >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; fatal "migrate failed"; }
info "migrations applied"
"$PYTHON" manage.py collectstatic --noinput >"$WORK/collectstatic.log" 2>&1 || { cat "$WORK/collectstatic.log"; fatal "collectstatic failed"; }
info "collectstatic: $(tail -n 1 "$WORK/collectstatic.log")"
"$PYTHON" manage.py check --deploy >"$WORK/check-deploy.log" 2>&1 || true
check "manage.py check --deploy: no security warnings with production settings" \
    bash -c '! grep "(security\." "$1"' _ "$WORK/check-deploy.log"
printf 'media probe\n' >"$WORK/media/probe.txt"
printf 'acme probe\n' >"$WORK/acme/.well-known/acme-challenge/probe"

"$PYTHON" -m gunicorn -c gunicorn.conf.py >"$WORK/gunicorn.out" 2>&1 &
GUNICORN_PID=$!
for ((i = 0; i < 60; i++)); do
    if curl -fsS --max-time 2 -H "Host: $DOMAIN" "http://127.0.0.1:$APP_PORT/health/" >/dev/null 2>&1; then
        break
    fi
    kill -0 "$GUNICORN_PID" 2>/dev/null || { cat "$WORK/gunicorn-error.log" "$WORK/gunicorn.out"; fatal "gunicorn exited"; }
    sleep 0.5
done
curl -fsS --max-time 2 -H "Host: $DOMAIN" "http://127.0.0.1:$APP_PORT/health/" >/dev/null \
    || { cat "$WORK/gunicorn-error.log"; fatal "gunicorn did not become healthy"; }
info "gunicorn pid $GUNICORN_PID on 127.0.0.1:$APP_PORT ($GUNICORN_WORKERS workers)"

# ----------------------------------------------------------------------------------------
step "nginx from nginx/nexus.conf.template"
export NEXUS_DOMAIN=$DOMAIN
export SSL_CERT=$WORK/tls/fullchain.pem SSL_KEY=$WORK/tls/privkey.pem
export UPSTREAM=127.0.0.1:$APP_PORT
export HTTP_PORT HTTPS_PORT PUBLIC_HTTPS_SUFFIX=":$HTTPS_PORT"
export STATIC_ROOT=$WORK/static MEDIA_ROOT=$WORK/media ACME_ROOT=$WORK/acme
export NGINX_ACCESS_LOG=$WORK/nginx-access.log
# The same substitution the nginx image performs: only these variables, nginx's own kept.
envsubst '${NEXUS_DOMAIN} ${SSL_CERT} ${SSL_KEY} ${UPSTREAM} ${HTTP_PORT} ${HTTPS_PORT} ${PUBLIC_HTTPS_SUFFIX} ${STATIC_ROOT} ${MEDIA_ROOT} ${ACME_ROOT} ${NGINX_ACCESS_LOG}' \
    <nginx/nexus.conf.template >"$WORK/nexus.conf"
if grep -n '\${[A-Z_]*}' "$WORK/nexus.conf"; then
    fatal "template variables left unrendered (above)"
fi
user_line=""
[[ $(id -u) == 0 ]] && user_line="user www-data;"
cat >"$WORK/nginx.conf" <<CONF
# Stand-in for the nginx image's /etc/nginx/nginx.conf; the site comes from the template.
$user_line
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 512; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65;
    client_body_temp_path $WORK/tmp/client_body;
    proxy_temp_path $WORK/tmp/proxy;
    fastcgi_temp_path $WORK/tmp/fastcgi;
    uwsgi_temp_path $WORK/tmp/uwsgi;
    scgi_temp_path $WORK/tmp/scgi;
    include $WORK/nexus.conf;
}
CONF
nginx -t -q -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" 2>&1 \
    || { cat "$WORK/nginx-error.log"; fatal "nginx -t failed"; }
pass "nginx -t accepts the rendered template"
nginx -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" &
NGINX_PID=$!
for ((i = 0; i < 40; i++)); do
    curl -sk --max-time 1 -o /dev/null --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" "https://$DOMAIN:$HTTPS_PORT/health/" && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx-error.log"; fatal "nginx exited"; }
    sleep 0.25
done
info "nginx pid $NGINX_PID on :$HTTP_PORT and :$HTTPS_PORT"

# ----------------------------------------------------------------------------------------
BASE=https://$DOMAIN:$HTTPS_PORT
CURL=(curl -sS -k --max-time 15 --resolve "$DOMAIN:$HTTP_PORT:127.0.0.1" --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1"
    --resolve "evil.test:$HTTP_PORT:127.0.0.1" --resolve "evil.test:$HTTPS_PORT:127.0.0.1")
SECURITY_HEADERS=(strict-transport-security x-content-type-options x-frame-options referrer-policy
    cross-origin-opener-policy content-security-policy)

# fetch NAME CURL-ARGS...: headers to $WORK/NAME.h, body to $WORK/NAME.b, status to stdout.
fetch() {
    local name=$1
    shift
    "${CURL[@]}" -D "$WORK/$name.h" -o "$WORK/$name.b" -w '%{http_code}' "$@" || true
}
header() { grep -i "^$2:" "$WORK/$1.h" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
header_count() { grep -ic "^$2:" "$WORK/$1.h" || true; }
expect_status() { [[ $2 == "$3" ]] || { info "$1: expected $3, got $2"; return 1; }; }
# Each security header exactly once (present, and never once from Django and once from nginx).
headers_once() {
    local name=$1 h n bad=0
    for h in "${SECURITY_HEADERS[@]}"; do
        n=$(header_count "$name" "$h")
        [[ $n == 1 ]] || { info "$name: $h appears $n times"; bad=1; }
    done
    return "$bad"
}

step "HTTP"
code=$(fetch redirect "http://$DOMAIN:$HTTP_PORT/api/v1/schema/?format=json")
check "HTTP -> 301" expect_status redirect "$code" 301
check "redirect target is https://$DOMAIN:$HTTPS_PORT/api/v1/schema/?format=json" \
    test "$(header redirect location)" = "https://$DOMAIN:$HTTPS_PORT/api/v1/schema/?format=json"
code=$(fetch acme "http://$DOMAIN:$HTTP_PORT/.well-known/acme-challenge/probe")
check "ACME challenge served over plain HTTP (certbot webroot)" expect_status acme "$code" 200

step "HTTPS, TLS and HTTP/2"
code=$(fetch health "$BASE/health/")
check "GET /health/ -> 200" expect_status health "$code" 200
code=$(fetch ready "$BASE/health/ready/")
check "GET /health/ready/ -> 200 with database ok" grep -q '"database":"ok"' "$WORK/ready.b"
check "HTTP/2 negotiated" test "$("${CURL[@]}" --http2 -o /dev/null -w '%{http_version}' "$BASE/health/")" = 2
check "TLS 1.2 accepted" test "$("${CURL[@]}" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' "$BASE/health/")" = 200
check "TLS 1.3 accepted" test "$("${CURL[@]}" --tlsv1.3 -o /dev/null -w '%{http_code}' "$BASE/health/")" = 200
tls_refused() {
    # SECLEVEL=0 so that the client is willing: the refusal must come from the server.
    ! openssl s_client -connect "127.0.0.1:$HTTPS_PORT" -servername "$DOMAIN" "$1" \
        -cipher 'DEFAULT@SECLEVEL=0' </dev/null >"$WORK/tls-old.log" 2>&1
}
# The host's OpenSSL policy may refuse old versions by itself, so check the config too.
tls_config_strict() {
    local protocols
    protocols=$(grep -ho '^[[:space:]]*ssl_protocols[^;]*' "$WORK/nexus.conf" | sed 's/^ *ssl_protocols *//' | sort -u)
    [[ $protocols == "TLSv1.2 TLSv1.3" ]] || { info "ssl_protocols: $protocols"; return 1; }
}
check "config allows only TLSv1.2 and TLSv1.3" tls_config_strict
check "TLS 1.1 refused" tls_refused -tls1_1
check "TLS 1.0 refused" tls_refused -tls1
check "Server header hides the nginx version" test "$(header health server)" = nginx

step "unknown hosts dropped"
unknown_http() { "${CURL[@]}" -o /dev/null "http://evil.test:$HTTP_PORT/health/" 2>/dev/null; [[ $? == 52 ]]; }
unknown_sni() { "${CURL[@]}" -o /dev/null "https://evil.test:$HTTPS_PORT/health/" 2>/dev/null; [[ $? == 35 ]]; }
unknown_host_header() {
    "${CURL[@]}" --http1.1 -o /dev/null -H "Host: evil.test" "$BASE/health/" 2>/dev/null
    [[ $? == 52 ]]
}
check "HTTP with an unknown Host: connection closed (444)" unknown_http
check "HTTPS with an unknown SNI name: handshake refused" unknown_sni
check "HTTPS with our SNI but an unknown Host: connection closed (444)" unknown_host_header

step "security headers: once each, on every kind of response"
code=$(fetch api "$BASE/api/v1/schema/?format=json")
check "proxied API response (schema) -> 200" expect_status api "$code" 200
check "proxied API response: security headers once each" headers_once api
check "proxied API response: X-Request-ID once (from Django)" test "$(header_count api x-request-id)" = 1
code=$(fetch rid -H "X-Request-ID: stack-check-$$" "$BASE/health/")
check "a caller's X-Request-ID goes through nginx to Django and back" test "$(header rid x-request-id)" = "stack-check-$$"
code=$(fetch django404 "$BASE/api/v1/no-such-endpoint/")
check "Django 404 -> 404 problem+json" expect_status django404 "$code" 404
check "Django 404: security headers once each" headers_once django404
static_file=$(cd "$WORK/static" && find . -name '*.css' -type f | sort | head -n 1)
code=$(fetch static "$BASE/static/${static_file#./}")
check "static file /static/${static_file#./} served by nginx -> 200" expect_status static "$code" 200
check "static file: security headers once each" headers_once static
check "static file: cached (Cache-Control max-age)" grep -qi '^cache-control: max-age=' "$WORK/static.h"
check "static file: not from Django (no X-Request-ID)" test "$(header_count static x-request-id)" = 0
code=$(fetch static404 "$BASE/static/no-such-file.css")
check "missing static file -> 404 from nginx" expect_status static404 "$code" 404
check "nginx 404: security headers once each" headers_once static404
code=$(fetch media "$BASE/media/probe.txt")
check "media file served by nginx -> 200" expect_status media "$code" 200
check "media file: security headers once each" headers_once media

step "Django sees HTTPS and the real client address"
code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Host: $DOMAIN" "http://127.0.0.1:$APP_PORT/api/v1/schema/")
check "direct to Gunicorn without X-Forwarded-Proto: Django redirects (SECURE_SSL_REDIRECT on)" \
    expect_status direct "$code" 301
check "through nginx: no redirect, so request.is_secure() is true" expect_status api "$(fetch api2 "$BASE/api/v1/schema/")" 200
check "through nginx: Django's HSTS reaches the client once" headers_once api2
probe_email="stack-check-$$-$RANDOM@example.com"
code=$(fetch xff --interface 127.0.0.2 -H 'X-Forwarded-For: 203.0.113.66' -H 'Content-Type: application/json' \
    --data "{\"email\":\"$probe_email\",\"password\":\"not-the-password-$$\"}" "$BASE/api/v1/auth/login/")
check "failed login through nginx -> 401" expect_status xff "$code" 401
addresses=$(psql "$DATABASE_URL" -qAtc "SELECT key FROM users_loginfailure WHERE key LIKE 'address:%'" 2>/dev/null || true)
check "Django recorded the client address 127.0.0.2 (X-Forwarded-For, NUM_PROXIES=1)" grep -q '127\.0\.0\.2' <<<"$addresses"
check "a forged X-Forwarded-For from the client is ignored" bash -c "! grep -q '203\.0\.113\.66' <<<\"\$1\"" _ "$addresses"
psql "$DATABASE_URL" -qc "DELETE FROM users_loginfailure WHERE key IN ('address:127.0.0.2', 'email:$probe_email')" >/dev/null 2>&1 || true
check "Gunicorn access log carries the forwarded address and request id" \
    grep -q 'xff="127.0.0.2".*rid=[0-9a-f]' "$WORK/gunicorn-access.log"
check "nginx and Gunicorn log the same request id" \
    bash -c 'grep -q "rid=stack-check-$3" "$1" && grep -q "rid=stack-check-$3" "$2"' _ "$WORK/nginx-access.log" "$WORK/gunicorn-access.log" "$$"

step "gzip"
code=$(fetch gzip -H 'Accept-Encoding: gzip' "$BASE/api/v1/schema/?format=json")
check "JSON response gzip-compressed" test "$(header gzip content-encoding)" = gzip
check "compressed JSON decodes" bash -c 'gzip -dc "$1" | "$2" -c "import json, sys; json.load(sys.stdin)"' _ "$WORK/gzip.b" "$PYTHON"

step "request body limit (client_max_body_size = Django's 6 MB)"
head -c $((7 * 1024 * 1024)) /dev/zero >"$WORK/big.bin"
head -c $((5 * 1024 * 1024)) /dev/zero >"$WORK/ok.bin"
ORIGIN=https://frontend.example
# cors NAME: nginx's own error answer lets the browser app read it (origin echoed, Retry-After
# and X-Request-ID exposed), once each.
cors() {
    [[ $(header "$1" access-control-allow-origin) == "$ORIGIN" && $(header_count "$1" access-control-allow-origin) == 1 ]] \
        && grep -qi '^access-control-expose-headers: .*retry-after' "$WORK/$1.h"
}
code=$(fetch toolarge -X POST -H "Origin: $ORIGIN" -H 'Content-Type: application/octet-stream' --data-binary "@$WORK/big.bin" "$BASE/api/v1/users/profile/")
check "7 MB body -> 413 from nginx" expect_status toolarge "$code" 413
check "413 is problem+json" grep -q '"status":413' "$WORK/toolarge.b"
check "413: security headers once each" headers_once toolarge
check "413 from nginx carries CORS headers for the browser app" cors toolarge
# To an endpoint that reads the whole body (a 401 sent before reading it races the upload and
# can surface as 502), from its own address so the auth rate limit below starts fresh.
code=$(fetch okbody --interface 127.0.0.3 -X POST -H 'Content-Type: application/json' --data-binary "@$WORK/ok.bin" "$BASE/api/v1/auth/login/")
check "5 MB body passes nginx and reaches Django (answer $code, from Django)" \
    bash -c '[[ $1 != 413 && $2 == 1 ]]' _ "$code" "$(header_count okbody x-request-id)"

step "rate limit on the auth endpoints"
codes=()
for ((i = 0; i < 25; i++)); do
    codes+=("$(fetch burst -H "Origin: $ORIGIN" -H 'Content-Type: application/json' --data '{}' "$BASE/api/v1/auth/login/")")
    [[ ${codes[-1]} == 429 ]] && break
done
info "login burst: ${codes[*]}"
check "login burst -> 429" test "${codes[-1]}" = 429
check "the 429 comes from nginx before Django's throttle (no X-Request-ID)" test "$(header_count burst x-request-id)" = 0
check "429 is problem+json with Retry-After" bash -c 'grep -q "\"status\":429" "$1" && grep -qi "^retry-after: 60" "$2"' _ "$WORK/burst.b" "$WORK/burst.h"
check "429: security headers once each" headers_once burst
check "429 from nginx carries CORS headers for the browser app" cors burst
for path in register password/reset; do
    for ((i = 0; i < 25; i++)); do
        code=$(fetch burst2 -H 'Content-Type: application/json' --data '{}' "$BASE/api/v1/auth/$path/")
        [[ $code == 429 ]] && break
    done
    check "/api/v1/auth/$path/ shares the limit -> 429" expect_status burst2 "$code" 429
done
for ((i = 0; i < 60; i++)); do
    code=$(fetch burst3 -H 'Content-Type: application/json' --data '{}' "$BASE/api/v1/auth/token/refresh/")
    [[ $code == 429 ]] && break
done
check "/api/v1/auth/token/refresh/ limited -> 429" expect_status burst3 "$code" 429
code=$(fetch notlimited -H "Origin: $ORIGIN" "$BASE/health/")
check "other paths unaffected by the auth limit" expect_status notlimited "$code" 200
check "proxied answers keep Django's CORS policy (origin not allowed: no CORS header)" \
    test "$(header_count notlimited access-control-allow-origin)" = 0
code=$(fetch metrics "$BASE/metrics")
check "/metrics is not served through the public server -> 404" expect_status metrics "$code" 404
check "/metrics 404 comes from nginx (no X-Request-ID)" test "$(header_count metrics x-request-id)" = 0
metrics_direct() {
    curl -fsS --max-time 10 -H "Host: $DOMAIN" -H "X-Forwarded-Proto: https" \
        -H "Authorization: Bearer $NEXUS_METRICS_TOKEN" "http://127.0.0.1:$APP_PORT/metrics" >"$WORK/metrics.txt" \
        && grep -q '^nexus_http_requests_total{' "$WORK/metrics.txt" \
        && grep -q '^nexus_db_query_duration_seconds_count' "$WORK/metrics.txt"
}
check "operators scrape /metrics from Gunicorn with the token (all workers' requests and queries)" metrics_direct

step "rate limit on the admin login"
# From its own address, so the auth limit above does not count. Django answers these
# POSTs 403 (no CSRF token) until nginx's limit (5/min, burst 5) answers 429.
codes=()
for ((i = 0; i < 20; i++)); do
    codes+=("$(fetch adminburst --interface 127.0.0.4 -X POST --data 'username=a%40b.test&password=wrong' "$BASE/admin/login/")")
    [[ ${codes[-1]} == 429 ]] && break
done
info "admin login burst: ${codes[*]}"
check "admin login POST burst -> 429" test "${codes[-1]}" = 429
check "the admin 429 comes from nginx (no X-Request-ID), as problem+json" \
    bash -c '[[ $1 == 0 ]] && grep -q "\"status\":429" "$2"' _ "$(header_count adminburst x-request-id)" "$WORK/adminburst.b"
code=$(fetch adminform --interface 127.0.0.4 "$BASE/admin/login/")
check "showing the admin login form is not limited (GET -> 200)" expect_status adminform "$code" 200

step "malformed requests get problem+json, never an HTML error page"
# raw_request NAME BYTES: send BYTES over TLS; status line and headers to NAME.h, body to NAME.b.
raw_request() {
    "$PYTHON" - "$HTTPS_PORT" "$DOMAIN" "$WORK/$1" "$2" <<'PY'
import socket, ssl, sys
port, domain, out, raw = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
raw = raw.replace("{HOST}", domain).encode("latin-1").decode("unicode_escape").encode("latin-1")
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
    with context.wrap_socket(sock, server_hostname=domain) as tls:
        tls.sendall(raw)
        data = b""
        try:
            while chunk := tls.recv(65536):
                data += chunk
        except (ssl.SSLError, ConnectionError):  # nginx may close without close_notify
            pass
head, _, body = data.partition(b"\r\n\r\n")
open(out + ".h", "wb").write(head + b"\r\n")
open(out + ".b", "wb").write(body)
print(head.split(b" ")[1].decode() if b" " in head else "000")
PY
}
# problem_or_ok NAME STATUS: a problem+json error, or a proxied success (nginx dropped the bad part).
problem_or_ok() {
    local type
    type=$(grep -i '^content-type:' "$WORK/$1.h" | tr -d '\r' | cut -d' ' -f2-)
    [[ $type == application/problem+json* || ($2 == 200 && $type == application/json*) ]] \
        || { info "$1: status $2, content-type '$type'"; return 1; }
}
code=$(raw_request badline 'GET /he llo/ HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n')
check "invalid request line -> $code problem+json" bash -c '[[ $1 == 400 ]] && grep -qi "^content-type: application/problem+json" "$3" && grep -q "\"code\":\"bad_request\"" "$2"' _ "$code" "$WORK/badline.b" "$WORK/badline.h"
code=$(raw_request badvalue 'GET /health/ HTTP/1.1\r\nHost: {HOST}\r\nX-Odd: a\x01b\r\nConnection: close\r\n\r\n')
check "control character in a header value -> $code, JSON" problem_or_ok badvalue "$code"
code=$(raw_request badname 'GET /health/ HTTP/1.1\r\nHost: {HOST}\r\nBad(Name): x\r\nConnection: close\r\n\r\n')
check "invalid header name -> $code, JSON" problem_or_ok badname "$code"
code=$(raw_request badfold 'GET /health/ HTTP/1.1\r\nHost: {HOST}\r\nX-Fold: a\r\n b\r\nConnection: close\r\n\r\n')
check "obsolete header folding -> $code, JSON" problem_or_ok badfold "$code"
longuri=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(fetch longuri --http1.1 "$BASE/api/v1/products/?q=$longuri")
check "URI too long -> $code problem+json" bash -c '[[ $1 == 414 ]] && grep -q "\"status\":414" "$2"' _ "$code" "$WORK/longuri.b"
bigheader=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(fetch bigheader --http1.1 -H "X-Big: $bigheader" "$BASE/health/")
check "headers too large -> $code problem+json" bash -c '[[ $1 == 431 ]] && grep -q "\"status\":431" "$2"' _ "$code" "$WORK/bigheader.b"
check "414 and 431 are typed application/problem+json" bash -c 'grep -qi "^content-type: application/problem+json" "$1" && grep -qi "^content-type: application/problem+json" "$2"' _ "$WORK/longuri.h" "$WORK/bigheader.h"
check "400s: security headers once each" headers_once badline

step "graceful shutdown and upstream failure"
kill -TERM "$GUNICORN_PID"
stopped=0
for ((i = 0; i < 60; i++)); do
    kill -0 "$GUNICORN_PID" 2>/dev/null || { stopped=1; break; }
    sleep 0.25
done
rc=0
wait "$GUNICORN_PID" || rc=$?
check "Gunicorn stops cleanly on SIGTERM (exit $rc)" test "$stopped$rc" = 10
GUNICORN_PID=""
code=$(fetch down -H "Origin: $ORIGIN" "$BASE/api/v1/schema/")
check "app down -> 503 problem+json from nginx" bash -c '[[ $1 == 503 ]] && grep -q "\"code\":\"service_unavailable\"" "$2"' _ "$code" "$WORK/down.b"
check "503: security headers once each" headers_once down
check "503 from nginx carries CORS headers for the browser app" cors down

# ----------------------------------------------------------------------------------------
step "backup and restore drill"
export BACKUP_DIR=$WORK/backups
archive=$(bash scripts/backup.sh backup --keep 3)
check "backup written: $(basename "$archive")" test -s "$archive"
check "archive verifies (pg_restore --list)" bash scripts/backup.sh verify "$archive"
head -c 2000 "$archive" >"$WORK/backups/truncated.dump"
check "a truncated archive fails verification" bash -c '! bash scripts/backup.sh verify "$1" 2>/dev/null' _ "$WORK/backups/truncated.dump"
drill_db="nexus_restore_drill_$$"
SCRATCH_DBS+=("$drill_db")
PGOPTIONS=--client-min-messages=warning psql "$(db_url postgres)" -qc "DROP DATABASE IF EXISTS \"$drill_db\"" -c "CREATE DATABASE \"$drill_db\"" >/dev/null
drill_url=$(db_url "$drill_db")
check "restore refuses a bad archive before touching the database" \
    bash -c '! bash scripts/backup.sh restore "$1" --target-url "$2" --yes 2>/dev/null' _ "$WORK/backups/truncated.dump" "$drill_url"
check "restore into a scratch database" bash scripts/backup.sh restore "$archive" --target-url "$drill_url" --yes
row_counts() {
    psql "$1" -qAtc "SELECT table_name, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text
                     FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"
}
row_counts "$DATABASE_URL" >"$WORK/counts-source.txt"
row_counts "$drill_url" >"$WORK/counts-restored.txt"
info "$(wc -l <"$WORK/counts-source.txt") tables, $(awk -F'|' '{s += $2} END {print s}' "$WORK/counts-source.txt") rows in the source"
check "restored row counts equal the source's, table by table" diff -u "$WORK/counts-source.txt" "$WORK/counts-restored.txt"
for ((i = 0; i < 4; i++)); do
    sleep 1
    bash scripts/backup.sh backup --keep 3 >/dev/null 2>&1
done
check "retention keeps the newest 3 archives" test "$(find "$WORK/backups" -name 'nexus-*.dump' | wc -l)" = 3
PGOPTIONS=--client-min-messages=warning psql "$(db_url postgres)" -qc "DROP DATABASE IF EXISTS \"$drill_db\"" >/dev/null
SCRATCH_DBS=()

# ----------------------------------------------------------------------------------------
step "container and Compose files (static)"
check "compose files and .env.prod.example pass scripts/check_compose.py" \
    "$PYTHON" scripts/check_compose.py
# `config` needs no engine. It runs on copies in a scratch dir where .env.prod is the example
# (the real one is never in the repository).
COMPOSE_DIR=$WORK/compose
mkdir -p "$COMPOSE_DIR"
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
    cp docker-compose.production.yml docker-compose.yml "$COMPOSE_DIR/"
elif command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
    # v1 predates the top-level `name` key; everything else is validated as written.
    for file in docker-compose.production.yml docker-compose.yml; do
        grep -v '^name:' "$file" >"$COMPOSE_DIR/$file"
    done
else
    COMPOSE=()
    info "neither the docker compose plugin nor docker-compose is installed: YAML checks only"
fi
if [[ ${#COMPOSE[@]} -gt 0 ]]; then
    info "$("${COMPOSE[@]}" version 2>/dev/null | head -n 1)"
    cp .env.prod.example "$COMPOSE_DIR/.env.prod"
    compose_config() { (cd "$COMPOSE_DIR" && "${COMPOSE[@]}" "$@" config -q); }
    check "compose config: production file with the example env" \
        compose_config --env-file .env.prod -f docker-compose.production.yml
    check "compose config: development file" compose_config -f docker-compose.yml
    : >"$COMPOSE_DIR/empty.env"
    check "compose refuses to render production without the secrets" \
        bash -c 'cd "$1" && shift && ! out=$("$@" --env-file empty.env -f docker-compose.production.yml config -q 2>&1) && grep -q "in .env.prod" <<<"$out"' \
        _ "$COMPOSE_DIR" "${COMPOSE[@]}"
fi

step "deploy.sh safety"
refuses() {
    local out
    if out=$(NEXUS_ENV_FILE=$1 bash scripts/deploy.sh status 2>&1 </dev/null); then return 1; fi
    grep -q "$2" <<<"$out" || { info "unexpected: $out"; return 1; }
}
check "deploy.sh refuses to run without the env file" refuses "$WORK/no-such.env" "not found"
check "deploy.sh refuses an env file with CHANGE_ME placeholders" refuses .env.prod.example "CHANGE_ME"
check "deploy.sh help lists every command" bash -c 'out=$(bash scripts/deploy.sh help); for c in init update "ssl DOMAIN" status backup "restore FILE" "logs \[SERVICE\]" help; do grep -q "deploy.sh $c" <<<"$out" || exit 1; done'

step "shell scripts"
for script in scripts/*.sh; do
    check "bash -n $script" bash -n "$script"
done
if command -v shellcheck >/dev/null; then
    check "shellcheck scripts/*.sh scripts/drills/*.sh scripts/containers/*.sh" \
        shellcheck -x -P SCRIPTDIR scripts/*.sh scripts/drills/*.sh scripts/containers/*.sh
else
    info "shellcheck not installed: skipped"
fi

# ----------------------------------------------------------------------------------------
printf '\n== summary: %d passed, %d failed in %ss\n' "$PASSED" "$FAILED" "$((SECONDS - STARTED))"
if [[ $FAILED -gt 0 ]]; then
    printf '   failed: %s\n' "${FAILURES[@]}"
    printf '   logs: set STACK_KEEP_WORK=1 and look in the work dir\n'
    exit 1
fi

#!/usr/bin/env bash
# The CI proof of the containers, for real, with podman: build the Dockerfile, run
# docker-compose.production.yml (and docker-compose.yml) with podman-compose, drive them the
# way scripts/deploy.sh does, and take them down leaving nothing behind.
#
#   sudo bash scripts/container_check.sh        (root: rootful podman, apt-get)
#
# No image registry is reachable from CI, so every image is built here from Debian
# packages: a bookworm minbase made with debootstrap and `podman import` (cached under
# $NEXUS_CI_CACHE, keyed by its recipe), test-only stand-ins for PostgreSQL, Redis and Nginx
# (scripts/containers/*.Containerfile) and the project image on top of that base. The
# compose files keep naming the official images; a generated override changes only image
# names and published ports (scripts/containers/compose_override.py). podman-compose with
# podman 4.3 ignores `condition: service_healthy`, so services start in stages (by
# depends_on depth) and each stage is polled with `podman healthcheck run`.
#
# Optional: NEXUS_CI_CACHE (/var/cache/nexus-ci), CONTAINER_CHECK_TIMEOUT seconds (900),
# CONTAINER_CHECK_KEEP=1 to keep the work dir, NEXUS_CI_DEBIAN_MIRROR, NEXUS_CI_CA_BUNDLE
# (the host's CA bundle, mounted read-only into builds for PyPI). Every step is timed; the
# script fails when any step fails and always takes its stacks down (trap).
# Single quotes around sh -c bodies are deliberate (expanded in the container).
# shellcheck disable=SC2016
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ -z ${CONTAINER_CHECK_TIMEBOXED:-} ]] && command -v timeout >/dev/null; then
    export CONTAINER_CHECK_TIMEBOXED=1
    exec timeout -k 30 "${CONTAINER_CHECK_TIMEOUT:-900}" bash "$0" "$@"
fi
[[ $(id -u) == 0 ]] || { echo "container_check.sh: run as root (rootful podman, apt-get)" >&2; exit 2; }

CACHE_DIR=${NEXUS_CI_CACHE:-/var/cache/nexus-ci}
CA_BUNDLE=${NEXUS_CI_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
PODMAN_COMPOSE_VERSION=1.6.0
PROJECT=nexus-ci
DEV_PROJECT=nexus-ci-dev
DOMAIN=nexus.test
APP_REPLICAS=2
IMAGES=localhost/nexus-ci
APP_IMAGE=$IMAGES/app:latest
POSTGRES_IMAGE=$IMAGES/postgres:15
REDIS_IMAGE=$IMAGES/redis:7
NGINX_IMAGE=$IMAGES/nginx:stand-in
APT_PACKAGES=(podman buildah runc debootstrap netavark aardvark-dns iptables openssl curl)

STARTED=$SECONDS
PASSED=0
FAILED=0
FAILURES=()
STEP_NAMES=()
STEP_TIMES=()
STEP_RESULTS=()
CURRENT_STEP=""
STEP_STARTED=0
STEP_FAILED_BEFORE=0
IMAGE_SIZE=""
WORK=""
STARTED_PROJECTS=()

# ----------------------------------------------------------------------------------------
# Output, timing, checks

end_step() {
    [[ -n $CURRENT_STEP ]] || return 0
    local result=ok
    [[ $FAILED -gt $STEP_FAILED_BEFORE || ${1:-} == fatal ]] && result=FAIL
    STEP_NAMES+=("$CURRENT_STEP")
    STEP_TIMES+=("$((SECONDS - STEP_STARTED))")
    STEP_RESULTS+=("$result")
    printf '   -- %s: %ss\n' "$result" "$((SECONDS - STEP_STARTED))"
    CURRENT_STEP=""
}
step() {
    end_step
    CURRENT_STEP=$*
    STEP_STARTED=$SECONDS
    STEP_FAILED_BEFORE=$FAILED
    printf '\n== %s (at %ss)\n' "$*" "$((SECONDS - STARTED))"
}
info() { printf '   %s\n' "$*"; }
pass() { PASSED=$((PASSED + 1)); printf '   ok    %s\n' "$*"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$*"); printf '   FAIL  %s\n' "$*"; }
fatal() {
    FAILED=$((FAILED + 1))
    FAILURES+=("$CURRENT_STEP: $*")
    printf '\nFATAL: %s\n' "$*" >&2
    end_step fatal
    exit 1
}
# check NAME COMMAND...: pass when the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
# logged LOGNAME COMMAND...: output to $WORK/LOGNAME.log; its tail on failure.
logged() {
    local log=$WORK/$1.log
    shift
    local rc=0
    "$@" >>"$log" 2>&1 || rc=$?
    [[ $rc == 0 ]] || tail -n 40 "$log" | sed 's/^/   | /' >&2
    return "$rc"
}

# ----------------------------------------------------------------------------------------
# podman and podman-compose

# pip install --target (no venv: ensurepip alone took half a minute on a busy machine);
# two launchers put it on PYTHONPATH.
COMPOSE_DIR=$CACHE_DIR/podman-compose-$PODMAN_COMPOSE_VERSION
PODMAN_COMPOSE=$COMPOSE_DIR/podman-compose
COMPOSE_PYTHON=$COMPOSE_DIR/python

# The production stack runs from a copy of the compose file, nginx/ and scripts/ in $STACK
# with a generated .env.prod beside it: a real .env.prod in the checkout is never touched.
# Docker Compose activates a service's profile when it is named in `run`; podman-compose
# wants --profile, so `run` gets the tools profile (deploy.sh runs certbot and backup so).
tools_profile() { [[ $1 == run ]] && echo --profile tools; true; }
prod_compose() {
    local profile
    profile=$(tools_profile "$@")
    # shellcheck disable=SC2086 # empty or two words
    (cd "$STACK" && "$PODMAN_COMPOSE" --env-file .env.prod -f docker-compose.production.yml \
        -f "$WORK/prod.override.yml" -p "$PROJECT" $profile "$@")
}
# The development stack runs from the checkout itself (its app bind-mounts the code).
dev_compose() {
    "$PODMAN_COMPOSE" -f "$ROOT/docker-compose.yml" -f "$WORK/dev.override.yml" -p "$DEV_PROJECT" "$@"
}

# One of scripts/deploy.sh's own functions, run as deploy.sh runs it, with `docker` played by
# podman and `docker compose` by podman-compose with the override (in a subshell: deploy.sh
# sets its own options and helpers).
deploy_sh() {
    (
        # shellcheck source=scripts/deploy.sh
        source "$STACK/scripts/deploy.sh"
        # shellcheck disable=SC2317 # called by deploy.sh's functions
        docker() {
            if [[ $1 != compose ]]; then
                podman "$@"
                return
            fi
            shift
            local globals=()
            while [[ $# -gt 1 && ($1 == --env-file || $1 == -f || $1 == -p) ]]; do
                globals+=("$1" "$2")
                shift 2
            done
            # shellcheck disable=SC2046 # empty or two words
            "$PODMAN_COMPOSE" "${globals[@]}" -f "$WORK/prod.override.yml" -p "$PROJECT" $(tools_profile "$@") "$@"
        }
        "$@"
    )
}

# Containers of a compose project (optionally of one service), running or not.
project_containers() {
    local filters=(--filter "label=io.podman.compose.project=$1")
    [[ -n ${2:-} ]] && filters+=(--filter "label=com.docker.compose.service=$2")
    podman ps -a "${filters[@]}" --format '{{.Names}}' | sort
}

# wait_healthy PROJECT TIMEOUT SERVICE...: every container of the services running, and
# healthy where it has a health check (`podman healthcheck run`: nothing else runs them).
wait_healthy() {
    local project=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout)) service names name state
    for service in "$@"; do
        names=$(project_containers "$project" "$service")
        [[ -n $names ]] || { info "$service: no container"; return 1; }
        for name in $names; do
            while true; do
                state=$(podman inspect --format '{{.State.Status}}' "$name")
                if [[ $state == exited || $state == dead ]]; then
                    info "$name is $state:"
                    podman logs --tail 30 "$name" 2>&1 | sed 's/^/   | /'
                    return 1
                fi
                if [[ $state == running ]]; then
                    if [[ -z $(podman inspect --format '{{if .Config.Healthcheck}}yes{{end}}' "$name") ]]; then
                        info "$name running (no health check)"
                        break
                    fi
                    if podman healthcheck run "$name" >/dev/null 2>&1; then
                        info "$name healthy after $((SECONDS - STEP_STARTED))s"
                        break
                    fi
                fi
                if ((SECONDS >= deadline)); then
                    info "$name not healthy in ${timeout}s (state $state):"
                    podman logs --tail 30 "$name" 2>&1 | sed 's/^/   | /'
                    return 1
                fi
                sleep 1
            done
        done
    done
}

# start_stages COMPOSE-FUNCTION PROJECT STAGES-FILE FIRST LAST: `up -d --no-deps` stage by
# stage (lines FIRST..LAST of the stages file), each healthy before the next starts.
start_stages() {
    local compose=$1 project=$2 file=$3 first=$4 last=$5 line stages services
    mapfile -t stages <"$file"
    for ((line = first; line <= last; line++)); do
        read -r -a services <<<"${stages[line - 1]}"
        info "stage $line: ${services[*]}"
        logged "$project-up" "$compose" up -d --no-deps "${services[@]}" </dev/null || return 1
        wait_healthy "$project" 180 "${services[@]}" </dev/null || return 1
    done
}

stage_count() { wc -l <"$1" | tr -d ' '; }
has_service() { tr ' ' '\n' <"$1" | grep -qx -- "$2"; }

# take_down COMPOSE-FUNCTION PROJECT: `down -v` (tools profile included), then report what
# is left of the project: containers, pods, volumes, networks.
leftovers() {
    local project=$1
    {
        podman ps -a --filter "label=io.podman.compose.project=$project" --format 'container {{.Names}}'
        podman pod ps --filter "name=pod_$project" --format 'pod {{.Name}}'
        podman volume ls --format 'volume {{.Name}}' | grep -E "^volume ${project}_" || true
        podman network ls --format 'network {{.Name}}' | grep -E "^network ${project}_" || true
    } | sort
}

# Last resort for the trap: remove whatever a failed run left of a project.
force_remove() {
    local project=$1 kind name
    while read -r kind name; do
        case $kind in
            container) podman rm -f -t 5 "$name" ;;
            pod) podman pod rm -f "$name" ;;
            volume) podman volume rm -f "$name" ;;
            network) podman network rm -f "$name" ;;
        esac
    done < <(leftovers "$project") >/dev/null 2>&1
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT
    if [[ -n $CURRENT_STEP ]]; then
        [[ $rc != 0 && ${#FAILURES[@]} == 0 ]] && { FAILED=$((FAILED + 1)); FAILURES+=("$CURRENT_STEP: exit status $rc"); }
        end_step "$([[ $rc != 0 ]] && echo fatal)"
    fi
    local project
    for project in "${STARTED_PROJECTS[@]}"; do
        if [[ -n $(leftovers "$project") ]]; then
            printf '\n== cleanup: taking %s down\n' "$project"
            if [[ $project == "$PROJECT" ]]; then
                prod_compose --profile tools down -v -t 10 >/dev/null 2>&1
            else
                dev_compose down -v -t 10 >/dev/null 2>&1
            fi
            force_remove "$project"
        fi
    done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ ${CONTAINER_CHECK_KEEP:-0} == 1 ]]; then
            echo "work dir kept: $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    printf '\n== step times\n'
    local i
    for i in "${!STEP_NAMES[@]}"; do
        printf '   %5ss  %-4s  %s\n' "${STEP_TIMES[$i]}" "${STEP_RESULTS[$i]}" "${STEP_NAMES[$i]}"
    done
    [[ -n $IMAGE_SIZE ]] && printf '   image %s: %s\n' "$APP_IMAGE" "$IMAGE_SIZE"
    printf '\n== summary: %d passed, %d failed in %ss\n' "$PASSED" "$FAILED" "$((SECONDS - STARTED))"
    if [[ $FAILED -gt 0 ]]; then
        printf '   failed: %s\n' "${FAILURES[@]}"
        printf '   logs: CONTAINER_CHECK_KEEP=1 keeps the work dir\n'
        [[ $rc == 0 ]] && rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ----------------------------------------------------------------------------------------
step "tools: podman, buildah, runc, debootstrap (apt), podman-compose $PODMAN_COMPOSE_VERSION (pip)"
missing=()
for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [[ ${#missing[@]} -gt 0 ]]; then
    info "apt-get install ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null 2>&1 || fatal "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || fatal "apt-get install ${missing[*]} failed"
fi
mkdir -p "$CACHE_DIR"
if [[ ! -x $PODMAN_COMPOSE ]] || ! "$PODMAN_COMPOSE" --version 2>/dev/null | grep -q "$PODMAN_COMPOSE_VERSION"; then
    info "pip install podman-compose==$PODMAN_COMPOSE_VERSION into $COMPOSE_DIR"
    rm -rf "$COMPOSE_DIR"
    python3 -m pip install -q --disable-pip-version-check --target "$COMPOSE_DIR/lib" \
        "podman-compose==$PODMAN_COMPOSE_VERSION" 2>&1 | grep -v '^WARNING: Location' \
        || [[ -f $COMPOSE_DIR/lib/podman_compose.py ]] || fatal "pip install podman-compose failed"
    printf '#!/bin/sh\nPYTHONPATH=%s exec %s "$@"\n' "$COMPOSE_DIR/lib" "$(command -v python3)" >"$COMPOSE_PYTHON"
    printf '#!/bin/sh\nexec %s -m podman_compose "$@"\n' "$COMPOSE_PYTHON" >"$PODMAN_COMPOSE"
    chmod +x "$COMPOSE_PYTHON" "$PODMAN_COMPOSE"
fi
# crun refuses this machine's hybrid cgroups: runc. Default ulimits inside the hard limits
# of CI machines (podman's defaults exceed them). cgroupfs: there is no systemd.
cat >"$CACHE_DIR/containers.conf" <<'CONF'
# Written by scripts/container_check.sh (CONTAINERS_CONF); not used by anything else.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_backend = "netavark"
CONF
export CONTAINERS_CONF=$CACHE_DIR/containers.conf
info "$(podman --version), $(buildah --version | cut -d' ' -f1-3), $(runc --version | head -n 1), $("$PODMAN_COMPOSE" --version 2>/dev/null | grep -i 'podman-compose version' | head -n 1)"
[[ -r $CA_BUNDLE ]] || fatal "no CA bundle at $CA_BUNDLE (NEXUS_CI_CA_BUNDLE)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nexus-containers.XXXXXX")
STACK=$WORK/stack

# ----------------------------------------------------------------------------------------
# The base image: Debian bookworm minbase with python3 and venv. Its recipe is this
# function plus the variables it reads; the cache key is their hash.
BASE_SUITE=bookworm
BASE_MIRROR=${NEXUS_CI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=python3,python3-venv,python-is-python3,ca-certificates
make_base_rootfs() {
    local dir=$1
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$BASE_SUITE" "$dir" "$BASE_MIRROR"
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://deb.debian.org/debian-security %s-security main\n' \
        "$BASE_MIRROR" "$BASE_SUITE" "$BASE_MIRROR" "$BASE_SUITE" "$BASE_SUITE" >"$dir/etc/apt/sources.list"
    # Like Debian's slim images: later installs bring no documentation or translations.
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' >"$dir/etc/dpkg/dpkg.cfg.d/nexus-slim"
    # As in Debian's own container images: no fsync per unpacked file (a build either
    # finishes or is thrown away).
    echo force-unsafe-io >"$dir/etc/dpkg/dpkg.cfg.d/nexus-unsafe-io"
    find "$dir/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/* \
        "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log \
        "$dir/etc/hostname" "$dir/etc/resolv.conf"
}
BASE_KEY=$(printf '%s\n' "$(declare -f make_base_rootfs)" "$BASE_SUITE" "$BASE_MIRROR" "$BASE_PACKAGES" | sha256sum | cut -c1-16)
BASE_IMAGE=$IMAGES/base:bookworm-$BASE_KEY
BASE_TAR=$CACHE_DIR/base-bookworm-$BASE_KEY.tar

step "base image: debootstrap bookworm minbase + podman import"
if podman image exists "$BASE_IMAGE"; then
    info "$BASE_IMAGE present"
else
    if [[ -s $BASE_TAR ]]; then
        info "cached rootfs $BASE_TAR"
    else
        info "debootstrap $BASE_SUITE ($BASE_PACKAGES) from $BASE_MIRROR"
        rootfs=$WORK/rootfs
        logged debootstrap make_base_rootfs "$rootfs" || fatal "debootstrap failed"
        tar -C "$rootfs" --numeric-owner -cf "$BASE_TAR.partial" . && mv "$BASE_TAR.partial" "$BASE_TAR"
        rm -rf "$rootfs"
        # Older recipes' tarballs are dead weight.
        find "$CACHE_DIR" -maxdepth 1 -name 'base-*.tar' ! -name "$(basename "$BASE_TAR")" -delete
    fi
    logged import podman import --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["bash"]' "$BASE_TAR" "$BASE_IMAGE" || fatal "podman import failed"
fi
info "$BASE_IMAGE: $(podman image inspect --format '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')"

# ----------------------------------------------------------------------------------------
step "images: the project image and the stand-ins (built side by side)"
# --format docker keeps HEALTHCHECK (OCI has no such field); --network host and the host's
# CA bundle let apt and pip reach Debian's mirrors and PyPI from inside the build.
build() {
    local name=$1
    shift
    local began=$SECONDS rc=0
    podman build --format docker --network host -v "$CA_BUNDLE:/etc/ssl/certs/ca-certificates.crt:ro" \
        --build-arg "BASE_IMAGE=$BASE_IMAGE" "$@" >"$WORK/build-$name.log" 2>&1 || rc=$?
    echo "$((SECONDS - began))" >"$WORK/build-$name.secs"
    return "$rc"
}
declare -A BUILD_PIDS=()
build postgres -t "$POSTGRES_IMAGE" -f scripts/containers/postgres.Containerfile scripts/containers &
BUILD_PIDS[postgres]=$!
build redis -t "$REDIS_IMAGE" -f scripts/containers/redis.Containerfile scripts/containers &
BUILD_PIDS[redis]=$!
build nginx -t "$NGINX_IMAGE" -f scripts/containers/nginx.Containerfile scripts/containers &
BUILD_PIDS[nginx]=$!
build app -t "$APP_IMAGE" -f Dockerfile . &
BUILD_PIDS[app]=$!
build_failed=0
for name in app postgres redis nginx; do
    if wait "${BUILD_PIDS[$name]}"; then
        pass "$name image built in $(cat "$WORK/build-$name.secs")s"
    else
        fail "$name image build"
        tail -n 30 "$WORK/build-$name.log" | sed 's/^/   | /'
        build_failed=1
    fi
done
[[ $build_failed == 0 ]] || fatal "image builds failed"

# ----------------------------------------------------------------------------------------
step "project image: non-root, HEALTHCHECK, size, no wheels or build tools"
user=$(podman image inspect --format '{{.Config.User}}' "$APP_IMAGE")
uid=$(podman run --rm --entrypoint id "$APP_IMAGE" -u 2>/dev/null)
check "runs as a non-root user ($user, uid $uid)" bash -c '[[ -n $1 && $1 != root* && $1 != 0* && $2 =~ ^[0-9]+$ && $2 != 0 ]]' _ "$user" "$uid"
healthcheck=$(podman image inspect "$APP_IMAGE" | "$COMPOSE_PYTHON" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)[0].get("Healthcheck")))')
info "HEALTHCHECK: $healthcheck"
check "HEALTHCHECK present (probes scripts/healthcheck.py)" grep -q 'healthcheck.py' <<<"$healthcheck"
size=$(podman image inspect --format '{{.Size}}' "$APP_IMAGE")
IMAGE_SIZE=$(awk -v s="$size" 'BEGIN {printf "%.0f MB (%d bytes, base %s)", s / 1e6, s, "'"$BASE_IMAGE"'"}')
info "size: $IMAGE_SIZE"
podman history --format '{{.Size}}\t{{.CreatedBy}}' "$APP_IMAGE" | cut -c1-110 | sed 's/^/   | /'
inside=$(podman run --rm --entrypoint sh "$APP_IMAGE" -c '
    test -e /wheels && echo "/wheels exists"
    for tool in gcc cc c++ make ld; do command -v "$tool" >/dev/null && echo "build tool: $tool"; done
    for pkg in build-essential gcc libpq-dev; do
        dpkg-query -W -f "\${Status}" "$pkg" 2>/dev/null | grep -q "install ok" && echo "package: $pkg"
    done
    python -c "import django, rest_framework, psycopg, gunicorn" || echo "runtime imports fail"
    true' 2>/dev/null)
check "no /wheels, no compiler or -dev packages; the venv imports" test -z "$inside"
[[ -z $inside ]] || info "$inside"
check "no layer was made from /wheels" bash -c '! podman history --no-trunc --format "{{.CreatedBy}}" "$1" | grep -q /wheels' _ "$APP_IMAGE"

# ----------------------------------------------------------------------------------------
step "production stack: env, override, stage 1 (services nothing depends on before them)"
STARTED_PROJECTS+=("$PROJECT")
force_remove "$PROJECT" # a previous run killed too hard
mkdir -p "$STACK"
cp -r docker-compose.production.yml nginx scripts "$STACK/"
{
    sed -e '/^[A-Z_]*=/!d' -e '/^\(NEXUS_DOMAIN\|APP_REPLICAS\|GUNICORN_WORKERS\|BACKUP_KEEP\)=/d' \
        -e '/CHANGE_ME/d' .env.prod.example
    echo "NEXUS_DOMAIN=$DOMAIN"
    echo "APP_REPLICAS=$APP_REPLICAS"
    echo "GUNICORN_WORKERS=2"
    echo "BACKUP_KEEP=3"
    for key in DJANGO_SECRET_KEY JWT_SIGNING_KEY POSTGRES_PASSWORD REDIS_PASSWORD EMAIL_HOST_USER EMAIL_HOST_PASSWORD; do
        echo "$key=$(openssl rand -hex 24)"
    done
    # Mail goes to the container log: no SMTP server in CI.
    echo "DJANGO_EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend"
} >"$STACK/.env.prod"
chmod 600 "$STACK/.env.prod"
(cd "$STACK" && "$PODMAN_COMPOSE" --env-file .env.prod -f docker-compose.production.yml --profile tools config) \
    >"$WORK/prod.config.yml" 2>"$WORK/prod.config.err" || { cat "$WORK/prod.config.err"; fatal "podman-compose config failed"; }
"$COMPOSE_PYTHON" scripts/containers/compose_override.py "$WORK/prod.config.yml" \
    --image "app=$APP_IMAGE" --image "postgres=$POSTGRES_IMAGE" --image "redis=$REDIS_IMAGE" \
    --image "nginx=$NGINX_IMAGE" --image "certbot=$BASE_IMAGE" \
    --override "$WORK/prod.override.yml" --stages "$WORK/prod.stages" --ports "$WORK/prod.ports" \
    || fatal "no override"
sed 's/^/   | /' "$WORK/prod.override.yml"
info "stages: $(paste -sd'|' "$WORK/prod.stages" | sed 's/|/ -> /g')"
HTTPS_PORT=$(awk '$1 == "nginx" && $2 == 443 {print $3}' "$WORK/prod.ports")
[[ -n $HTTPS_PORT ]] || fatal "nginx publishes no 443"
prod_compose config >/dev/null 2>"$WORK/prod.config.err" || { cat "$WORK/prod.config.err"; fatal "the override does not merge"; }
# The app's stage waits for the deploy steps; whatever comes before it starts now.
app_stage=$(grep -nw app "$WORK/prod.stages" | cut -d: -f1)
[[ -n $app_stage && $app_stage -gt 1 ]] || fatal "app is not after a stage of its own dependencies"
start_stages prod_compose "$PROJECT" "$WORK/prod.stages" 1 $((app_stage - 1)) || fatal "stage failed"

# ----------------------------------------------------------------------------------------
step "deploy.sh's own steps: migrate, collectstatic, no default user"
logged deploy deploy_sh manage migrate --noinput || fatal "deploy.sh: migrate failed"
pass "manage migrate --noinput (deploy.sh's manage: compose run --rm --no-deps -T app)"
logged deploy deploy_sh manage collectstatic --noinput || fatal "deploy.sh: collectstatic failed"
pass "manage collectstatic --noinput into the static volume: $(grep -o '[0-9]* static files* copied[^.]*' "$WORK/deploy.log" | tail -n 1)"
superuser_log=$(deploy_sh ensure_superuser </dev/null 2>&1 | tail -n 1)
info "ensure_superuser: $superuser_log"
users=$(deploy_sh manage shell -c 'from django.contrib.auth import get_user_model as g; print(g().objects.count())' 2>>"$WORK/deploy.log" | tail -n 1)
check "no user exists after the deploy steps (none is created with a default password)" test "$users" = 0
# Test data for the order flow: products only (--no-users), never an account.
logged deploy deploy_sh manage seed_database --products 8 --customers 0 --no-users || fatal "seed failed"
info "seeded 8 products"

step "TLS: a self-signed certificate in the letsencrypt volume, as deploy.sh ssl bootstraps it"
mkdir -p "$WORK/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$DOMAIN" -addext "subjectAltName=DNS:$DOMAIN" \
    -keyout "$WORK/tls/privkey.pem" -out "$WORK/tls/fullchain.pem" >/dev/null 2>&1
live=/etc/letsencrypt/live/$DOMAIN
logged tls prod_compose run --rm --no-deps -v "$WORK/tls:/bootstrap:ro" --entrypoint sh certbot \
    -c "mkdir -p $live && cp /bootstrap/fullchain.pem /bootstrap/privkey.pem $live/" || fatal "placing the certificate failed"
check "deploy.sh cert_exists $DOMAIN" deploy_sh cert_exists "$DOMAIN"

step "production stack: the app ($APP_REPLICAS replicas) and the stages after it"
start_stages prod_compose "$PROJECT" "$WORK/prod.stages" "$app_stage" "$(stage_count "$WORK/prod.stages")" || fatal "stage failed"
mapfile -t app_containers < <(project_containers "$PROJECT" app)
check "$APP_REPLICAS app replicas (deploy.mode: replicated): ${app_containers[*]}" test "${#app_containers[@]}" = "$APP_REPLICAS"

# ----------------------------------------------------------------------------------------
BASE_URL=https://$DOMAIN:$HTTPS_PORT
# The certificate is verified: the one placed in the volume is the one Nginx serves.
CURL=(curl -sS --max-time 20 --cacert "$WORK/tls/fullchain.pem" --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1")
PY=python3
# api NAME METHOD PATH [JSON] [TOKEN]: status to stdout; headers, body in $WORK/NAME.{h,b}.
api() {
    local name=$1 method=$2 path=$3 body=${4:-} token=${5:-}
    local args=(-X "$method" -H 'Accept: application/json')
    [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
    [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
    "${CURL[@]}" "${args[@]}" -D "$WORK/$name.h" -o "$WORK/$name.b" -w '%{http_code}' "$BASE_URL$path" || true
}
# json NAME EXPR: EXPR evaluated on the body of NAME as `d`.
json() { "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/$1.b" "$2"; }
header() { grep -i "^$2:" "$WORK/$1.h" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }
expect() { [[ $2 == "$3" ]] || { info "$1: expected $3, got $2: $(head -c 300 "$WORK/$1.b" 2>/dev/null)"; return 1; }; }

step "through Nginx over TLS: readiness, schema, static files"
code=$(api ready GET /health/ready/)
check "GET /health/ready/ -> 200" expect ready "$code" 200
check "readiness: database and cache ok ($(head -c 200 "$WORK/ready.b"))" \
    test "$(json ready '(d["checks"]["database"], d["checks"]["cache"])' 2>/dev/null)" = "('ok', 'ok')"
check "TLS: the certificate from the volume verifies for $DOMAIN" test "$code" != 000
code=$("${CURL[@]}" -o /dev/null -w '%{http_version}' "$BASE_URL/health/" || true)
check "HTTP/2 negotiated" test "$code" = 2
code=$(api schema GET '/api/v1/schema/?format=json')
check "GET /api/v1/schema/ -> 200" expect schema "$code" 200
check "the schema is OpenAPI 3 with the orders endpoint" test "$(json schema 'd["openapi"][:2] + str("/api/v1/orders/" in d["paths"])')" = "3.True"
static_path=$(prod_compose exec -T nginx sh -c 'cd /srv/static && find . -name "*.css" -type f | sort | head -n 1' 2>/dev/null | tr -d '\r')
static_path=/static/${static_path#./}
code=$(api static GET "$static_path")
check "GET $static_path (from the static volume) -> 200" expect static "$code" 200
check "static: Content-Type text/css" bash -c '[[ $1 == text/css* ]]' _ "$(header static content-type)"
check "static: Cache-Control max-age=86400 (expires 1d)" test "$(header static cache-control)" = max-age=86400
check "static: X-Content-Type-Options nosniff" test "$(header static x-content-type-options)" = nosniff
check "static: Strict-Transport-Security" bash -c '[[ $1 == max-age=* ]]' _ "$(header static strict-transport-security)"
check "static: Content-Security-Policy from Nginx" bash -c '[[ $1 == *"default-src '"'"'none'"'"'"* ]]' _ "$(header static content-security-policy)"

step "through Nginx over TLS: register -> cart -> order"
email="buyer-$$-$RANDOM@example.com"
password="Cc-$(openssl rand -hex 12)"
code=$(api register POST /api/v1/auth/register/ "{\"email\":\"$email\",\"password\":\"$password\",\"password_confirm\":\"$password\"}")
check "register -> 201" expect register "$code" 201
token=$(json register 'd["access"]' 2>/dev/null || true)
code=$(api products GET '/api/v1/products/?in_stock=true&ordering=price')
check "products -> 200" expect products "$code" 200
product=$(json products 'd["results"][0]["id"]' 2>/dev/null || true)
# By variant: the seed gives some products several (a bare `product` is then a 400
# variant_required); the first active variant with two in stock is bought.
pick='[v for v in d["results"][0]["variants"] if v["is_active"] and v["stock_quantity"] >= 2][0]'
variant=$(json products "${pick}[\"id\"]" 2>/dev/null || true)
price=$(json products "${pick}[\"price\"]" 2>/dev/null || true)
stock=$(json products 'd["results"][0]["stock_quantity"]' 2>/dev/null || true)
info "product $product, variant $variant at $price, product stock $stock"
code=$(api cart_add POST /api/v1/cart/ "{\"variant\":$variant,\"quantity\":2}" "$token")
check "cart add 2 x variant $variant of product $product -> 201" expect cart_add "$code" 201
code=$(api cart GET /api/v1/cart/ "" "$token")
check "cart holds 2 items" test "$(json cart 'd["total_items"]' 2>/dev/null)" = 2
address='{"full_name":"CI Buyer","street":"1 Test Street","city":"Berlin","postal_code":"10115","country":"DE","phone_number":"+4930123456"}'
# bank_transfer: card payments need a Stripe key (none in CI), bank transfers are recorded by staff.
order_body="{\"shipping_address\":$address,\"payment_method\":\"bank_transfer\"}"
"${CURL[@]}" -H "Idempotency-Key: cc-$$-order" -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    --data "$order_body" -D "$WORK/order.h" -o "$WORK/order.b" -w '%{http_code}' "$BASE_URL/api/v1/orders/" >"$WORK/order.code" || true
check "order -> 201" expect order "$(cat "$WORK/order.code")" 201
info "order $(json order 'd.get("number")' 2>/dev/null), status $(json order 'd.get("status")' 2>/dev/null), total $(json order 'd.get("total")' 2>/dev/null)"
check "order: 1 line of 2 at $price" test "$(json order '[(i["quantity"], i["unit_price"]) for i in d["items"]]' 2>/dev/null)" = "[(2, '$price')]"
check "order: subtotal = 2 x price" "$PY" -c 'import sys, decimal; sys.exit(decimal.Decimal(sys.argv[1]) != 2 * decimal.Decimal(sys.argv[2]))' \
    "$(json order 'd["subtotal"]' 2>/dev/null)" "$price"
code=$(api orders GET /api/v1/orders/ "" "$token")
check "the buyer's order list has it" test "$(json orders 'd["count"]' 2>/dev/null)" = 1
code=$(api cart_after GET /api/v1/cart/ "" "$token")
check "the cart is empty after the order" test "$(json cart_after 'd["total_items"]' 2>/dev/null)" = 0
code=$(api product_after GET "/api/v1/products/$product/")
check "stock went down by 2" test "$(json product_after 'd["stock_quantity"]' 2>/dev/null)" = "$((stock - 2))"

step "two app replicas both serve"
for ((i = 0; i < 16; i++)); do
    "${CURL[@]}" -o /dev/null -H "X-Request-ID: replica-probe-$$-$i" "$BASE_URL/health/ready/" || true
done
for container in "${app_containers[@]}"; do
    served=$(podman logs "$container" 2>&1 | grep -c "rid=replica-probe-$$-" || true)
    check "$container answered $served of 16 requests (its own Gunicorn access log)" test "$served" -gt 0
done

step "background work: Celery worker and beat (when the compose file defines them)"
if has_service "$WORK/prod.stages" worker; then
    # Up to four tries, 5 s apart: podman's aardvark-dns drops queries while it reloads (it
    # tears its sockets down on every SIGHUP, containers/aardvark-dns#389), and one CI run
    # failed on "Temporary failure in name resolution" for broker. A worker that never
    # answers still fails; a try that needed a retry is reported with its error.
    for ((attempt = 1; attempt <= 4; attempt++)); do
        ping=$(prod_compose exec -T worker celery -A nexus inspect ping --timeout 10 2>&1 || true)
        [[ $ping == *pong* ]] && break
        info "ping try $attempt: $(tail -n 1 <<<"$ping")"
        info "broker resolves in the worker as: $(prod_compose exec -T worker getent hosts broker 2>&1 || echo 'nothing')"
        ((attempt < 4)) && sleep 5
    done
    check "worker: celery -A nexus inspect ping answers (try $((attempt > 4 ? 4 : attempt)) of 4)" grep -q pong <<<"$ping"
else
    info "no worker service in docker-compose.production.yml: skipped"
fi
if has_service "$WORK/prod.stages" beat; then
    mapfile -t beat_containers < <(project_containers "$PROJECT" beat)
    check "beat: exactly one container (${beat_containers[*]})" test "${#beat_containers[@]}" = 1
    check "beat: started its scheduler (log)" bash -c 'podman logs "$1" 2>&1 | grep -qi "beat.*starting"' _ "${beat_containers[0]:-none}"
    # Exactly one scheduler in the stack: no other container runs beat (`beat`, or a worker
    # started with -B/--beat), judged from each container's configured command line.
    schedulers=()
    while read -r container; do
        command_line=$(podman inspect --format '{{.Config.Entrypoint}} {{.Config.Cmd}}' "$container")
        [[ $command_line =~ celery.*([[:space:]]beat([[:space:]]|$)|[[:space:]]-B|--beat) ]] && schedulers+=("$container")
    done < <(podman ps --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}')
    check "exactly one Celery scheduler running in the stack (${schedulers[*]})" test "${#schedulers[@]}" = 1
else
    info "no beat service in docker-compose.production.yml: skipped"
fi

step "backup with the tools profile (deploy.sh backup) and its verification"
logged backup deploy_sh cmd_backup || fatal "deploy.sh backup failed"
archive=$(find "$STACK/backups" -name 'nexus-*.dump' | sort | tail -n 1)
check "archive on the host: ${archive#"$WORK"/}" test -s "$archive"
check "verified in the backup container (pg_restore --list)" \
    logged backup prod_compose run --rm -T backup verify "/backups/$(basename "$archive")"
# The order placed above is in it (read back with the backup image's own pg_restore).
order_number=$(json order 'd["number"]' 2>/dev/null || echo none)
archive_has() {
    prod_compose run --rm -T --entrypoint pg_restore backup --data-only --table=orders_order --file=- \
        "/backups/$1" 2>>"$WORK/backup.log" | grep -q -- "$2"
}
check "the archive holds order $order_number" archive_has "$(basename "$archive")" "$order_number"


step "production stack: down -v leaves nothing behind"
logged "$PROJECT-down" prod_compose --profile tools down -v -t 30 || fail "down -v exited non-zero"
left=$(leftovers "$PROJECT")
check "no container, pod, volume or network of $PROJECT left" test -z "$left"
[[ -z $left ]] || info "$left"

# ----------------------------------------------------------------------------------------
step "development stack (docker-compose.yml): up in stages, healthy"
STARTED_PROJECTS+=("$DEV_PROJECT")
force_remove "$DEV_PROJECT"
"$PODMAN_COMPOSE" -f docker-compose.yml config >"$WORK/dev.config.yml" 2>"$WORK/dev.config.err" \
    || { cat "$WORK/dev.config.err"; fatal "podman-compose config failed"; }
"$COMPOSE_PYTHON" scripts/containers/compose_override.py "$WORK/dev.config.yml" \
    --image "app=$APP_IMAGE" --image "postgres=$POSTGRES_IMAGE" --image "redis=$REDIS_IMAGE" \
    --override "$WORK/dev.override.yml" --stages "$WORK/dev.stages" --ports "$WORK/dev.ports" \
    || fatal "no override"
info "stages: $(paste -sd'|' "$WORK/dev.stages" | sed 's/|/ -> /g'); ports: $(paste -sd, "$WORK/dev.ports")"
DEV_PORT=$(awk '$1 == "app" && $2 == 8000 {print $3}' "$WORK/dev.ports")
start_stages dev_compose "$DEV_PROJECT" "$WORK/dev.stages" 1 "$(stage_count "$WORK/dev.stages")" || fatal "stage failed"

step "development stack: requests"
dev_get() { curl -sS --max-time 20 -o "$WORK/$1.b" -w '%{http_code}' "http://127.0.0.1:$DEV_PORT$2" || true; }
code=$(dev_get dev_ready /health/ready/)
check "GET /health/ready/ -> 200" expect dev_ready "$code" 200
check "readiness: database and cache ok ($(head -c 200 "$WORK/dev_ready.b"))" \
    test "$(json dev_ready '(d["checks"]["database"], d["checks"]["cache"])' 2>/dev/null)" = "('ok', 'ok')"
code=$(dev_get dev_schema '/api/v1/schema/?format=json')
check "GET /api/v1/schema/ -> 200 (runserver, DEBUG, the code bind-mounted)" expect dev_schema "$code" 200
code=$(dev_get dev_products /api/v1/products/)
check "GET /api/v1/products/ -> 200 (migrated database)" expect dev_products "$code" 200

step "development stack: down -v leaves nothing behind"
logged "$DEV_PROJECT-down" dev_compose down -v -t 30 || fail "down -v exited non-zero"
left=$(leftovers "$DEV_PROJECT")
check "no container, pod, volume or network of $DEV_PROJECT left" test -z "$left"
[[ -z $left ]] || info "$left"
end_step

#!/usr/bin/env bash
# Operate the Nexus production stack (docker-compose.production.yml) on one host.
#
#   deploy.sh init             first deployment: build, database, static files, TLS, start,
#                              then the first superuser (interactively)
#   deploy.sh update           back up, build, migrate, collect static, replace app replicas
#                              without downtime, then the Celery worker(s) and beat
#   deploy.sh ssl DOMAIN       obtain (or renew) the Let's Encrypt certificate for DOMAIN
#                              with certbot's webroot method, then reload Nginx
#   deploy.sh renew            renew certificates that are due (run daily from cron)
#   deploy.sh status           containers, health, readiness over HTTPS, Celery workers,
#                              queue length and outbox, latest backups
#   deploy.sh backup           pg_dump -Fc into $BACKUP_HOST_DIR (default ./backups)
#   deploy.sh restore FILE     verify FILE, back up the current database, then restore FILE
#   deploy.sh logs [SERVICE]   follow the logs (all services, or one: app, worker, beat,
#                              nginx, db, redis, broker)
#   deploy.sh help             this text
#
# Reads .env.prod (NEXUS_ENV_FILE to override) and refuses to run without it. Destructive
# steps ask first; NEXUS_ASSUME_YES=1 answers yes for automation (never for the superuser,
# which is only ever created interactively, with a password typed by a person).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ENV_FILE=${NEXUS_ENV_FILE:-.env.prod}
COMPOSE_FILE_PATH=docker-compose.production.yml
REQUIRED_KEYS=(NEXUS_DOMAIN DJANGO_SECRET_KEY JWT_SIGNING_KEY POSTGRES_PASSWORD REDIS_PASSWORD)

log() { printf '\033[1m[deploy]\033[0m %s\n' "$*" >&2; }
die() { printf '[deploy] error: %s\n' "$*" >&2; exit 1; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

confirm() {
    [[ ${NEXUS_ASSUME_YES:-0} == 1 ]] && return 0
    [[ -t 0 ]] || die "$1 -- needs confirmation; run interactively or set NEXUS_ASSUME_YES=1"
    local answer
    read -r -p "$1 [y/N] " answer
    [[ $answer == [yY] || $answer == [yY][eE][sS] ]]
}

# A value from the env file without sourcing it (values may hold shell metacharacters).
env_value() {
    local line
    line=$(grep -E "^$1=" "$ENV_FILE" | tail -n 1 || true)
    line=${line#*=}
    line=${line%\"}
    line=${line#\"}
    printf '%s' "$line"
}

require_env() {
    [[ -f $ENV_FILE ]] || die "$ENV_FILE not found: copy .env.prod.example to $ENV_FILE and fill it in"
    if grep -q 'CHANGE_ME' "$ENV_FILE"; then
        die "$ENV_FILE still holds CHANGE_ME placeholders: $(grep -o '^[A-Z_]*=CHANGE_ME' "$ENV_FILE" | cut -d= -f1 | xargs)"
    fi
    local key
    for key in "${REQUIRED_KEYS[@]}"; do
        [[ -n $(env_value "$key") ]] || die "$ENV_FILE: $key is empty"
    done
    if [[ $(stat -c %a "$ENV_FILE") != 600 && $(stat -c %a "$ENV_FILE") != 400 ]]; then
        log "warning: $ENV_FILE is readable by others; chmod 600 $ENV_FILE"
    fi
    command -v docker >/dev/null || die "docker is not installed"
    docker compose version >/dev/null 2>&1 || die "the docker compose plugin is not installed"
}

compose() { docker compose --env-file "$ENV_FILE" -f "$COMPOSE_FILE_PATH" "$@"; }

# manage.py in a one-off app container (the image's entrypoint is Gunicorn).
manage() { compose run --rm --no-deps -T --entrypoint python app manage.py "$@"; }

backup_dir() {
    local dir
    dir=$(env_value BACKUP_HOST_DIR)
    printf '%s' "${dir:-./backups}"
}

wait_healthy() {
    local deadline=$((SECONDS + ${2:-180})) id status
    for id in $1; do
        while true; do
            status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
            [[ $status == healthy || $status == running ]] && break
            [[ $status == unhealthy || $status == exited || $status == dead ]] && die "container $id is $status: $(docker logs --tail 30 "$id" 2>&1)"
            ((SECONDS < deadline)) || die "container $id not healthy in time (status $status)"
            sleep 2
        done
    done
}

# The first superuser, typed in by a person; never created with a default password.
ensure_superuser() {
    local exists
    exists=$(manage shell -c "from django.contrib.auth import get_user_model as g; print(g().objects.filter(is_superuser=True).exists())" | tail -n 1)
    if [[ $exists == True ]]; then
        log "a superuser exists"
        return 0
    fi
    if [[ ! -t 0 ]]; then
        log "no superuser yet; create one interactively: docker compose --env-file $ENV_FILE -f $COMPOSE_FILE_PATH run --rm --no-deps --entrypoint python app manage.py createsuperuser"
        return 0
    fi
    log "creating the first superuser (you choose the email and password)"
    compose run --rm --no-deps --entrypoint python app manage.py createsuperuser
}

cert_exists() {
    compose run --rm --no-deps --entrypoint sh certbot -c "test -s /etc/letsencrypt/live/$1/fullchain.pem" >/dev/null 2>&1
}

cmd_backup() {
    require_env
    local dir file
    dir=$(backup_dir)
    mkdir -p "$dir"
    chmod 700 "$dir"
    compose up -d --wait db
    file=$(compose run --rm -T backup backup | tail -n 1)
    log "backup written: $dir/$(basename "$file")"
}

cmd_restore() {
    require_env
    local file=${1:-}
    [[ -n $file ]] || die "usage: deploy.sh restore FILE (an archive in $(backup_dir))"
    local dir name
    dir=$(backup_dir)
    name=$(basename "$file")
    [[ -f $dir/$name ]] || die "$name is not in $dir (the backup directory mounted into the backup container)"
    compose up -d --wait db
    # Verify before anything else: a bad archive must not cost us the running database.
    compose run --rm -T backup verify "/backups/$name"
    confirm "Replace the production database with $name? The app is stopped meanwhile" || die "aborted"
    log "safety backup of the current database first"
    compose run --rm -T backup backup >/dev/null
    # Workers and beat write to the database too (outbox, scheduled jobs): stop them as well.
    compose stop app worker beat
    if ! compose run --rm -T -e NEXUS_ASSUME_YES=1 backup restore "/backups/$name"; then
        compose up -d --no-deps app worker beat
        die "restore failed; the database is unchanged (single transaction) and the app restarted"
    fi
    # An archive from an older release may predate some migrations.
    manage migrate --noinput
    compose up -d --no-deps --wait app worker beat
    compose exec nginx nginx -s reload
    log "restored $name"
}

cmd_ssl() {
    require_env
    local domain=${1:-}
    [[ -n $domain ]] || die "usage: deploy.sh ssl DOMAIN"
    [[ $domain == "$(env_value NEXUS_DOMAIN)" ]] || die "DOMAIN must equal NEXUS_DOMAIN in $ENV_FILE ($(env_value NEXUS_DOMAIN))"
    local email staging=()
    email=$(env_value LETSENCRYPT_EMAIL)
    [[ -n $email ]] || die "set LETSENCRYPT_EMAIL in $ENV_FILE"
    [[ ${NEXUS_LE_STAGING:-0} == 1 ]] && staging=(--staging)
    local live=/etc/letsencrypt/live/$domain
    if compose run --rm --no-deps --entrypoint sh certbot -c "test -f /etc/letsencrypt/renewal/$domain.conf" >/dev/null 2>&1; then
        log "a certificate for $domain exists; renewing if due"
        compose run --rm certbot renew --webroot -w /var/www/certbot "${staging[@]}"
        compose exec nginx nginx -s reload
        return 0
    fi
    # Nginx cannot start without a certificate and certbot needs Nginx for the challenge:
    # start on a throwaway self-signed one, then replace it.
    if ! cert_exists "$domain"; then
        log "placing a temporary self-signed certificate for $domain"
        local tmp
        tmp=$(mktemp -d)
        openssl req -x509 -nodes -newkey rsa:2048 -days 1 -subj "/CN=$domain" \
            -keyout "$tmp/privkey.pem" -out "$tmp/fullchain.pem" >/dev/null 2>&1
        compose run --rm --no-deps -v "$tmp:/bootstrap:ro" --entrypoint sh certbot \
            -c "mkdir -p $live && cp /bootstrap/fullchain.pem /bootstrap/privkey.pem $live/"
        rm -rf "$tmp"
    fi
    compose up -d --wait nginx
    # Nginx keeps the loaded certificate in memory; certbot needs the path free.
    compose run --rm --no-deps --entrypoint sh certbot \
        -c "rm -rf $live /etc/letsencrypt/archive/$domain /etc/letsencrypt/renewal/$domain.conf"
    log "requesting a certificate for $domain from Let's Encrypt"
    if ! compose run --rm certbot certonly --webroot -w /var/www/certbot -d "$domain" \
        --cert-name "$domain" --email "$email" --agree-tos --no-eff-email --non-interactive \
        --rsa-key-size 4096 "${staging[@]}"; then
        die "certbot failed (is DNS for $domain pointing here and port 80 open?). Nginx still runs on the temporary certificate until restarted; run 'deploy.sh ssl $domain' again"
    fi
    compose exec nginx nginx -s reload
    log "HTTPS ready: https://$domain/"
}

cmd_renew() {
    require_env
    compose run --rm certbot renew --webroot -w /var/www/certbot --quiet
    compose exec nginx nginx -s reload
}

cmd_init() {
    require_env
    local domain
    domain=$(env_value NEXUS_DOMAIN)
    mkdir -p "$(backup_dir)"
    chmod 700 "$(backup_dir)"
    log "building the image"
    compose build app
    log "starting PostgreSQL, Redis and the broker"
    compose up -d --wait db redis broker
    log "applying migrations"
    manage migrate --noinput
    log "collecting static files into the shared volume"
    manage collectstatic --noinput
    if ! cert_exists "$domain"; then
        confirm "No certificate for $domain yet. Request one from Let's Encrypt now (DNS must point here)?" \
            || die "run 'deploy.sh ssl $domain' when DNS is ready, then 'deploy.sh init' again"
        cmd_ssl "$domain"
    fi
    log "starting the app and Nginx"
    compose up -d --wait
    ensure_superuser
    cmd_status
}

cmd_update() {
    require_env
    local replicas old_ids new_ids
    replicas=$(env_value APP_REPLICAS)
    replicas=${replicas:-2}
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        log "deploying $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" log -1 --format=%s))"
    fi
    log "backing up before migrating"
    cmd_backup
    log "building the image"
    compose build app
    compose up -d --wait --no-deps broker
    log "applying migrations (write them backwards compatible: old replicas still serve)"
    manage migrate --noinput
    manage collectstatic --noinput
    # Workers and beat: SIGTERM is a warm shutdown (running tasks finish); queued tasks
    # wait in the broker and unfinished ones are redelivered (acks_late).
    log "replacing the Celery worker(s) and beat"
    local workers
    workers=$(env_value WORKER_REPLICAS)
    compose up -d --no-deps --wait --scale worker="${workers:-1}" worker beat
    # Replace replicas without downtime: start the new ones beside the old, wait until they
    # are healthy, let Nginx see them, then stop the old ones gracefully.
    old_ids=$(compose ps -q app)
    compose up -d --no-deps --no-recreate --scale app=$((replicas * 2)) app
    new_ids=$(comm -13 <(sort <<<"$old_ids") <(compose ps -q app | sort))
    [[ -n $new_ids ]] || die "no new app containers started"
    wait_healthy "$new_ids"
    compose exec nginx nginx -s reload
    if [[ -n $old_ids ]]; then
        log "stopping the previous replicas"
        # shellcheck disable=SC2086 # one id per word
        docker stop --time 40 $old_ids >/dev/null
        # shellcheck disable=SC2086
        docker rm $old_ids >/dev/null
    fi
    compose up -d --no-deps --no-recreate --scale app="$replicas" app
    compose exec nginx nginx -s reload
    cmd_status
}

cmd_status() {
    require_env
    local domain
    domain=$(env_value NEXUS_DOMAIN)
    compose ps
    printf '\nreadiness: '
    curl -fsS --max-time 10 --resolve "$domain:443:127.0.0.1" "https://$domain/health/ready/" || printf 'NOT READY'
    printf '\ncertificate: '
    echo | openssl s_client -connect 127.0.0.1:443 -servername "$domain" 2>/dev/null \
        | openssl x509 -noout -enddate 2>/dev/null || printf 'unavailable'
    printf '\nworkers: '
    compose exec -T worker celery -A nexus inspect ping --timeout 5 2>/dev/null | grep -c 'pong' || printf 'NONE ANSWERING'
    printf 'queued tasks: '
    compose exec -T broker redis-cli llen celery 2>/dev/null || printf 'broker unavailable\n'
    compose exec -T worker python manage.py outbox_status 2>/dev/null || printf 'outbox: unavailable\n'
    printf '\nlatest backups:\n'
    find "$(backup_dir)" -maxdepth 1 -name 'nexus-*.dump' -printf '  %TY-%Tm-%Td %TH:%TM  %s bytes  %f\n' 2>/dev/null \
        | sort -r | head -n 5
}

cmd_logs() {
    require_env
    compose logs -f --tail=200 "$@"
}

main() {
    local cmd=${1:-help}
    shift || true
    case $cmd in
        init) cmd_init ;;
        update) cmd_update ;;
        ssl) cmd_ssl "$@" ;;
        renew) cmd_renew ;;
        status) cmd_status ;;
        backup) cmd_backup ;;
        restore) cmd_restore "$@" ;;
        logs) cmd_logs "$@" ;;
        help | -h | --help) usage ;;
        *) usage; exit 2 ;;
    esac
}

# Sourced (scripts/container_check.sh runs deploy.sh's own steps one by one): define only.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi

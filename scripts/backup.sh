#!/usr/bin/env bash
# Nexus database backups: pg_dump custom-format archives with a timestamp and retention,
# verification, and restore. Works against any DATABASE_URL (CI, a host, or the `backup`
# service of docker-compose.production.yml); needs pg_dump, pg_restore and psql on PATH.
#
#   backup.sh backup  [--dir DIR] [--keep N]     dump DATABASE_URL into DIR, keep the newest N
#   backup.sh verify  FILE                       check that FILE is a readable archive
#   backup.sh restore FILE [--target-url URL] [--yes]
#                                                verify FILE, then replace the target's contents
#   backup.sh list    [--dir DIR]                the archives, newest first
#
# Environment: DATABASE_URL (required), BACKUP_DIR (default ./backups), BACKUP_KEEP
# (default 14), NEXUS_ASSUME_YES=1 to skip the confirmation (non-interactive drills).
set -euo pipefail

log() { printf '[backup] %s\n' "$*" >&2; }
die() { printf '[backup] error: %s\n' "$*" >&2; exit 1; }

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# libpq understands postgresql:// and postgres://; dj-database-url also allows pgsql://.
libpq_url() {
    local url=$1
    case $url in
        postgres://* | postgresql://*) printf '%s' "$url" ;;
        pgsql://*) printf 'postgresql://%s' "${url#pgsql://}" ;;
        *) die "DATABASE_URL must be a PostgreSQL URL (postgres://...)" ;;
    esac
}

# Database name for file names and messages (never the password).
db_name() {
    local rest=${1#*://}
    rest=${rest#*/}
    rest=${rest%%\?*}
    printf '%s' "${rest:-postgres}"
}

require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found (install the PostgreSQL client)"
    done
}

verify() {
    local file=$1
    [[ -f $file ]] || die "no such file: $file"
    [[ -s $file ]] || die "$file is empty"
    require_tools pg_restore
    # --list reads the whole table of contents: a truncated or foreign file fails here.
    local entries
    if ! entries=$(pg_restore --list "$file" 2>&1); then
        die "$file is not a valid pg_dump archive: ${entries##*$'\n'}"
    fi
    local tables
    tables=$(grep -c ' TABLE DATA ' <<<"$entries" || true)
    [[ $tables -gt 0 ]] || die "$file holds no table data"
    log "verified $file ($tables tables, $(wc -c <"$file") bytes)"
}

cmd_backup() {
    local dir=${BACKUP_DIR:-./backups} keep=${BACKUP_KEEP:-14}
    while [[ $# -gt 0 ]]; do
        case $1 in
            --dir) dir=$2; shift 2 ;;
            --keep) keep=$2; shift 2 ;;
            *) die "unknown option for backup: $1" ;;
        esac
    done
    [[ $keep =~ ^[1-9][0-9]*$ ]] || die "--keep must be a positive number"
    require_tools pg_dump pg_restore
    local url name stamp file
    url=$(libpq_url "${DATABASE_URL:?DATABASE_URL is not set}")
    name=$(db_name "$url")
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    umask 077
    mkdir -p "$dir"
    file="$dir/nexus-$name-$stamp.dump"
    log "dumping database $name to $file"
    # Written under a temporary name: a failed or interrupted dump never looks like a backup.
    trap 'rm -f -- "$file.partial"' EXIT
    pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$file.partial" "$url"
    verify "$file.partial"
    mv "$file.partial" "$file"
    trap - EXIT
    # Retention: keep the newest $keep archives of this database. UTC timestamps in the
    # names sort chronologically, so the glob's order is oldest first.
    local archives=() old
    shopt -s nullglob
    archives=("$dir"/nexus-"$name"-*.dump)
    shopt -u nullglob
    if [[ ${#archives[@]} -gt $keep ]]; then
        for old in "${archives[@]:0:${#archives[@]}-keep}"; do
            log "retention: removing $old"
            rm -f -- "$old"
        done
    fi
    printf '%s\n' "$file"
}

cmd_list() {
    local dir=${BACKUP_DIR:-./backups}
    [[ ${1:-} == --dir ]] && dir=$2
    local archives=()
    shopt -s nullglob
    archives=("$dir"/nexus-*.dump)
    shopt -u nullglob
    [[ ${#archives[@]} -gt 0 ]] || { log "no backups in $dir"; return 0; }
    printf '%s\n' "${archives[@]}" | sort -r
}

cmd_restore() {
    local file="" target="" yes=${NEXUS_ASSUME_YES:-0}
    while [[ $# -gt 0 ]]; do
        case $1 in
            --target-url) target=$2; shift 2 ;;
            --yes) yes=1; shift ;;
            -*) die "unknown option for restore: $1" ;;
            *) file=$1; shift ;;
        esac
    done
    [[ -n $file ]] || die "restore needs an archive: backup.sh restore FILE"
    require_tools pg_restore psql
    # Verify first: a bad archive must never get as far as dropping tables.
    verify "$file"
    local url name
    url=$(libpq_url "${target:-${DATABASE_URL:?DATABASE_URL is not set}}")
    name=$(db_name "$url")
    psql "$url" -qAtc 'SELECT 1' >/dev/null || die "cannot connect to database $name"
    if [[ $yes != 1 ]]; then
        [[ -t 0 ]] || die "refusing to restore without confirmation (pass --yes)"
        local answer
        read -r -p "Replace the contents of database '$name' with $file? Type the database name: " answer
        [[ $answer == "$name" ]] || die "aborted"
    fi
    log "restoring $file into $name"
    # One transaction: a failure leaves the database as it was.
    pg_restore --clean --if-exists --no-owner --no-privileges --exit-on-error \
        --single-transaction --dbname="$url" "$file"
    log "restore into $name complete"
}

main() {
    local cmd=${1:-help}
    shift || true
    case $cmd in
        backup) cmd_backup "$@" ;;
        verify) [[ $# -eq 1 ]] || die "verify needs one archive"; verify "$1" ;;
        restore) cmd_restore "$@" ;;
        list) cmd_list "$@" ;;
        help | -h | --help) usage ;;
        *) usage; exit 2 ;;
    esac
}

main "$@"

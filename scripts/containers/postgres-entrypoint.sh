#!/bin/bash
# Entrypoint of the test-only PostgreSQL stand-in (postgres.Containerfile): on first start
# an empty data directory gets a cluster whose superuser is $POSTGRES_USER with
# $POSTGRES_PASSWORD (scram-sha-256 over TCP) and a database $POSTGRES_DB, like the
# official image. Started as root, it drops to `postgres` for the server.
set -euo pipefail

if [[ ${1:-postgres} != postgres ]]; then
    exec "$@"
fi
shift || true

if [[ $(id -u) == 0 ]]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

user=${POSTGRES_USER:-postgres}
if [[ ! -s $PGDATA/PG_VERSION ]]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set for a new database}"
    initdb --pgdata="$PGDATA" --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    db=${POSTGRES_DB:-$user}
    if [[ $db != postgres ]]; then
        pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
        psql --username="$user" --dbname=postgres --set=ON_ERROR_STOP=1 --quiet \
            --command="CREATE DATABASE \"$db\""
        pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
    fi
    echo "stand-in: initialised $PGDATA (superuser $user, database $db)"
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' "$@"

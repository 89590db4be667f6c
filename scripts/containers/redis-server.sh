#!/bin/sh
# /usr/local/bin/redis-server of the test-only Redis stand-in (redis.Containerfile). The
# official image builds Redis with protected mode off by default (a container's network is
# its fence), so a password-less development Redis accepts other containers; Debian's keeps
# it on. Same default here; a later --protected-mode on the command line still wins.
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    config=$1
    shift
    exec /usr/bin/redis-server "$config" --protected-mode no "$@"
fi
exec /usr/bin/redis-server --protected-mode no "$@"

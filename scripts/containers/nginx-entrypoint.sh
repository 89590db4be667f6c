#!/bin/bash
# Entrypoint of the test-only Nginx stand-in (nginx.Containerfile): renders each
# /etc/nginx/templates/NAME.template into /etc/nginx/conf.d/NAME with envsubst, substituting
# only variables set in the environment (nginx's own $variables stay), as the official
# image does, then runs the command.
set -euo pipefail

if [[ ${1:-} == nginx ]]; then
    names=$(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')
    shopt -s nullglob
    for template in /etc/nginx/templates/*.template; do
        target=/etc/nginx/conf.d/$(basename "$template" .template)
        envsubst "$names" <"$template" >"$target"
        echo "stand-in: rendered $template to $target"
    done
fi
exec "$@"

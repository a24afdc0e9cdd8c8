#!/bin/bash
# Entrypoint of the local nginx stand-in (nginx.Containerfile). Like the official image's
# docker-entrypoint.sh (1.25+), it first sources every executable /docker-entrypoint.d/*.envsh in
# `sort -V` order (a non-executable one is ignored, as there), e.g. docker-compose.yml's
# 15-contact-vault-upstreams.envsh, which makes APP_UPSTREAM_SERVERS; one that fails stops the
# start. Then, like its 20-envsubst-on-templates.sh: every /etc/nginx/templates/NAME.template is
# rendered into /etc/nginx/conf.d/NAME with envsubst, substituting only the environment variables
# whose names match NGINX_ENVSUBST_FILTER (all of them when it is unset), so NGINX's own
# $variables stay.
set -euo pipefail
if [ -d /docker-entrypoint.d ]; then
    while IFS= read -r envsh; do
        if [ ! -x "$envsh" ]; then
            echo "ignoring $envsh, not executable" >&2
            continue
        fi
        echo "sourcing $envsh" >&2
        # shellcheck disable=SC1090
        . "$envsh" || { echo "$envsh failed" >&2; exit 1; }
    done < <(find /docker-entrypoint.d/ -follow -type f -name '*.envsh' -print | sort -V)
fi
templates=/etc/nginx/templates
out=/etc/nginx/conf.d
if [ -d "$templates" ]; then
    filter="${NGINX_ENVSUBST_FILTER:-}"
    names=$(env | cut -d= -f1 | grep -E -- "${filter:-.}" || true)
    vars=""
    for name in $names; do vars="$vars \${$name}"; done
    for template in "$templates"/*.template; do
        [ -e "$template" ] || continue
        target="$out/$(basename "$template" .template)"
        envsubst "$vars" <"$template" >"$target"
        echo "rendered $template to $target" >&2
    done
    # Debian 12's nginx is 1.22, older than 1.25.1: it lacks `http2 on;` and takes the older
    # `listen ... ssl http2` instead. The official image is newer and reads the file as it is.
    for conf in "$out"/*.conf; do
        [ -e "$conf" ] || continue
        sed -i -e '/^[[:space:]]*http2 on;$/d' \
            -e 's#^\([[:space:]]*listen [0-9]* ssl\)\( default_server\)\?;#\1 http2\2;#' "$conf"
    done
fi
exec "$@"

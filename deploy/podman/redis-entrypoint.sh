#!/bin/bash
# Entrypoint of the local redis:7 stand-in (redis.Containerfile): redis-server as the `redis`
# user, with protected mode off as in the official image, and its data in /data.
set -euo pipefail
mkdir -p /data
if [ "$(id -u)" = 0 ]; then
    chown redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
cd /data
if [ "${1:-}" = redis-server ]; then
    shift
    exec redis-server --protected-mode no "$@"
fi
exec "$@"

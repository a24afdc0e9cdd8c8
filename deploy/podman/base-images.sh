#!/usr/bin/env bash
# Builds the base images that the Dockerfile and docker-compose.yml name, locally:
#   docker.io/library/debian:bookworm-slim   debootstrap --variant=minbase bookworm, imported
#   docker.io/library/rust:1.95-slim-bookworm  that, plus gcc and this machine's Rust toolchain
#   docker.io/library/nginx:1.28             that, plus Debian's nginx and a template entrypoint
#   docker.io/library/postgres:15            that, plus Debian's postgresql-15 (profile `scale`)
#   docker.io/library/redis:7                that, plus Debian's redis-server (profile `scale`)
#
# These are LOCAL STAND-INS for the official images, made because CI machines reach the package
# registries (Debian, crates.io) but no image registry, and rustup cannot download a toolchain
# there. On a machine that can pull images none of this is needed: docker-compose pulls the
# official ones. An image that already exists is kept (FORCE=1 rebuilds).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib.sh"

exists() { podman image exists "$1"; }

debian=docker.io/library/debian:bookworm-slim
rust=docker.io/library/rust:1.95-slim-bookworm
nginx=docker.io/library/nginx:1.28
postgres=docker.io/library/postgres:15
redis=docker.io/library/redis:7

if [ "${FORCE:-0}" = 1 ] || ! exists "$debian"; then
    root="$CV_PODMAN_STATE/rootfs"
    rm -rf "$root"
    podman_log "debootstrap --variant=minbase bookworm (a few minutes)"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
        >"$CV_PODMAN_STATE/debootstrap.log" 2>&1 \
        || { tail -20 "$CV_PODMAN_STATE/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar --numeric-owner -C "$root" -c . \
        | podman import --change 'CMD ["bash"]' - "$debian" >/dev/null
    rm -rf "$root"
    podman_log "imported $debian"
fi

if [ "${FORCE:-0}" = 1 ] || ! exists "$rust"; then
    ctx="$CV_PODMAN_STATE/rust-context"
    rm -rf "$ctx" && mkdir -p "$ctx/rust"
    toolchain="$(rustc --print sysroot)"
    case "$(rustc --version)" in
        "rustc 1.95."*) ;;
        *) echo "the Dockerfile names rust:1.95; this machine has $(rustc --version)" >&2; exit 1 ;;
    esac
    # The compiler, cargo and the standard library; not the 800 MB of HTML documentation.
    cp -a "$toolchain/bin" "$toolchain/lib" "$toolchain/libexec" "$toolchain/etc" "$ctx/rust/"
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
    cp "$here/rust.Containerfile" "$ctx/Containerfile"
    podman_log "building $rust from $toolchain"
    podman build --quiet --network host --format docker -t "$rust" "$ctx" >/dev/null
    rm -rf "$ctx"
fi

if [ "${FORCE:-0}" = 1 ] || ! exists "$nginx"; then
    ctx="$CV_PODMAN_STATE/nginx-context"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$here/nginx-entrypoint.sh" "$here/nginx.conf" "$ctx/"
    cp "$here/nginx.Containerfile" "$ctx/Containerfile"
    podman_log "building $nginx"
    podman build --quiet --network host --format docker -t "$nginx" "$ctx" >/dev/null
    rm -rf "$ctx"
fi
# The scale profile's two: each a Containerfile and its entrypoint.
for pair in "postgres:$postgres" "redis:$redis"; do
    name="${pair%%:*}" image="${pair#*:}"
    if [ "${FORCE:-0}" = 1 ] || ! exists "$image"; then
        ctx="$CV_PODMAN_STATE/$name-context"
        rm -rf "$ctx" && mkdir -p "$ctx"
        cp "$here/$name-entrypoint.sh" "$ctx/"
        cp "$here/$name.Containerfile" "$ctx/Containerfile"
        podman_log "building $image"
        podman build --quiet --network host --format docker -t "$image" "$ctx" >/dev/null
        rm -rf "$ctx"
    fi
done
podman_log "base images ready: $debian $rust $nginx $postgres $redis"

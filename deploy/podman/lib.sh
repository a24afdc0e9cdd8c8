# Shared by deploy/podman/*.sh and deploy/compose-test.sh (sourced, not run).
#
# Podman on these machines (no Docker engine): runc rather than crun (crun fails on this
# kernel's hybrid cgroups), cgroupfs rather than systemd, ulimits within what the sandbox allows,
# and short image names (rust:…, debian:…, nginx:…) looked up as docker.io/library/… so that the
# Dockerfile and docker-compose.yml stay exactly what a user runs. Everything goes into a
# state folder of its own (CV_PODMAN_STATE, default /tmp/cv-podman), nothing into /etc.

CV_PODMAN_STATE="${CV_PODMAN_STATE:-/tmp/cv-podman}"
mkdir -p "$CV_PODMAN_STATE"

podman_log() { printf '[podman %s] %s\n' "$(date +%T)" "$*" >&2; }

podman_install() {
    local missing=() pkg
    for pkg in podman runc netavark aardvark-dns debootstrap docker-compose uidmap openssl curl iproute2 util-linux; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        local sudo_cmd=""
        if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
        podman_log "installing ${missing[*]}"
        $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
    fi
}

podman_configure() {
    local nofile
    nofile=$(ulimit -Hn)
    cat >"$CV_PODMAN_STATE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    cat >"$CV_PODMAN_STATE/registries.conf" <<CONF
unqualified-search-registries = ["docker.io"]
CONF
    export CONTAINERS_CONF="$CV_PODMAN_STATE/containers.conf"
    export CONTAINERS_REGISTRIES_CONF="$CV_PODMAN_STATE/registries.conf"
}

podman_install
podman_configure

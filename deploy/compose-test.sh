#!/usr/bin/env bash
# The deployment, run for real: builds the Dockerfile, brings docker-compose.yml up behind NGINX
# with a throwaway certificate, and drives it through the published ports, following the
# README's "Deploy" section step by step. Run by .ci/run; about 15 minutes on two cores, most
# of it the image build.
#
# How it runs here: this machine kind has no Docker engine, so podman (Debian's) serves the
# Docker API on a socket of its own and Debian's docker-compose (1.29) runs the compose file
# unchanged against it. The base images the files name are local stand-ins built by
# deploy/podman/base-images.sh (no image registry is reachable; see there). Podman runs health
# checks from systemd timers, and there is no systemd here: a loop below runs
# `podman healthcheck run` every two seconds instead, which is what the timers would do.
#
# Checks: the image (uid 10001, HEALTHCHECK kept, read-only root file system, the setup link on
# first run); NGINX healthy in front of a healthy app, https, the redirect from http; a visitor's
# form submission (CAPTCHA on) and an admin's sign-in with TOTP; keys generated into keys.env on
# the volume, then given as *_FILE secrets instead; a backup taken in the running container and
# restored; `down` and `up` with the app container recreated from a rebuilt image (cargo-chef's
# dependency layer reused); a SIGTERM stop under writes with no acknowledged write lost; no key
# in `podman inspect`, the image layers or the logs. Then the `scale` profile: PostgreSQL, Redis
# and two replicas behind nginx-scale, a book written through it and read with either replica
# stopped, the rows in PostgreSQL sealed, the limits counted in Redis. Every container, network,
# volume and image made here removed at the end (KEEP_IMAGES=1 keeps the base images and the
# build cache).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$here/podman/lib.sh"

HTTP_PORT="${CV_COMPOSE_HTTP_PORT:-18080}"
HTTPS_PORT="${CV_COMPOSE_HTTPS_PORT:-18443}"
export COMPOSE_PROJECT_NAME=cvci
export COMPOSE_HTTP_TIMEOUT=600
work="$CV_PODMAN_STATE/project"
passed=0
failed=0
t0=$SECONDS

log() { printf '[compose %4ss] %s\n' "$((SECONDS - t0))" "$*"; }
pass() { passed=$((passed + 1)); printf 'ok   %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL %s%s\n' "$1" "${2:+: $2}"; }
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
must() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; finish; fi; }

# --- podman's Docker API and the health-check loop ---------------------------------------------
sock="$CV_PODMAN_STATE/podman.sock"
rm -f "$sock"
podman system service --time=0 "unix://$sock" >"$CV_PODMAN_STATE/service.log" 2>&1 &
service_pid=$!
export DOCKER_HOST="unix://$sock"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.2; done
(
    while sleep 2; do
        for id in $(podman ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" 2>/dev/null); do
            podman healthcheck run "$id" >/dev/null 2>&1 || true
        done
    done
) &
ticker_pid=$!

base_images=(docker.io/library/debian:bookworm-slim docker.io/library/rust:1.95-slim-bookworm docker.io/library/nginx:1.28
    docker.io/library/postgres:15 docker.io/library/redis:7)
# docker-compose.yml as it is, plus deploy/podman/compose.podman.yml (a podman quirk, see there)
# and, once the secrets step has written it, the README's docker-compose.override.yml.
compose() {
    local files="docker-compose.yml:$here/podman/compose.podman.yml"
    if [ -e "$work/docker-compose.override.yml" ]; then files="$files:docker-compose.override.yml"; fi
    (cd "$work" && COMPOSE_FILE="$files" docker-compose "$@")
}
# `docker cp` / `docker inspect` of the README, against the same socket; podman's own client when
# this machine has no docker client.
docker_cli() { if command -v docker >/dev/null 2>&1; then docker "$@"; else podman "$@"; fi; }

cleanup() {
    set +e
    if [ -d "$work" ]; then
        if [ "${KEEP_IMAGES:-0}" = 1 ]; then rmi=local; else rmi=all; fi
        compose --profile scale down -v --rmi "$rmi" --remove-orphans >/dev/null 2>&1
    fi
    for id in $(podman ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME"); do
        podman rm -f "$id" >/dev/null 2>&1
    done
    for volume in app-data app-a-data app-b-data pg-data; do
        podman volume rm -f "${COMPOSE_PROJECT_NAME}_$volume" >/dev/null 2>&1
    done
    podman network rm -f "${COMPOSE_PROJECT_NAME}_vault" >/dev/null 2>&1
    podman rmi -f contact-vault:latest >/dev/null 2>&1
    if [ "${KEEP_IMAGES:-0}" != 1 ]; then
        podman rmi -f "${base_images[@]}" >/dev/null 2>&1
        podman image prune -f >/dev/null 2>&1 # the untagged build stages
    fi
    kill "$ticker_pid" "$service_pid" 2>/dev/null
    wait "$ticker_pid" "$service_pid" 2>/dev/null
    rm -rf "$work" "$sock"
}
finish() {
    cleanup
    left=$(podman ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" | wc -l)
    left=$((left + $(podman volume ls -q | grep -c "^${COMPOSE_PROJECT_NAME}_" || true)))
    left=$((left + $(podman network ls -q | grep -c "^${COMPOSE_PROJECT_NAME}_" || true)))
    if [ "$left" -eq 0 ]; then pass "nothing of the stack is left (containers, volume, network)"; else fail "left behind: $left"; fi
    if [ "${KEEP_IMAGES:-0}" != 1 ]; then
        n=$(podman images -q --filter dangling=true | wc -l)
        for image in contact-vault:latest "${base_images[@]}"; do
            if podman image exists "$image"; then n=$((n + 1)); fi
        done
        if [ "$n" -eq 0 ]; then pass "every image made here removed"; else fail "images left: $n"; fi
    fi
    echo "$passed passed, $failed failed ($((SECONDS - t0)) s)"
    trap - EXIT
    [ "$failed" -eq 0 ]
    exit
}
trap 'fail "the script stopped early (line $LINENO)"; finish' EXIT
trap 'fail "interrupted"; finish' INT TERM

wait_healthy() { # SERVICE...
    local service id status
    for service in "$@"; do
        for _ in $(seq 90); do
            id=$(compose --profile scale ps -q "$service" 2>/dev/null || true)
            status=$(podman inspect --format '{{.State.Health.Status}}' "$id" 2>/dev/null || true)
            [ "$status" = healthy ] && break
            sleep 2
        done
        if [ "$status" != healthy ]; then
            compose --profile scale logs --tail 40 "$service" >&2 || true
            return 1
        fi
    done
}

# podman gives a restarted container a new random MAC address and announces it to nobody: NGINX
# keeps sending to the old one until its ARP entry expires (15 to 45 s, 48 s measured once), so
# every request through it hangs meanwhile. Docker derives the MAC from the IP address, which
# stays. After each restart of the app the test empties NGINX's ARP cache, as a stable MAC or a
# gratuitous ARP would; then the app must answer through NGINX at once.
forget_old_mac() { # [NGINX CONTAINER], default the default stack's
    nsenter -t "$(podman inspect -f '{{.State.Pid}}' "${1:-$(nginx_id)}")" -n ip neigh flush all
}
wait_through_nginx() {
    local start=$SECONDS
    until [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' --cacert "$CA" "$HTTPS/healthz")" = 200 ]; do
        if [ $((SECONDS - start)) -gt 10 ]; then return 1; fi
        sleep 1
    done
    log "answering through NGINX after $((SECONDS - start)) s"
}

app_id() { compose ps -q app; }
nginx_id() { compose ps -q nginx; }
volume_dir() { podman volume inspect --format '{{.Mountpoint}}' "${COMPOSE_PROJECT_NAME}_app-data"; }

# --- base images and a copy of the checkout --------------------------------------------------
log "base images (deploy/podman/base-images.sh)"
bash "$here/podman/base-images.sh"
for port in "$HTTP_PORT" "$HTTPS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        fail "port $port is taken"; finish
    fi
done
rm -rf "$work" && mkdir -p "$work"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard \
    | tar --null --ignore-failed-read -T - -c 2>/dev/null) | tar -x -C "$work"

# --- README "Bring it up" ----------------------------------------------------------------------
log "README: .env, certificate, docker-compose up -d --build"
cd "$work"
cp .env.example .env
sed -i "s#^PUBLIC_URL=.*#PUBLIC_URL=https://localhost:$HTTPS_PORT#" .env
cat >>.env <<EOF
SERVER_NAME=localhost
HTTP_PUBLISH=127.0.0.1:$HTTP_PORT
HTTPS_PUBLISH=127.0.0.1:$HTTPS_PORT
EOF
mkdir -p nginx/certs nginx/acme
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
    -keyout nginx/certs/privkey.pem -out nginx/certs/fullchain.pem 2>/dev/null
cd "$repo"

build_log="$CV_PODMAN_STATE/build.log"
if compose up -d --build >"$build_log" 2>&1; then
    pass "docker-compose up -d --build: the Dockerfile builds, the stack starts ($((SECONDS - t0)) s so far)"
else
    tail -40 "$build_log"; fail "docker-compose up -d --build"; finish
fi
check "cargo-chef cooked the dependencies in their own layer" grep -q 'cargo chef cook' "$build_log"
image1=$(podman image inspect --format '{{.Id}}' contact-vault:latest)
check "the image runs as uid 10001" \
    test "$(podman image inspect --format '{{.Config.User}}' contact-vault:latest)" = "10001:10001"
check "the image keeps its HEALTHCHECK (docker format)" \
    podman image inspect --format '{{.Config.Healthcheck.Test}}' contact-vault:latest

must "the app's health check turns healthy" wait_healthy app
must "NGINX turns healthy in front of it" wait_healthy nginx

check "the app container's root file system is read-only" \
    test "$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$(app_id)")" = true
check "the app runs as uid 10001" test "$(compose exec -T app id -u | tr -d '\r')" = 10001
read_only_holds() { ! compose exec -T app touch /usr/local/bin/x 2>/dev/null; }
check "writing outside /data fails" read_only_holds
# (grep reads the whole log, not -q: under pipefail, a grep that quits at the first match can
# make `compose logs` die of SIGPIPE and the pipeline fail although the line was there)
setup_link_shown() { compose logs app 2>/dev/null | grep '/setup/' >/dev/null; }
check "first run: the logs show the setup link" setup_link_shown
check "first run: keys generated into keys.env on the volume" test -s "$(volume_dir)/keys.env"

CA="$work/nginx/certs/fullchain.pem"
HTTPS="https://localhost:$HTTPS_PORT"
code=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CA" "$HTTPS/healthz" || true)
check "https through NGINX: /healthz answers 200" test "$code" = 200
redirect=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:$HTTP_PORT/contacts?x=1" || true)
check "http redirects to https (301)" test "$redirect" = "301 https://localhost/contacts?x=1"
hsts=$(curl -sS -D - -o /dev/null --cacert "$CA" "$HTTPS/login" | tr -d '\r' | grep -ci '^strict-transport-security:' || true)
check "HSTS sent once" test "$hsts" = 1

# --- README: the first admin, headless; a user ---------------------------------------------------
log "users, the visitor's form, the admin's TOTP sign-in, contacts"
admin_pw="Admin-$(openssl rand -hex 12)"
user_pw="User-$(openssl rand -hex 12)"
printf '%s\n' "$admin_pw" >"$CV_PODMAN_STATE/alice.pw"
out=$(compose exec -T app contact-vault user add alice --role admin --password-stdin <"$CV_PODMAN_STATE/alice.pw" 2>&1 || true)
secret=$(printf '%s' "$out" | grep -o 'secret=[A-Z2-7]*' | head -n 1 | cut -d= -f2)
rm -f "$CV_PODMAN_STATE/alice.pw"
check "contact-vault user add alice --role admin prints the otpauth:// URI" test -n "$secret"
printf '%s\n' "$user_pw" | compose exec -T app contact-vault user add bob --password-stdin >/dev/null 2>&1
export CV_URL="$HTTPS" CV_CA="$CA" CV_STATE="$CV_PODMAN_STATE/scenario.json"
export CV_ADMIN=alice CV_ADMIN_PASSWORD="$admin_pw" CV_ADMIN_TOTP="$secret"
export CV_USER=bob CV_USER_PASSWORD="$user_pw" CV_DB
CV_DB="$(volume_dir)/contact-vault.db"
scenario() { python3 "$here/compose_scenario.py" "$@" && pass "scenario $1" || { fail "scenario $1"; finish; }; }
scenario seed
scenario check

# --- README: backup in the running container, restore -------------------------------------------
log "backup and restore"
backup_in_container() { compose exec -T app contact-vault backup /data/backup-ci.db >/dev/null 2>&1; }
check "contact-vault backup inside the running container" backup_in_container
docker_cli cp "$(app_id):/data/backup-ci.db" "$CV_PODMAN_STATE/backup-ci.db"
check "the backup copied out (docker cp)" test -s "$CV_PODMAN_STATE/backup-ci.db"
scenario add
compose stop app >/dev/null 2>&1
if out=$(compose run --rm --no-deps app restore /data/backup-ci.db --force 2>&1); then
    pass "contact-vault restore --force with the app stopped"
else
    fail "contact-vault restore --force with the app stopped" "$out"
fi
compose start app >/dev/null 2>&1
forget_old_mac
must "the app is healthy again" wait_healthy app
must "... and answers through NGINX" wait_through_nginx
scenario restored
scenario check

# --- SIGTERM under writes ------------------------------------------------------------------------
log "SIGTERM stop under writes"
acked="$CV_PODMAN_STATE/acked"
stop="$CV_PODMAN_STATE/stop"
rm -f "$acked" "$stop"
python3 "$here/compose_scenario.py" writer "$acked" "$stop" >"$CV_PODMAN_STATE/writer.log" 2>&1 &
writer_pid=$!
sleep 4
touch "$stop"
compose stop app >/dev/null 2>&1
check "SIGTERM: the app exits 0, not killed" \
    test "$(podman inspect --format '{{.State.ExitCode}}' "$(app_id)")" = 0
compose start app >/dev/null 2>&1
forget_old_mac
wait_healthy app || true
if wait "$writer_pid"; then pass "the writer saw the app go and come back: $(tail -n 1 "$CV_PODMAN_STATE/writer.log")"; else cat "$CV_PODMAN_STATE/writer.log"; fail "writer"; fi
scenario acked "$acked"

# --- down, rebuilt image, up ------------------------------------------------------------------------
log "down; rebuild with a changed source file; up"
compose down >/dev/null 2>&1
echo "// rebuilt by deploy/compose-test.sh at $(date +%s%N)" >>"$work/src/main.rs"
if compose build app >"$build_log" 2>&1; then pass "rebuilt after a source change"; else tail -40 "$build_log"; fail "rebuild"; finish; fi
check "the rebuild compiled contact-vault again" grep -q 'Compiling contact-vault' "$build_log"
check "... and no dependency (cargo-chef's layer reused)" bash -c "! grep -q 'Compiling actix-web' '$build_log'"
image2=$(podman image inspect --format '{{.Id}}' contact-vault:latest)
check "the image is a new one" test "$image1" != "$image2"
compose up -d >/dev/null 2>&1
must "up again: healthy" wait_healthy app nginx
check "the app container runs the rebuilt image" \
    test "$(podman inspect --format '{{.Image}}' "$(app_id)")" = "$image2"
scenario check

# --- README "Keys": *_FILE secrets instead of keys.env ---------------------------------------------
log "keys as *_FILE secrets"
keys_env="$(volume_dir)/keys.env"
mkdir -p "$work/secrets"
for name in FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY; do
    file=$(echo "$name" | tr 'A-Z' 'a-z')
    grep "^$name=" "$keys_env" | cut -d= -f2- >"$work/secrets/$file"
done
check "three secrets written" test -s "$work/secrets/fernet_keys" -a -s "$work/secrets/blind_index_key" -a -s "$work/secrets/secret_key"
cp "$keys_env" "$CV_PODMAN_STATE/keys.env.saved"
chown 10001 "$work"/secrets/* && chmod 0400 "$work"/secrets/*
# The override the README shows, as it is there.
awk '/^```yaml$/ { on = 1; next } on && /^```$/ { exit } on' "$repo/README.md" >"$work/docker-compose.override.yml"
check "the README's override names the secrets" grep -q 'FERNET_KEYS_FILE' "$work/docker-compose.override.yml"
compose down >/dev/null 2>&1
rm -f "$keys_env"
compose up -d >/dev/null 2>&1
must "up with the keys as secrets: healthy" wait_healthy app nginx
check "no keys.env came back (the app took the secrets)" test ! -e "$keys_env"
scenario check

# --- no key anywhere it should not be ------------------------------------------------------------
log "secrets scan: inspect, logs, image layers"
podman inspect "$(app_id)" "$(nginx_id)" >"$CV_PODMAN_STATE/inspect.json"
podman image inspect contact-vault:latest >>"$CV_PODMAN_STATE/inspect.json"
compose logs --no-color >"$CV_PODMAN_STATE/logs.txt" 2>&1
podman save --format docker-archive -o "$CV_PODMAN_STATE/image.tar" contact-vault:latest >/dev/null 2>&1
mkdir -p "$CV_PODMAN_STATE/layers" && tar -x -C "$CV_PODMAN_STATE/layers" -f "$CV_PODMAN_STATE/image.tar"
leaks=0
while IFS='=' read -r name value; do
    case "$name" in FERNET_KEYS | BLIND_INDEX_KEY | SECRET_KEY) ;; *) continue ;; esac
    for key in ${value//,/ }; do
        for where in inspect.json logs.txt; do
            if grep -qF -- "$key" "$CV_PODMAN_STATE/$where"; then leaks=$((leaks + 1)); echo "$name in $where" >&2; fi
        done
        if grep -rqaF -- "$key" "$CV_PODMAN_STATE/layers"; then leaks=$((leaks + 1)); echo "$name in the image" >&2; fi
    done
done <"$CV_PODMAN_STATE/keys.env.saved"
check "no key in podman inspect, the logs or the image layers" test "$leaks" = 0
check "the secrets scan had keys to look for" grep -q '^FERNET_KEYS=.' "$CV_PODMAN_STATE/keys.env.saved"
rm -rf "$CV_PODMAN_STATE/layers" "$CV_PODMAN_STATE/image.tar" "$CV_PODMAN_STATE/keys.env.saved"

# --- a clean stop -----------------------------------------------------------------------------------
log "docker-compose stop"
compose stop >/dev/null 2>&1
check "the app stopped on SIGTERM with exit code 0" \
    test "$(podman inspect --format '{{.State.ExitCode}}' "$(app_id)")" = 0
check "NGINX stopped with exit code 0" \
    test "$(podman inspect --format '{{.State.ExitCode}}' "$(nginx_id)")" = 0

# --- README "Several instances": the scale profile ------------------------------------------------
# The same image, now as app-a and app-b on PostgreSQL and Redis behind nginx-scale, on the ports
# the default stack has just let go. The keys come from .env (the replicas refuse to start
# without them), the secrets written above.
log "profile scale: PostgreSQL, Redis, two replicas behind nginx-scale"
compose down >/dev/null 2>&1
for name in FERNET_KEYS BLIND_INDEX_KEY SECRET_KEY; do
    value="$(cat "$work/secrets/$(echo "$name" | tr 'A-Z' 'a-z')")"
    sed -i "s#^$name=.*#$name=$value#" "$work/.env"
done
echo "POSTGRES_PASSWORD=$(openssl rand -hex 24)" >>"$work/.env"
if compose --profile scale up -d --build nginx-scale >"$build_log" 2>&1; then
    pass "docker-compose --profile scale up -d --build nginx-scale"
else
    tail -40 "$build_log"; fail "docker-compose --profile scale up"; finish
fi
must "postgres, redis, app-a, app-b and nginx-scale turn healthy" \
    wait_healthy postgres redis app-a app-b nginx-scale
scale_id() { compose --profile scale ps -q "$1"; }
on_postgres() { compose --profile scale logs app-a 2>/dev/null | grep 'without sslmode=verify-full' >/dev/null; }
check "the replicas run on PostgreSQL (and warn that it is reached without verified TLS)" on_postgres
carol_pw="Carol-$(openssl rand -hex 12)"
printf '%s\n' "$carol_pw" >"$CV_PODMAN_STATE/carol.pw"
if out=$(compose --profile scale exec -T app-a contact-vault user add carol --password-stdin <"$CV_PODMAN_STATE/carol.pw" 2>&1); then
    pass "contact-vault user add carol inside app-a (on PostgreSQL)"
else
    fail "contact-vault user add carol inside app-a" "$out"
fi
rm -f "$CV_PODMAN_STATE/carol.pw"
export CV_USER=carol CV_USER_PASSWORD="$carol_pw"
scenario scale-seed
psql_scale() { compose --profile scale exec -T postgres psql -U contact_vault -d contact_vault -Atc "$1" | tr -d '\r'; }
check "the three contacts are rows in PostgreSQL" test "$(psql_scale 'SELECT COUNT(*) FROM contacts')" = 3
dump="$CV_PODMAN_STATE/scale.sql"
compose --profile scale exec -T postgres pg_dump -U contact_vault contact_vault >"$dump" 2>/dev/null || true
check "pg_dump of the database in the postgres container" grep -q 'CREATE TABLE public.contacts' "$dump"
check "... and no contact name in it: the rows are sealed" bash -c "! grep -q 'Scale Person' '$dump'"
rm -f "$dump"
# The limiter's keys expire as soon as their window has passed, so a scan for keys would race the
# clock; the server's own count of the limiter script's runs does not.
redis_script_calls() {
  compose --profile scale exec -T redis redis-cli INFO commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_eval\(sha\)\{0,1\}:calls=\([0-9]*\).*/\2/p' | awk '{n += $1} END {print n + 0}'
}
check "the limits are counted in Redis (the limiter script ran there)" test "$(redis_script_calls)" -gt 0
compose --profile scale stop app-a >/dev/null 2>&1
scenario scale-check "app-a stopped, app-b serves"
compose --profile scale start app-a >/dev/null 2>&1
forget_old_mac "$(scale_id nginx-scale)"
must "app-a healthy again" wait_healthy app-a
compose --profile scale stop app-b >/dev/null 2>&1
scenario scale-check "app-b stopped, app-a serves"
compose --profile scale start app-b >/dev/null 2>&1
forget_old_mac "$(scale_id nginx-scale)"
must "app-b healthy again" wait_healthy app-b
compose --profile scale stop >/dev/null 2>&1
check "app-a stopped on SIGTERM with exit code 0" \
    test "$(podman inspect --format '{{.State.ExitCode}}' "$(scale_id app-a)")" = 0
finish

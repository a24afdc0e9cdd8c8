#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian's postgresql-15) for the tests and benchmarks: a cluster in
# a temp folder, listening on loopback only, trust auth for one role `vault`, nothing kept.
#
#   eval "$(bash deploy/postgres.sh start)"   # exports CV_TEST_POSTGRES and PG_DIR
#   bash deploy/postgres.sh stop "$PG_DIR"
#
# CV_TEST_POSTGRES is the URL of a role that may create databases: the integration tests
# (tests/it/helpers.rs) make a fresh database on it for each app they start. The server also
# speaks TLS, with a certificate for 127.0.0.1 from a CA made here (openssl);
# CV_TEST_POSTGRES_CA is that CA's certificate, for `?sslmode=verify-full&sslrootcert=…`.
set -euo pipefail

bin=""
for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/pg_ctl" ]; then bin="$dir"; break; fi
done

install_postgres() {
    local sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 \
        install -y -qq postgresql-15 >/dev/null
    bin=/usr/lib/postgresql/15/bin
}

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user that
# Debian's package creates.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

case "${1:-}" in
start)
    [ -n "$bin" ] || install_postgres
    dir="$(mktemp -d /tmp/cv-postgres.XXXXXX)"
    chmod 0755 "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    port="${PG_PORT:-$((20000 + RANDOM % 20000))}"
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=vault --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    # A throwaway CA and a server certificate for 127.0.0.1 and localhost, valid for a day.
    tls="$dir/tls"
    mkdir "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj "/CN=Contact Vault test CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=localhost" -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/san.ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 1 -extfile "$tls/san.ext" -out "$tls/server.pem" 2>/dev/null
    rm -f "$tls/ca.key" "$tls/server.csr"
    chmod 0600 "$tls/server.key"
    chmod 0644 "$tls/ca.pem" "$tls/server.pem"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tls/server.key" "$tls/server.pem"; fi
    # Throwaway settings: no fsync (nothing here outlives the run), more connections for the
    # suite's parallel tests (each app has a pool of 8).
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --silent \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
            -c max_connections=400 -c ssl=on -c ssl_cert_file=$tls/server.pem \
            -c ssl_key_file=$tls/server.key" start >&2
    echo "export PG_DIR=$dir"
    echo "export CV_TEST_POSTGRES=postgres://vault@127.0.0.1:$port/postgres"
    echo "export CV_TEST_POSTGRES_CA=$tls/ca.pem"
    ;;
stop)
    dir="${2:?the folder that start printed (PG_DIR)}"
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate --wait --silent stop >&2 || true
    rm -rf "$dir"
    ;;
*)
    echo "usage: $0 start | stop PG_DIR" >&2
    exit 2
    ;;
esac

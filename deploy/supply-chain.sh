#!/usr/bin/env bash
# Supply-chain checks of the dependency tree (Cargo.lock), with the policy in deny.toml:
#   - cargo deny check licenses bans sources: every crate's licence may be combined into a
#     GPL-3.0-or-later binary, no OpenSSL/native-tls, crates only from crates.io;
#   - cargo deny check advisories: known vulnerabilities, unsound and (for direct dependencies)
#     unmaintained crates, from the RustSec advisory database. Any advisory that deny.toml does
#     not ignore (with its reason) fails the check, and with it CI.
#
#   bash deploy/supply-chain.sh        (CI calls it from .ci/run)
#
# Installs cargo-deny (pinned below) with `cargo install --locked` when it is missing. The
# advisory database is a git repository on github.com, which this project's machines cannot
# reach; a dated snapshot of it sits beside the repository as a git bundle,
# ../shared/advisory-db/rustsec-advisory-db-YYYY-MM-DD.bundle (ADVISORY_SNAPSHOTS=dir looks
# elsewhere). The newest one is cloned into a temporary db-path and checked without fetching;
# its date is printed. With no snapshot the check runs online if github.com answers, and fails
# otherwise: the advisories are never skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
DB_URL=https://github.com/rustsec/advisory-db
# The folder cargo-deny 0.20 keeps a clone of $DB_URL in, under its db-path (the name is the
# URL's last segment and a hash of the URL; check it again when upgrading cargo-deny: a wrong
# name makes the check fail, it cannot pass unchecked).
DB_DIR=advisory-db-3157b0e258782691
SNAPSHOTS=${ADVISORY_SNAPSHOTS:-../shared/advisory-db}

log() { printf '== %s\n' "$*"; }

install() {
    local tool=$1 version=$2
    if "$tool" --version 2>/dev/null | grep -q "$version"; then
        return
    fi
    log "cargo install --locked $tool@$version"
    cargo install --locked --quiet "$tool" --version "$version"
}
install cargo-deny "$CARGO_DENY_VERSION"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

log "cargo deny $(cargo deny --version | awk '{print $2}'): licenses, bans, sources"
cargo deny --locked check --hide-inclusion-graph --show-stats licenses bans sources

# The newest snapshot: the names carry ISO dates, so the last in sort order.
newest=""
for bundle in "$SNAPSHOTS"/rustsec-advisory-db-*.bundle; do
    [ -f "$bundle" ] && newest=$bundle
done

if [ -n "$newest" ]; then
    date=${newest##*/rustsec-advisory-db-}
    date=${date%.bundle}
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git -c init.defaultBranch=main clone --quiet "$newest" "$tmp/advisory-dbs/$DB_DIR"
    commit=$(git -C "$tmp/advisory-dbs/$DB_DIR" log -1 --format='%h, committed %cs')
    age=$(( ($(date +%s) - $(git -C "$tmp/advisory-dbs/$DB_DIR" log -1 --format=%ct)) / 86400 ))
    log "advisories: RustSec advisory database snapshot of $date ($commit, $age days old), offline"
    echo "   from $newest"
    # The policy of deny.toml with the snapshot as its database.
    sed "/^\[advisories\]/a db-path = \"$tmp/advisory-dbs\"" deny.toml >"$tmp/deny.toml"
    cargo deny --locked --offline --config "$tmp/deny.toml" \
        check --hide-inclusion-graph --show-stats advisories
elif timeout 20 git ls-remote "$DB_URL" HEAD >/dev/null 2>&1; then
    log "advisories: $DB_URL (online; no snapshot in $SNAPSHOTS)"
    cargo deny --locked check --hide-inclusion-graph --show-stats advisories
else
    log "advisories: FAILED - no snapshot in $SNAPSHOTS and $DB_URL cannot be reached" >&2
    exit 1
fi
log "supply chain: ok"

#!/usr/bin/env bash
# Supply-chain checks of the dependency tree (Cargo.lock), with the policy in deny.toml:
#   - cargo deny check licenses bans sources: every crate's licence may be combined into a
#     GPL-3.0-or-later binary, no OpenSSL/native-tls, crates only from crates.io;
#   - cargo deny check advisories and cargo audit: known vulnerabilities, unsound, yanked and
#     (for direct dependencies) unmaintained crates, from the RustSec advisory database.
#
#   bash deploy/supply-chain.sh        (CI calls it from .ci/run)
#
# Installs cargo-deny and cargo-audit (pinned below) with `cargo install --locked` when they
# are missing; cargo-audit only where it can run (it does nothing without the advisory
# database, and takes over ten minutes to build on this machine). The advisory database is a git repository on github.com, which this project's
# machines cannot reach (crates.io is reachable, github.com does not resolve): the advisory
# checks run when `git ls-remote` reaches it within 20 s, and are reported as skipped, loudly,
# when it does not. ADVISORY_DB=/path/to/advisory-db (a local clone) runs cargo audit offline.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DENY_VERSION=0.20.2
CARGO_AUDIT_VERSION=0.22.2
DB_URL=https://github.com/rustsec/advisory-db

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

if [ -n "${ADVISORY_DB:-}" ]; then
    # cargo-deny keeps its own clones under its db-path; cargo audit reads a plain clone.
    log "advisories from the local clone $ADVISORY_DB (cargo audit)"
    install cargo-audit "$CARGO_AUDIT_VERSION"
    cargo audit --no-fetch --db "$ADVISORY_DB"
elif timeout 20 git ls-remote "$DB_URL" HEAD >/dev/null 2>&1; then
    log "advisories ($DB_URL)"
    cargo deny --locked check advisories
    install cargo-audit "$CARGO_AUDIT_VERSION"
    cargo audit
else
    log "advisories: SKIPPED - the RustSec database ($DB_URL) cannot be fetched from this machine"
    echo "   (licences, bans and sources were checked; set ADVISORY_DB to a local clone to check advisories)"
fi
log "supply chain: ok"

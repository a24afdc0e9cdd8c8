# Sourced by the deploy/ test scripts: sets BIN to the absolute path of the release binary to
# test, CV_BIN when given, otherwise after `cargo build --release --locked` (run from the
# project's root, as the scripts are).
if [ -n "${CV_BIN:-}" ]; then
    BIN=$CV_BIN
else
    printf '== %s\n' "cargo build --release --locked"
    cargo build --release --locked --bin contact-vault
    BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/release/contact-vault"
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || { echo "no binary at $BIN" >&2; exit 1; }

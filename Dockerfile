# syntax=docker/dockerfile:1
# Contact Vault: build the release binary, then run it alone on a slim Debian.
# Templates (askama), static files (rust-embed) and migrations (sqlx::migrate!) are compiled into
# the binary, so the runtime stage needs only the binary (and a CA bundle for outgoing TLS).

# --- build -----------------------------------------------------------------------------------
# sqlx 0.9 needs Rust >= 1.94. The slim toolchain image already has gcc for the bundled SQLite;
# nothing links OpenSSL (rustls, RustCrypto), so no -dev packages are needed.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies first, in their own layer: build them against empty targets so that this layer is
# reused until Cargo.toml or Cargo.lock change. Cargo refuses a manifest whose targets are
# missing, so every target it names ([[bin]], [[test]], [[bench]], [[example]], at its `path` or
# the default one) gets a stub; only the library and the binary are built.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY Cargo.toml Cargo.lock ./
COPY crates/core/Cargo.toml crates/core/Cargo.toml
# Build settings of the bundled SQLite (LIBSQLITE3_FLAGS).
COPY .cargo ./.cargo
RUN awk 'function emit() { if (kind == "") return; if (path == "") path = (kind == "bin" ? "src/bin" : kind == "test" ? "tests" : kind == "bench" ? "benches" : "examples") "/" name ".rs"; print path; kind = "" } \
         function value(s) { sub(/^[^"]*"/, "", s); sub(/".*$/, "", s); return s }; \
         /^\[\[(bin|test|bench|example)\]\]/ { emit(); kind = $0; gsub(/[][ \t]/, "", kind); name = path = ""; next }; \
         /^\[/ { emit(); next }; \
         kind != "" && /^[ \t]*name[ \t]*=/ { name = value($0) }; \
         kind != "" && /^[ \t]*path[ \t]*=/ { path = value($0) }; \
         END { emit() }' Cargo.toml \
    | while read -r stub; do mkdir -p "$(dirname "$stub")" && echo 'fn main() {}' > "$stub"; done \
    && mkdir -p src crates/core/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs crates/core/src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src crates/core/src

# Then the application. Touch the crate roots: the copied files keep their old modification
# times, and cargo would otherwise take the empty build above as up to date.
COPY src ./src
COPY crates ./crates
COPY templates ./templates
COPY static ./static
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs crates/core/src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/contact-vault /usr/local/bin/contact-vault

# --- run -------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# An unprivileged user owning the data volume (database and, on a first run without keys in the
# environment, keys.env).
RUN groupadd --system --gid 10001 contact-vault \
    && useradd --system --uid 10001 --gid contact-vault --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin contact-vault \
    && mkdir /data \
    && chown contact-vault:contact-vault /data \
    && chmod 0700 /data

COPY --from=build /usr/local/bin/contact-vault /usr/local/bin/contact-vault
# reqwest (NumVerify) verifies TLS against the system's CA store: take the toolchain image's
# bundle rather than installing the ca-certificates package here.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt

ENV BIND=0.0.0.0:8080 \
    DATA_DIR=/data

VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001

# Health check without curl or wget: both would add a package (and its libraries) to keep
# patched in an image that otherwise holds one binary. bash, which Debian always ships, opens the
# TCP connection itself (/dev/tcp), sends a plain HTTP/1.0 request and checks for "200".
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["/usr/local/bin/contact-vault"]
CMD ["serve"]

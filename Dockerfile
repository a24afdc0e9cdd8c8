# syntax=docker/dockerfile:1
# Contact Vault: build the release binary, then run it alone on a slim Debian.
# Templates (askama), static files (rust-embed) and migrations (sqlx::migrate!) are compiled into
# the binary, so the runtime stage needs only the binary (and a CA bundle for outgoing TLS).

# --- build -----------------------------------------------------------------------------------
# sqlx 0.9 needs Rust >= 1.94. The slim toolchain image already has gcc for the bundled SQLite;
# nothing links OpenSSL (rustls, RustCrypto), so no -dev packages are needed.
FROM rust:1.95-slim-bookworm AS chef
# cargo-chef caches the dependencies in a layer of their own: `prepare` writes a recipe of the
# manifests (Cargo.toml, Cargo.lock, .cargo/config.toml, every target's path), `cook` builds
# the dependencies from that recipe alone. The recipe changes only when the manifests do, so an
# edit of the source rebuilds the project's two crates and nothing else.
RUN cargo install cargo-chef --version 0.1.78 --locked \
    && rm -rf "$CARGO_HOME/registry"
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --bin contact-vault --recipe-path recipe.json
# Then the application. Only what the binary is built from (templates, static files and
# migrations are compiled in); the stub targets that `cook` left for the tests, benches and
# examples stay, so that cargo accepts the manifest.
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY crates ./crates
COPY templates ./templates
COPY static ./static
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs crates/core/src/lib.rs \
    && cargo build --release --locked --bin contact-vault \
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

//! Crash durability and overload of the real release binary (issue 8).
//!
//! Every test starts `contact-vault serve` as a child process (path from `CV_BIN`, default
//! `target/release/contact-vault`) on a temporary data directory and a free loopback port,
//! with `CAPTCHA=off`, NumVerify off and generated keys. Every test is `#[ignore]`d, so a
//! plain `cargo test` skips them. Run them (after `cargo build --release --locked`):
//!
//! ```sh
//! CV_BIN=target/release/contact-vault \
//!     cargo test --locked --test durability -- --ignored --test-threads=1 --nocapture
//! ```
//!
//! - `crash_durability` (about 65 s): API and public-form writers while the server is killed
//!   with SIGKILL 20 times; then every acknowledged write must be there, whole, and nothing
//!   else (see `crash.rs`). `CV_SEED` repeats a run's kill timings.
//! - `overload` (about 40 s): a book of 100,000 contacts, then ten times the rate limits for
//!   30 s; no 5xx, no timeouts, 429s on every limited route, `/healthz` always within 1 s, RSS
//!   under 200 MB (see `overload.rs`).
//! - `outbox_resumes_after_sigkill` (about 15 s): notifications of new messages wait in the
//!   outbox while the webhook is down, the server is killed, and the next one delivers them
//!   (see `outbox.rs`).
//!
//! - `two_instances_behind_nginx_on_postgres_and_redis` (about 15 s): two binaries on one
//!   PostgreSQL (`CV_TEST_POSTGRES`) and one Redis behind NGINX; one of them killed mid-traffic
//!   (see `instances.rs`).
//!
//! Traffic goes to 127.0.0.0/8 only; the form and sign-in limits are per client address, so
//! requests come from many 127.x.y.z source addresses.

mod crash;
mod instances;
mod ledger;
mod load;
mod net;
mod outbox;
mod overload;
mod server;
mod verify;

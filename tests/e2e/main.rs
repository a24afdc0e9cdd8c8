//! Real-browser end-to-end tests (headless Chromium through chromedriver).
//!
//! Every test is `#[ignore]`d so that a plain `cargo test` passes without a browser. Run them:
//!
//! ```sh
//! cargo test --test e2e -- --ignored --test-threads=1
//! ```
//!
//! `CHROME_BIN` and `CHROMEDRIVER` override `/usr/bin/chromium` and `/usr/bin/chromedriver`;
//! `E2E_SCREENSHOTS` moves the screenshots out of `docs/screenshots`.

#[path = "../it/helpers.rs"]
#[allow(dead_code)]
mod helpers;

mod common;
mod harness;

// The journeys, in the order a person meets them (tests run in name order).
mod j1_setup;
mod j2_visitor;
mod j3_inbox;
mod j4_book;
mod j5_session;
mod j6_pages;
mod j7_no_js;

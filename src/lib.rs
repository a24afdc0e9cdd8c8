//! Contact Vault: a contact manager that keeps every personal field encrypted at rest.
//!
//! Where things live: routes are wired in [`startup`], page handlers in [`web`], JSON handlers
//! in [`api`], sessions and guards in [`auth`]. SQL ([`store`]), cryptography ([`crypto`]),
//! the domain types, the audit chain and the clock are in the `vault-core` crate
//! (`crates/core/`), re-exported here under their old names.

// The core's modules, under the names the rest of this crate (and its tests) use.
pub use vault_core::{audit, clock, crypto, domain, store};

pub mod api;
pub mod auth;
pub mod book;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod inbox;
pub mod ops;
pub mod ratelimit;
pub mod spam;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;

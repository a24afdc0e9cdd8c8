//! Contact Vault: a contact manager that keeps every personal field encrypted at rest.
//!
//! Where things live: routes are wired in [`startup`], page handlers in [`web`], JSON handlers
//! in [`api`], sessions, CSRF and guards in [`auth`], what both faces share in [`http`]. The
//! services, the domain types, the cryptography and every SQL statement are in the
//! `vault-core` crate (`crates/core/`), whose public modules are re-exported here by name.

// The core's modules, under the names the rest of this crate (and its tests) use.
pub use vault_core::{accounts, audit, book, clock, crypto, domain, inbox, ops};

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dav;
pub mod error;
pub mod http;
pub mod notify;
pub mod pages;
pub mod ratelimit;
pub mod routes;
pub mod spam;
pub mod startup;
pub mod state;
pub mod telemetry;

//! Contact Vault: a contact manager that keeps every personal field encrypted at rest.
//!
//! Where things live: routes are wired in [`startup`], page handlers in [`web`], JSON handlers
//! in [`api`], SQL in [`store`], cryptography in [`crypto`], sessions and guards in [`auth`].

pub mod api;
pub mod audit;
pub mod auth;
pub mod book;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod inbox;
pub mod ops;
pub mod ratelimit;
pub mod spam;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;

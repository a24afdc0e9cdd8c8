//! The vault's core: what Contact Vault is, without any way of reaching it. Domain types that
//! parse and validate ([`domain`]), the cryptography ([`crypto`]), every SQL statement
//! ([`store`]), the keyed audit chain ([`audit`]) and the injectable clock ([`clock`]).
//!
//! No HTTP, no templates: the crate does not depend on actix or askama, so the compiler keeps
//! those out (see `docs/ARCHITECTURE.md`). The binary crate (`contact-vault`) holds the faces
//! (pages, the JSON API, the CLI) and, for now, the services above the store.

pub mod audit;
pub mod clock;
pub mod crypto;
pub mod domain;
pub mod store;

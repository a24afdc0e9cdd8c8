//! The vault's core: what Contact Vault is and does, without any way of reaching it. Domain
//! types that parse and validate ([`domain`]), the cryptography ([`crypto`]), the services
//! ([`book`], [`inbox`], [`accounts`], [`tickets`], [`ops`], [`audit`]) and, private to this
//! crate, every SQL statement (`store`). Every service takes the one [`Vault`] handle and
//! answers with [`Error`].
//!
//! No HTTP, no templates: the crate does not depend on actix or askama, and nothing outside it
//! can run SQL (see `docs/ARCHITECTURE.md`). The binary crate (`contact-vault`) holds the faces
//! (pages, the JSON API, the CLI).

pub mod accounts;
pub mod audit;
pub mod book;
pub mod clock;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod inbox;
#[cfg(test)]
mod inbox_tests;
pub mod notify;
pub mod ops;
pub(crate) mod store;
/// The store's log filter directive (`store::LOG_FILTER`), for the binary's default filter.
pub use store::LOG_FILTER as DATABASE_LOG_FILTER;
#[cfg(test)]
mod testing;
pub mod tickets;
pub mod vault;

pub use error::{Error, FieldErrors, Result};
pub use vault::Vault;

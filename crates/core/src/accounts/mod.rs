//! Accounts: sign-in and its lockout, second factors, the records of sessions and tokens,
//! password changes, and the users an admin manages. Each write and its audit row go in one
//! transaction; revocations happen in the same transaction as the change that causes them.

pub mod app_passwords;
mod credentials;
mod enrolment;
pub mod keys;
pub mod lockout;
mod mail;
pub mod sessions;
mod sign_in;
mod users;

#[cfg(test)]
mod service_tests;

pub use crate::store::sessions::SessionInfo;
pub use crate::store::tokens::TokenInfo;
pub use crate::store::users::UserRow;
pub use credentials::*;
pub use enrolment::*;
pub use mail::*;
pub use sign_in::*;
pub use users::*;

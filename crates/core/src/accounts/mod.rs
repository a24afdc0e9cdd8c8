//! Accounts: sign-in and its lockout, second factors, sessions' and tokens' records, password
//! changes, and the users an admin manages.

mod flows;
pub mod lockout;
pub mod sessions;
pub mod totp;

pub use crate::store::users::UserRow;
pub use flows::*;

//! Sign-in, sessions, CSRF, TOTP, API tokens and the guards handlers use.

pub mod csrf;
pub mod flows;
pub mod guards;
pub mod lockout;
pub mod session_store;
pub mod totp;

pub use guards::{AdminUser, ApiAdmin, ApiUser, CurrentUser};

/// The session key holding the user who passed the password step but not yet TOTP.
pub const PENDING_USER_KEY: &str = "pending_user";

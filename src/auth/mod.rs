//! The HTTP side of signing in: the session store, CSRF, the guards handlers use and the
//! enrolment QR code. The rules (passwords, lockout, TOTP, tokens) are the core's `accounts`.

pub mod csrf;
pub mod guards;
pub mod qr;
pub mod session_store;
pub mod unlock;

pub use guards::{AdminUser, ApiAdmin, ApiUser, CurrentUser};

/// The session key holding the user who passed the password step but not yet TOTP.
pub const PENDING_USER_KEY: &str = "pending_user";

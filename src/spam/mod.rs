//! What keeps the public form usable for people and costly for bots: an image CAPTCHA (with a
//! spoken alternative), a single-use ticket per form shown, a
//! honeypot field with a minimum fill time, and a phone check (offline first, then NumVerify).

pub mod captcha;
pub mod phone;
pub mod ticket;

use std::sync::atomic::{AtomicU64, Ordering};

/// Submissions dropped as bot traffic since start (logged with each drop).
static BOTS_DROPPED: AtomicU64 = AtomicU64::new(0);

/// Counts a dropped bot submission; returns the running total.
pub fn count_bot() -> u64 {
    BOTS_DROPPED.fetch_add(1, Ordering::Relaxed) + 1
}

/// A person takes at least this long to fill the form.
pub const MIN_FILL_SECONDS: i64 = 2;

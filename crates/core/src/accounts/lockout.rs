//! Per-account throttling of password guesses, whichever address they come from.
//!
//! Every password check (sign-in on the page or the API, and the re-entry of the current
//! password before a sensitive change) first *claims* an attempt inside a write transaction:
//! the attempt is counted as a failure before the password is even looked at, and a success
//! clears the count again. So concurrent guesses cannot slip past the lock: once the count is
//! reached, the next claim is refused without any password being verified.
//!
//! - Five failures in a row are free; the fifth locks the account name for 1 minute, and each
//!   further failure (possible only once a lock has run out) doubles it, up to 15 minutes. A
//!   day without failures forgets the count. Names that do not exist are counted the same way,
//!   so a lock says nothing about which accounts exist.
//! - A lock never shuts a person out for good, and a stranger cannot use it to keep them out:
//!   it lasts at most 15 minutes, guesses during it are refused without extending it, and a
//!   *remembered browser* (one that completed a sign-in to that account within 90 days, see
//!   `known_devices`) is not subject to the account's lock at all. Its own wrong guesses are
//!   counted on it instead: five and it is forgotten.
//! - Attempts for one account name take turns within a server process ([`Turns`]), so the
//!   count a claim sees is exact there and a person's concurrent sign-ins never lock each other
//!   out. Across processes the count is claimed first and cleared on success, which can only
//!   err towards refusing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::store::Conn;
use tokio::sync::OwnedMutexGuard;

use crate::store::login_guard::{self, FailureRow};

/// Failures in a row before the account name locks.
pub const FREE_FAILURES: i64 = 5;
/// The first lock; each further failure doubles it.
pub const FIRST_LOCK_SECONDS: i64 = 60;
/// The longest lock.
pub const MAX_LOCK_SECONDS: i64 = 15 * 60;
/// A count this old is forgotten.
pub const FORGET_SECONDS: i64 = 24 * 3600;
/// Wrong passwords from a remembered browser before it is forgotten.
pub const DEVICE_MAX_FAILURES: i64 = 5;
/// How long a browser stays remembered after a sign-in.
pub const DEVICE_SECONDS: i64 = 90 * 24 * 3600;

/// One queue per account name: the password attempts for a name run one after the other.
#[derive(Default)]
pub struct Turns {
    queues: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Turns {
    /// Waits for `username`'s turn; it lasts as long as the guard.
    pub async fn wait(&self, username: &str) -> OwnedMutexGuard<()> {
        let queue = {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            // Queues nobody waits on any more are dropped, so the map stays small.
            queues.retain(|_, q| Arc::strong_count(q) > 1);
            queues.entry(username.to_string()).or_default().clone()
        };
        queue.lock_owned().await
    }
}

/// The outcome of claiming an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Go on and check the password. `locks_for` is set when this attempt, if it fails, is the
    /// one that locked the account (for the audit).
    Allowed {
        locks_for: Option<i64>,
        via_device: bool,
    },
    /// Refused without checking: try again in this many seconds.
    Locked { retry_after: i64 },
}

/// The account's count after one more attempt, or the seconds its lock still runs.
pub fn next_failure(row: Option<FailureRow>, now: i64) -> Result<FailureRow, i64> {
    let mut row = row
        .filter(|r| r.last_failure > now - FORGET_SECONDS)
        .unwrap_or(FailureRow {
            failures: 0,
            locked_until: None,
            last_failure: now,
        });
    if let Some(until) = row.locked_until.filter(|until| *until > now) {
        return Err(until - now);
    }
    row.failures += 1;
    row.last_failure = now;
    row.locked_until = (row.failures >= FREE_FAILURES).then(|| now + lock_seconds(row.failures));
    Ok(row)
}

/// 60 s at the fifth failure, doubling with each one after it, at most 15 minutes.
pub fn lock_seconds(failures: i64) -> i64 {
    let doublings = (failures - FREE_FAILURES).clamp(0, 10) as u32;
    (FIRST_LOCK_SECONDS << doublings).min(MAX_LOCK_SECONDS)
}

/// Claims one password attempt for `username` (lower-case, as stored). `device` is the digest
/// of the browser's remembered-device cookie, checked against `user_id`. Call inside a write
/// transaction (`store::begin_write`) and commit before verifying the password.
pub async fn claim(
    tx: &mut Conn,
    username: &str,
    user_id: Option<i64>,
    device: Option<&str>,
    now: i64,
) -> crate::store::DbResult<Claim> {
    if let (Some(device), Some(user_id)) = (device, user_id)
        && let Some(failures) = login_guard::device_failures(tx, device, user_id, now).await?
    {
        if failures + 1 >= DEVICE_MAX_FAILURES {
            // The last try this browser gets; it is forgotten unless the password is right.
            login_guard::delete_device(tx, device).await?;
        } else {
            login_guard::set_device_failures(tx, device, failures + 1).await?;
        }
        return Ok(Claim::Allowed {
            locks_for: None,
            via_device: true,
        });
    }
    let current = login_guard::failures(tx, username).await?;
    match next_failure(current, now) {
        Err(retry_after) => Ok(Claim::Locked { retry_after }),
        Ok(row) => {
            login_guard::set_failures(tx, username, row).await?;
            let locks_for = (row.failures >= FREE_FAILURES).then(|| lock_seconds(row.failures));
            Ok(Claim::Allowed {
                locks_for,
                via_device: false,
            })
        }
    }
}

/// The password was right: the claimed attempt was no failure after all.
pub async fn succeeded(
    tx: &mut Conn,
    username: &str,
    user_id: i64,
    device: Option<&str>,
    via_device: bool,
    now: i64,
) -> crate::store::DbResult<()> {
    match device {
        Some(device) if via_device => {
            // Re-remembered with a clean count (it may have been deleted on its last try).
            login_guard::insert_device(tx, device, user_id, now, now + DEVICE_SECONDS).await
        }
        _ => login_guard::clear_failures(tx, username).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn run(
        attempts: usize,
        mut now: i64,
        step: i64,
    ) -> (Option<FailureRow>, Vec<Result<i64, i64>>) {
        let mut row = None;
        let mut out = Vec::new();
        for _ in 0..attempts {
            match next_failure(row, now) {
                Ok(r) => {
                    out.push(Ok(r.failures));
                    row = Some(r);
                }
                Err(wait) => out.push(Err(wait)),
            }
            now += step;
        }
        (row, out)
    }

    #[test]
    fn five_failures_lock_and_further_guesses_do_not_extend() {
        let (row, out) = run(8, NOW, 1);
        assert_eq!(out[..5], [Ok(1), Ok(2), Ok(3), Ok(4), Ok(5)]);
        assert_eq!(out[5], Err(59));
        assert_eq!(out[7], Err(57));
        assert_eq!(row.and_then(|r| r.locked_until), Some(NOW + 4 + 60));
    }

    #[test]
    fn each_lock_after_the_first_doubles_up_to_fifteen_minutes() {
        assert_eq!(lock_seconds(4), 60);
        assert_eq!(lock_seconds(5), 60);
        assert_eq!(lock_seconds(6), 120);
        assert_eq!(lock_seconds(8), 480);
        assert_eq!(lock_seconds(9), 900);
        assert_eq!(lock_seconds(1000), 900);
        // One guess per lock once it has run out: never a permanent lock.
        let row = FailureRow {
            failures: 5,
            locked_until: Some(NOW),
            last_failure: NOW - 60,
        };
        let after = next_failure(Some(row), NOW).unwrap();
        assert_eq!(after.failures, 6);
        assert_eq!(after.locked_until, Some(NOW + 120));
    }

    #[test]
    fn a_day_without_failures_forgets_the_count() {
        let row = FailureRow {
            failures: 9,
            locked_until: Some(NOW - FORGET_SECONDS + 900),
            last_failure: NOW - FORGET_SECONDS,
        };
        let after = next_failure(Some(row), NOW).unwrap();
        assert_eq!(after.failures, 1);
        assert_eq!(after.locked_until, None);
    }
}

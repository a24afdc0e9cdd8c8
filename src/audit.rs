//! The audit trail: one row per state change, each row carrying the hash of the previous one
//! so that `contact-vault audit verify` notices an edited or removed row. Details hold ids and
//! counts, never a decrypted personal field.

use sha2::{Digest, Sha256};
use sqlx::{SqliteConnection, SqlitePool};

use crate::store::audit::{self as rows, AuditRow};

/// Action names, upper-case as in the old app's log.
pub mod action {
    pub const LOGIN_OK: &str = "LOGIN_OK";
    pub const LOGIN_FAIL: &str = "LOGIN_FAIL";
    pub const LOGIN_TOTP_FAIL: &str = "LOGIN_TOTP_FAIL";
    pub const LOGIN_RECOVERY_CODE: &str = "LOGIN_RECOVERY_CODE";
    pub const TOTP_LOCKED: &str = "TOTP_LOCKED";
    /// Too many wrong passwords for one account name, from any address.
    pub const LOGIN_LOCKED: &str = "LOGIN_LOCKED";
    /// A wrong current password typed before a sensitive change.
    pub const REAUTH_FAIL: &str = "REAUTH_FAIL";
    pub const PASSWORD_REHASHED: &str = "PASSWORD_REHASHED";
    pub const SESSION_REVOKED: &str = "SESSION_REVOKED";
    pub const TOKEN_REVOKED: &str = "TOKEN_REVOKED";
    pub const SIGNED_OUT_EVERYWHERE: &str = "SIGNED_OUT_EVERYWHERE";
    pub const LOGOUT: &str = "LOGOUT";
    pub const PASSWORD_CHANGED: &str = "PASSWORD_CHANGED";
    pub const TOTP_ENABLED: &str = "TOTP_ENABLED";
    pub const TOTP_DISABLED: &str = "TOTP_DISABLED";
    pub const TOTP_RESET: &str = "TOTP_RESET";
    pub const RECOVERY_CODES_REGENERATED: &str = "RECOVERY_CODES_REGENERATED";
    pub const CREATE_USER: &str = "CREATE_USER";
    pub const DELETE_USER: &str = "DELETE_USER";
    pub const ADD_CONTACT: &str = "ADD_CONTACT";
    pub const EDIT_CONTACT: &str = "EDIT_CONTACT";
    pub const DELETE_CONTACT: &str = "DELETE_CONTACT";
    pub const FAVORITE_CONTACT: &str = "FAVORITE_CONTACT";
    pub const IMPORT_CSV: &str = "IMPORT_CSV";
    pub const EXPORT_CSV: &str = "EXPORT_CSV";
    pub const IMPORT_LEGACY: &str = "IMPORT_LEGACY";
    pub const KEYS_ROTATED: &str = "KEYS_ROTATED";
    pub const RECEIVE_SUBMISSION: &str = "RECEIVE_SUBMISSION";
    pub const VIEW_SUBMISSION: &str = "VIEW_SUBMISSION";
    pub const NOTE_SUBMISSION: &str = "NOTE_SUBMISSION";
    pub const STATUS_SUBMISSION: &str = "STATUS_SUBMISSION";
    pub const CONVERT_SUBMISSION: &str = "CONVERT_SUBMISSION";
    pub const DELETE_SUBMISSION: &str = "DELETE_SUBMISSION";
}

/// Who did it. `user_id` is None for anonymous events (a failed login of an unknown name).
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub user_id: Option<i64>,
    pub username: &'a str,
}

/// Appends an event. Call it inside the write transaction (`store::begin_write`) that makes
/// the change, so the change and its record land together and the chain stays linear.
pub async fn record(
    db: &mut SqliteConnection,
    now: i64,
    actor: Actor<'_>,
    action: &str,
    detail: &str,
) -> sqlx::Result<()> {
    let prev_hash = rows::last_hash(db).await?.unwrap_or_default();
    let id = rows::next_id(db).await?;
    let mut row = AuditRow {
        id,
        ts: now,
        user_id: actor.user_id,
        username: actor.username.to_string(),
        action: action.to_string(),
        detail: detail.to_string(),
        prev_hash,
        hash: String::new(),
    };
    row.hash = chain_hash(&row);
    rows::insert(db, &row).await
}

/// Records an event in a transaction of its own (for events that change nothing else).
pub async fn record_alone(
    db: &SqlitePool,
    now: i64,
    actor: Actor<'_>,
    action: &str,
    detail: &str,
) -> sqlx::Result<()> {
    let mut tx = crate::store::begin_write(db).await?;
    record(&mut tx, now, actor, action, detail).await?;
    tx.commit().await
}

/// SHA-256 over the previous hash and every field, each length-prefixed so that no two
/// different rows serialise alike.
fn chain_hash(row: &AuditRow) -> String {
    let mut h = Sha256::new();
    let user = row.user_id.map(|u| u.to_string()).unwrap_or_default();
    let fields = [
        row.prev_hash.as_str(),
        &row.id.to_string(),
        &row.ts.to_string(),
        &user,
        &row.username,
        &row.action,
        &row.detail,
    ];
    for field in fields {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// The outcome of checking the whole chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok { rows: usize },
    Broken { id: i64, reason: &'static str },
}

pub fn verify_rows(all: &[AuditRow]) -> Verdict {
    let mut prev: Option<&AuditRow> = None;
    for row in all {
        let expected_prev = prev.map(|p| p.hash.as_str()).unwrap_or("");
        let expected_id = prev.map(|p| p.id + 1).unwrap_or(1);
        if row.id != expected_id {
            return Verdict::Broken {
                id: row.id,
                reason: "a row before this one is missing",
            };
        }
        if row.prev_hash != expected_prev {
            return Verdict::Broken {
                id: row.id,
                reason: "does not follow the row before it",
            };
        }
        if row.hash != chain_hash(row) {
            return Verdict::Broken {
                id: row.id,
                reason: "its content was changed",
            };
        }
        prev = Some(row);
    }
    Verdict::Ok { rows: all.len() }
}

pub async fn verify(db: &SqlitePool) -> sqlx::Result<Verdict> {
    Ok(verify_rows(&rows::all(db).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRow> {
        let mut out: Vec<AuditRow> = Vec::new();
        for id in 1..=n {
            let mut row = AuditRow {
                id,
                ts: 1_700_000_000 + id,
                user_id: Some(7),
                username: "ann".into(),
                action: action::LOGIN_OK.into(),
                detail: String::new(),
                prev_hash: out.last().map(|r| r.hash.clone()).unwrap_or_default(),
                hash: String::new(),
            };
            row.hash = chain_hash(&row);
            out.push(row);
        }
        out
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_rows(&chain(5)), Verdict::Ok { rows: 5 });
        assert_eq!(verify_rows(&[]), Verdict::Ok { rows: 0 });
    }

    #[test]
    fn edits_and_removals_are_found() {
        let mut edited = chain(5);
        edited[2].detail = "changed".into();
        assert!(matches!(
            verify_rows(&edited),
            Verdict::Broken { id: 3, .. }
        ));

        let mut removed = chain(5);
        removed.remove(1);
        assert!(matches!(
            verify_rows(&removed),
            Verdict::Broken { id: 3, .. }
        ));

        let mut rechained = chain(5);
        rechained[4].action = "LOGOUT".into();
        rechained[4].hash = chain_hash(&rechained[4]);
        rechained[3].username = "eve".into();
        assert!(matches!(
            verify_rows(&rechained),
            Verdict::Broken { id: 4, .. }
        ));
    }
}

//! The audit trail: one row per state change, each row carrying the hash of the previous one,
//! keyed with the audit key (`crypto::chain`), so that `contact-vault audit verify` notices an
//! edited, removed or re-chained row. Cutting rows off the end leaves a shorter valid chain:
//! the head (id and hash of the last row) goes to the log at every start and every
//! [`HEAD_LOG_EVERY`] events, and `audit verify --head ID:HASH` checks the chain against it.
//! Details hold ids and counts, never a decrypted personal field.
//!
//! Chains written before the key (plain SHA-256) are kept as they are, as a legacy prefix: the
//! first keyed row after them carries the last legacy hash in its keyed link, so the prefix
//! cannot change without breaking that row. At start-up a chain that ends in legacy rows gets
//! such an anchor ([`anchor_legacy_chain`]); a chain of legacy rows alone does not verify.

use crate::store::Conn;

use crate::crypto::chain::{AuditKey, keyed_hash, legacy_hash};
use crate::error::Result;
use crate::store::audit as rows;
use crate::vault::Vault;

pub use crate::store::audit::AuditRow;

/// The head is logged whenever this many more events have been written.
pub const HEAD_LOG_EVERY: i64 = 1000;

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
    pub const IMPORT_VCARD: &str = "IMPORT_VCARD";
    pub const EXPORT_VCARD: &str = "EXPORT_VCARD";
    pub const RENAME_BOOK: &str = "RENAME_BOOK";
    pub const NOTIFY_MAIL_SET: &str = "NOTIFY_MAIL_SET";
    pub const APP_PASSWORD_CREATED: &str = "APP_PASSWORD_CREATED";
    pub const APP_PASSWORD_REVOKED: &str = "APP_PASSWORD_REVOKED";
    pub const IMPORT_LEGACY: &str = "IMPORT_LEGACY";
    pub const KEYS_ROTATED: &str = "KEYS_ROTATED";
    /// A user's own keys were made (detail: `state=ready`, or `state=converting` and what
    /// credentials without a wrap were dropped).
    pub const USER_KEYS_CREATED: &str = "USER_KEYS_CREATED";
    /// A user's book moved from the server's keys to theirs (detail: `contacts=N`).
    pub const USER_KEYS_CONVERTED: &str = "USER_KEYS_CONVERTED";
    /// A user's TOTP secret moved from the server's keys to theirs, at their sign-in.
    pub const TOTP_SECRET_MOVED: &str = "TOTP_SECRET_MOVED";
    /// The inbox got its key pair (detail: `held=true` while no admin has keys, else
    /// `grants=N`).
    pub const INBOX_KEY_CREATED: &str = "INBOX_KEY_CREATED";
    /// The first admin with keys replaced the held inbox key (detail: `resealed=N grants=N`).
    pub const INBOX_KEY_CLAIMED: &str = "INBOX_KEY_CLAIMED";
    /// An admin got the inbox key (detail: `user_id= username= via=pass-by|grant|claim`).
    pub const INBOX_KEY_GRANTED: &str = "INBOX_KEY_GRANTED";
    /// Messages from before the inbox had a key were sealed to it (detail: `submissions=N
    /// notes=N`).
    pub const INBOX_RESEALED: &str = "INBOX_RESEALED";
    pub const RECEIVE_SUBMISSION: &str = "RECEIVE_SUBMISSION";
    pub const VIEW_SUBMISSION: &str = "VIEW_SUBMISSION";
    pub const NOTE_SUBMISSION: &str = "NOTE_SUBMISSION";
    pub const STATUS_SUBMISSION: &str = "STATUS_SUBMISSION";
    pub const CONVERT_SUBMISSION: &str = "CONVERT_SUBMISSION";
    pub const DELETE_SUBMISSION: &str = "DELETE_SUBMISSION";
    pub const AUDIT_CHAIN_KEYED: &str = "AUDIT_CHAIN_KEYED";
}

/// Who did it. `user_id` is None for anonymous events (a failed login of an unknown name).
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub user_id: Option<i64>,
    pub username: &'a str,
}

/// Appends an event. Call it inside the write transaction (`store::begin_write`) that makes
/// the change, so the change and its record land together and the chain stays linear.
pub(crate) async fn record(
    db: &mut Conn,
    key: &AuditKey,
    now: i64,
    actor: Actor<'_>,
    action: &str,
    detail: &str,
) -> crate::store::DbResult<()> {
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
    row.hash = chain_hash(key, &row);
    rows::insert(db, &row).await?;
    // Every row below this one was committed before this write transaction began, so the
    // previous row is a head that cannot be rolled back.
    if id > 1 && (id - 1) % HEAD_LOG_EVERY == 0 {
        log_head(id - 1, &row.prev_hash);
    }
    Ok(())
}

/// Records the event in `tx` and commits: the change `tx` made and its record land together
/// (the ending of most writes of the services).
pub(crate) async fn commit_with(
    mut tx: crate::store::WriteTx,
    key: &AuditKey,
    now: i64,
    actor: Actor<'_>,
    action: &str,
    detail: &str,
) -> Result<()> {
    record(&mut tx, key, now, actor, action, detail).await?;
    tx.commit().await?;
    Ok(())
}

/// Records an event in a transaction of its own (for events that change nothing else).
pub(crate) async fn record_alone(
    db: &crate::store::Db,
    key: &AuditKey,
    now: i64,
    actor: Actor<'_>,
    action: &str,
    detail: &str,
) -> crate::store::DbResult<()> {
    let mut tx = crate::store::begin_write(db).await?;
    record(&mut tx, key, now, actor, action, detail).await?;
    tx.commit().await
}

fn fields(row: &AuditRow) -> [String; 7] {
    [
        row.prev_hash.clone(),
        row.id.to_string(),
        row.ts.to_string(),
        row.user_id.map(|u| u.to_string()).unwrap_or_default(),
        row.username.clone(),
        row.action.clone(),
        row.detail.clone(),
    ]
}

/// The keyed link hash over the previous hash and every field.
fn chain_hash(key: &AuditKey, row: &AuditRow) -> String {
    let f = fields(row);
    keyed_hash(key, &f.each_ref().map(String::as_str))
}

/// The hash of chains written before the key (SHA-256 with the same framing).
pub fn legacy_chain_hash(row: &AuditRow) -> String {
    let f = fields(row);
    legacy_hash(&f.each_ref().map(String::as_str))
}

fn log_head(id: i64, hash: &str) {
    tracing::info!(audit_head_id = id, audit_head_hash = %hash, "audit chain head");
}

/// The id and hash of the last event, as `audit verify --head` takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub id: i64,
    pub hash: String,
}

impl std::str::FromStr for Head {
    type Err = String;

    /// `ID:HASH`, as the log line's `audit_head_id` and `audit_head_hash`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || "expected ID:HASH (an event id, a colon, 64 hex digits)".to_string();
        let (id, hash) = s.trim().split_once(':').ok_or_else(bad)?;
        let id = id
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(bad)?;
        let hash = hash.to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Head { id, hash })
    }
}

/// Logs the current head (at start-up).
pub async fn log_current_head(vault: &Vault) -> Result<()> {
    match rows::head(&vault.db).await? {
        Some((id, hash)) => log_head(id, &hash),
        None => tracing::info!(audit_head_id = 0, "audit chain is empty"),
    }
    Ok(())
}

/// Anchors a chain that ends in rows written before the key: appends an
/// `AUDIT_CHAIN_KEYED` event whose keyed link covers the last legacy hash. Does nothing when
/// the chain is empty, already ends in a keyed row, or does not verify as a legacy chain
/// (that is left for `audit verify` to report). Returns the number of legacy rows anchored.
pub async fn anchor_legacy_chain(vault: &Vault) -> Result<usize> {
    let (key, now) = (&vault.keys.audit, vault.clock.now());
    let mut tx = crate::store::begin_write(&vault.db).await?;
    let Some(last) = rows::last(&mut tx).await? else {
        return Ok(0);
    };
    if last.hash == chain_hash(key, &last) {
        return Ok(0);
    }
    let all = rows::all_in(&mut tx).await?;
    if !matches!(
        verify_rows(&all, key, None),
        Verdict::Broken {
            reason: UNANCHORED,
            ..
        }
    ) {
        tracing::error!(
            "the audit chain ends in rows that are neither keyed nor a valid legacy chain;              left as it is (run `contact-vault audit verify`)"
        );
        return Ok(0);
    }
    let actor = Actor {
        user_id: None,
        username: "system",
    };
    let detail = format!("legacy_rows={}", all.len());
    record(&mut tx, key, now, actor, action::AUDIT_CHAIN_KEYED, &detail).await?;
    tx.commit().await?;
    tracing::warn!(
        legacy_rows = all.len(),
        "anchored an audit chain written before the audit key; expected once, after the upgrade"
    );
    Ok(all.len())
}

/// A page of events, newest first: everyone's (`of_user` None, for admins) or one user's.
/// The pages and the API both read the trail through this.
pub async fn events(
    vault: &Vault,
    of_user: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditRow>, i64)> {
    Ok(rows::page(&vault.db, of_user, limit, offset).await?)
}

/// The newest event's id and hash (what `audit verify --head` is given), if any.
pub async fn head(vault: &Vault) -> Result<Option<(i64, String)>> {
    Ok(rows::head(&vault.db).await?)
}

/// Every event, oldest first (for `audit verify` and inspection).
pub async fn all(vault: &Vault) -> Result<Vec<AuditRow>> {
    Ok(rows::all(&vault.db).await?)
}

/// The outcome of checking the whole chain.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok { rows: usize },
    Broken { id: i64, reason: &'static str },
}

const UNANCHORED: &str =
    "the chain has only unkeyed (pre-key) events, anchored by no keyed one (start the server once)";

/// Checks the links, the keyed hashes and, with `head`, that the chain still holds that event
/// unchanged (fewer rows than the head's id means rows were cut off the end).
pub fn verify_rows(all: &[AuditRow], key: &AuditKey, head: Option<&Head>) -> Verdict {
    let mut prev: Option<&AuditRow> = None;
    let mut keyed_seen = false;
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
        if row.hash == chain_hash(key, row) {
            keyed_seen = true;
        } else if keyed_seen && row.hash == legacy_chain_hash(row) {
            return Verdict::Broken {
                id: row.id,
                reason: "it is not signed with the audit key (re-chained after a keyed row)",
            };
        } else if keyed_seen || row.hash != legacy_chain_hash(row) {
            return Verdict::Broken {
                id: row.id,
                reason: "its content was changed",
            };
        }
        prev = Some(row);
    }
    if let Some(last) = all.last()
        && !keyed_seen
    {
        return Verdict::Broken {
            id: last.id,
            reason: UNANCHORED,
        };
    }
    if let Some(head) = head {
        let found = usize::try_from(head.id - 1).ok().and_then(|i| all.get(i));
        match found {
            None => {
                return Verdict::Broken {
                    id: head.id,
                    reason: "the chain ends before the given head: events were cut off",
                };
            }
            Some(row) if row.hash != head.hash => {
                return Verdict::Broken {
                    id: head.id,
                    reason: "this event differs from the given head",
                };
            }
            Some(_) => {}
        }
    }
    Verdict::Ok { rows: all.len() }
}

/// Checks the whole stored chain with the vault's audit key (see [`verify_rows`]).
pub async fn verify(vault: &Vault, head: Option<&Head>) -> Result<Verdict> {
    Ok(verify_rows(
        &rows::all(&vault.db).await?,
        &vault.keys.audit,
        head,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AuditKey {
        AuditKey::derive(&[3u8; 32])
    }

    /// `legacy` rows first, unkeyed as before the key, then keyed ones up to `n`.
    fn chain(n: i64, legacy: i64) -> Vec<AuditRow> {
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
            row.hash = if id <= legacy {
                legacy_chain_hash(&row)
            } else {
                chain_hash(&key(), &row)
            };
            out.push(row);
        }
        out
    }

    fn broken_at(v: Verdict) -> i64 {
        match v {
            Verdict::Broken { id, .. } => id,
            Verdict::Ok { .. } => panic!("verified"),
        }
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(
            verify_rows(&chain(5, 0), &key(), None),
            Verdict::Ok { rows: 5 }
        );
        assert_eq!(verify_rows(&[], &key(), None), Verdict::Ok { rows: 0 });
        // Another key verifies nothing.
        let other = AuditKey::derive(&[4u8; 32]);
        assert_eq!(broken_at(verify_rows(&chain(5, 0), &other, None)), 1);
    }

    #[test]
    fn edits_and_removals_are_found() {
        let mut edited = chain(5, 0);
        edited[2].detail = "changed".into();
        assert_eq!(broken_at(verify_rows(&edited, &key(), None)), 3);

        let mut removed = chain(5, 0);
        removed.remove(1);
        assert_eq!(broken_at(verify_rows(&removed, &key(), None)), 3);

        // Re-chained without the key: from row 3 on, every hash recomputed unkeyed.
        let mut rechained = chain(5, 0);
        for i in 2..5 {
            rechained[i].detail = "forged".into();
            rechained[i].prev_hash = rechained[i - 1].hash.clone();
            rechained[i].hash = legacy_chain_hash(&rechained[i]);
        }
        assert_eq!(broken_at(verify_rows(&rechained, &key(), None)), 3);

        // The whole chain re-chained unkeyed: no keyed row anchors it.
        let all_unkeyed = chain(5, 5);
        assert_eq!(
            verify_rows(&all_unkeyed, &key(), None),
            Verdict::Broken {
                id: 5,
                reason: UNANCHORED
            }
        );
    }

    #[test]
    fn a_legacy_prefix_verifies_once_anchored_and_cannot_change() {
        assert_eq!(
            verify_rows(&chain(6, 4), &key(), None),
            Verdict::Ok { rows: 6 }
        );
        let mut edited = chain(6, 4);
        edited[1].detail = "changed".into();
        assert_eq!(broken_at(verify_rows(&edited, &key(), None)), 2);
        // Re-hashing the edited legacy rows breaks the keyed anchor after them.
        for i in 1..4 {
            edited[i].prev_hash = edited[i - 1].hash.clone();
            edited[i].hash = legacy_chain_hash(&edited[i]);
        }
        assert_eq!(broken_at(verify_rows(&edited, &key(), None)), 5);
    }

    #[test]
    fn a_head_catches_truncation_and_a_changed_head_row() {
        let full = chain(8, 0);
        let head = Head {
            id: 8,
            hash: full[7].hash.clone(),
        };
        assert_eq!(
            verify_rows(&full, &key(), Some(&head)),
            Verdict::Ok { rows: 8 }
        );
        let cut = &full[..3];
        assert_eq!(verify_rows(cut, &key(), None), Verdict::Ok { rows: 3 });
        assert_eq!(broken_at(verify_rows(cut, &key(), Some(&head))), 8);
        let wrong = Head {
            id: 2,
            hash: full[3].hash.clone(),
        };
        assert_eq!(broken_at(verify_rows(&full, &key(), Some(&wrong))), 2);
    }

    #[test]
    fn heads_parse_as_id_colon_hash() {
        let hash = "ab".repeat(32);
        assert_eq!(
            format!("12:{hash}").parse::<Head>(),
            Ok(Head {
                id: 12,
                hash: hash.clone()
            })
        );
        for bad in [
            "",
            "12",
            ":ab",
            "x:ab",
            "0:aa",
            "12:abc",
            &format!("-1:{hash}"),
        ] {
            assert!(bad.parse::<Head>().is_err(), "{bad}");
        }
    }
}

//! Accounts, TOTP state and recovery codes.

use sqlx::FromRow;

use super::{Conn, Db, DbResult, Flag};

use crate::domain::{Role, Username};

#[derive(Clone, Debug, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    /// Fernet token of the TOTP secret (present during enrolment and once enabled).
    pub totp_secret: Option<String>,
    #[sqlx(try_from = "Flag")]
    pub totp_enabled: bool,
    pub totp_last_step: Option<i64>,
    pub totp_failures: i64,
    pub totp_locked_until: Option<i64>,
    pub created: i64,
    /// The version of the user's contact book when this row was read (see
    /// `store::contacts::bump_version`).
    pub data_version: i64,
    /// The user's X25519 public key (standard base64); NULL until their keys exist.
    pub public_key: Option<String>,
    /// The salt of the password's key-encryption key (standard base64).
    pub key_salt: Option<String>,
    /// The user's keys wrapped under the password's KEK; NULL: the book is still under the
    /// server's keys (it moves at the next sign-in).
    pub key_wrap: Option<String>,
    /// 'converting' while the book moves to the user's keys, then 'ready'.
    pub key_state: Option<String>,
    /// The keys, unwrapped from the credential of this request (never stored).
    #[sqlx(skip)]
    pub keys: Option<crate::crypto::user_keys::UserKeys>,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::from_db(&self.role)
    }

    pub fn is_admin(&self) -> bool {
        self.role() == Role::Admin
    }

    /// Admins must have TOTP before they can use anything else.
    pub fn must_enrol_totp(&self) -> bool {
        self.is_admin() && !self.totp_enabled
    }
}

const COLUMNS: &str = "id, username, password_hash, role, totp_secret, totp_enabled, totp_last_step, \
                       totp_failures, totp_locked_until, created, data_version, public_key, key_salt, \
                       key_wrap, key_state";

pub async fn find_by_username(db: &mut Conn, username: &str) -> DbResult<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE username = $1"
    )))
    .bind(username)
    .fetch_optional(db)
    .await
}

/// The owner of a live API token (stored as its SHA-256 digest) and the token's wrap of their
/// keys, in one query.
pub async fn find_by_token(
    db: &Db,
    token_hash: &str,
    now: i64,
) -> DbResult<Option<(UserRow, Option<String>)>> {
    #[derive(FromRow)]
    struct WithWrap {
        #[sqlx(flatten)]
        user: UserRow,
        token_wrap: Option<String>,
    }
    let found: Option<WithWrap> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS}, (SELECT key_wrap FROM api_tokens WHERE token_hash = $1) AS token_wrap
         FROM users
         WHERE id = (SELECT user_id FROM api_tokens WHERE token_hash = $1 AND expires > $2)"
    )))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(found.map(|f| (f.user, f.token_wrap)))
}

pub async fn find_by_id(db: &mut Conn, id: i64) -> DbResult<Option<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn list(db: &Db) -> DbResult<Vec<UserRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users ORDER BY username"
    )))
    .fetch_all(db)
    .await
}

pub async fn count_admins(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(db)
        .await
}

/// Is there an admin? Inside the caller's transaction (the first-admin check).
pub async fn admin_exists(db: &mut Conn) -> DbResult<bool> {
    sqlx::query_scalar::<_, Flag>("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')")
        .fetch_one(db)
        .await
        .map(bool::from)
}

/// Inserts a user; `Ok(None)` when the name is taken.
pub async fn create(
    db: &mut Conn,
    username: &Username,
    password_hash: &str,
    role: Role,
    now: i64,
) -> DbResult<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO users (username, password_hash, role, created) VALUES ($1, $2, $3, $4)
         ON CONFLICT (username) DO NOTHING RETURNING id",
    )
    .bind(username.as_str())
    .bind(password_hash)
    .bind(role.as_str())
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Deletes a user; sessions, tokens and recovery codes go with it (ON DELETE CASCADE).
/// Deletes the user; their contacts, tokens and app passwords go with them (foreign keys), and
/// so do the CardDAV tombstones their contacts left.
pub async fn delete(db: &mut Conn, id: i64) -> DbResult<bool> {
    let result = sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(id)
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM dav_tombstones WHERE owner_id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_password_hash(db: &mut Conn, id: i64, hash: &str) -> DbResult<()> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Starts (or restarts) enrolment: stores a new encrypted secret, TOTP off until confirmed.
pub async fn set_pending_totp(db: &mut Conn, id: i64, secret_token: &str) -> DbResult<()> {
    sqlx::query(
        "UPDATE users SET totp_secret = $1, totp_enabled = 0, totp_last_step = NULL,
                          totp_failures = 0, totp_locked_until = NULL WHERE id = $2",
    )
    .bind(secret_token)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the TOTP secret `old` by `new` (the same secret sealed under other keys); `false`
/// if it changed meanwhile (a new enrolment), which is then left alone.
pub async fn reseal_totp(db: &mut Conn, id: i64, old: &str, new: &str) -> DbResult<bool> {
    let done = sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2 AND totp_secret = $3")
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Enables the stored secret without a confirming code (headless enrolment).
pub async fn enable_totp(db: &mut Conn, id: i64) -> DbResult<()> {
    sqlx::query("UPDATE users SET totp_enabled = 1 WHERE id = $1 AND totp_secret IS NOT NULL")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Turns TOTP off and forgets the secret and recovery codes (admin reset, user opt-out).
pub async fn clear_totp(db: &mut Conn, id: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE users SET totp_secret = NULL, totp_enabled = 0, totp_last_step = NULL,
                          totp_failures = 0, totp_locked_until = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *db)
    .await?;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records an accepted TOTP step, atomically refusing a step not newer than the last one.
/// Returns false when the step was already used (a replay, possibly concurrent).
pub async fn accept_totp_step(db: &mut Conn, id: i64, step: i64, enable: bool) -> DbResult<bool> {
    let result = sqlx::query(
        "UPDATE users SET totp_last_step = $1, totp_failures = 0, totp_locked_until = NULL,
                          totp_enabled = CASE WHEN $2 THEN 1 ELSE totp_enabled END
         WHERE id = $3 AND (totp_last_step IS NULL OR totp_last_step < $4)",
    )
    .bind(step)
    .bind(enable)
    .bind(id)
    .bind(step)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Counts a wrong second-factor code; the fifth in a row locks the step for `lock_seconds`.
/// Returns true when this failure started a lock.
pub async fn record_totp_failure(
    db: &mut Conn,
    id: i64,
    now: i64,
    max_failures: i64,
    lock_seconds: i64,
) -> DbResult<bool> {
    let failures: i64 = sqlx::query_scalar(
        "UPDATE users SET totp_failures = totp_failures + 1 WHERE id = $1 RETURNING totp_failures",
    )
    .bind(id)
    .fetch_one(&mut *db)
    .await?;
    if failures >= max_failures {
        sqlx::query("UPDATE users SET totp_failures = 0, totp_locked_until = $1 WHERE id = $2")
            .bind(now + lock_seconds)
            .bind(id)
            .execute(db)
            .await?;
        return Ok(true);
    }
    Ok(false)
}

pub async fn replace_recovery_codes(
    db: &mut Conn,
    user_id: i64,
    hashes: &[String],
) -> DbResult<()> {
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    for hash in hashes {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
            .bind(user_id)
            .bind(hash)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// Marks an unused recovery code as used; false when there is no such unused code.
pub async fn use_recovery_code(
    db: &mut Conn,
    user_id: i64,
    hash: &str,
    now: i64,
) -> DbResult<bool> {
    let result = sqlx::query(
        "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
    )
    .bind(now)
    .bind(user_id)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn unused_recovery_codes(db: &Db, user_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .fetch_one(db)
        .await
}

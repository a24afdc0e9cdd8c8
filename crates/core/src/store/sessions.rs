//! Server-side web sessions (see `auth::session_store` for the actix-session adapter).
//! Rows are keyed by the SHA-256 of the cookie's random key.

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

#[derive(Debug, FromRow)]
pub struct SessionRow {
    pub state: String,
    pub created: i64,
    pub expires: i64,
}

pub async fn load(db: &Db, key_hash: &str) -> DbResult<Option<SessionRow>> {
    sqlx::query_as("SELECT state, created, expires FROM sessions WHERE key_hash = $1")
        .bind(key_hash)
        .fetch_optional(db)
        .await
}

/// The columns kept beside a session's state: whose it is, and how the account page shows it.
#[derive(Debug, Default)]
pub struct Labels {
    pub user_id: Option<i64>,
    pub sid: Option<String>,
    pub user_agent: Option<String>,
}

/// A signed-in session as the account page lists it.
#[derive(Debug, FromRow)]
pub struct SessionInfo {
    pub sid: String,
    pub user_agent: Option<String>,
    pub created: i64,
    pub expires: i64,
}

pub async fn insert(
    db: &Db,
    key_hash: &str,
    labels: &Labels,
    state: &str,
    created: i64,
    expires: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO sessions (key_hash, user_id, sid, user_agent, state, created, expires)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(key_hash)
    .bind(labels.user_id)
    .bind(&labels.sid)
    .bind(&labels.user_agent)
    .bind(state)
    .bind(created)
    .bind(expires)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the state of an existing session; false when it no longer exists (revoked).
pub async fn update(
    db: &Db,
    key_hash: &str,
    labels: &Labels,
    state: &str,
    expires: i64,
) -> DbResult<bool> {
    let result = sqlx::query(
        "UPDATE sessions SET state = $1, user_id = $2, sid = $3, user_agent = $4, expires = $5
         WHERE key_hash = $6",
    )
    .bind(state)
    .bind(labels.user_id)
    .bind(&labels.sid)
    .bind(&labels.user_agent)
    .bind(expires)
    .bind(key_hash)
    .execute(db)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn touch(db: &Db, key_hash: &str, expires: i64) -> DbResult<()> {
    sqlx::query("UPDATE sessions SET expires = $1 WHERE key_hash = $2")
        .bind(expires)
        .bind(key_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete(db: &Db, key_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE key_hash = $1")
        .bind(key_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every web session of a user, except (optionally) the one making the request.
pub async fn delete_for_user(
    db: &mut Conn,
    user_id: i64,
    keep_key_hash: Option<&str>,
) -> DbResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND key_hash IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(keep_key_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// The live signed-in sessions of a user, newest first.
pub async fn list_for_user(db: &Db, user_id: i64, now: i64) -> DbResult<Vec<SessionInfo>> {
    sqlx::query_as(
        "SELECT sid, user_agent, created, expires FROM sessions
         WHERE user_id = $1 AND sid IS NOT NULL AND expires > $2 ORDER BY created DESC",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await
}

/// Ends one session of a user by its label; false when there is none (or not theirs).
pub async fn delete_by_sid(db: &mut Conn, user_id: i64, sid: &str) -> DbResult<bool> {
    let result = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND sid = $2")
        .bind(user_id)
        .bind(sid)
        .execute(db)
        .await?;
    Ok(result.rows_affected() > 0)
}

pub async fn purge_expired(db: &Db, now: i64) -> DbResult<u64> {
    let result = sqlx::query("DELETE FROM sessions WHERE expires <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

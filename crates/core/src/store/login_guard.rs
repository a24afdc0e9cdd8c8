//! Per-account sign-in throttling (`login_failures`) and remembered browsers
//! (`known_devices`). The policy (how many, how long) is `auth::guard`'s; these are its rows.

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

#[derive(Clone, Copy, Debug, FromRow)]
pub struct FailureRow {
    pub failures: i64,
    pub locked_until: Option<i64>,
    pub last_failure: i64,
}

pub async fn failures(db: &mut Conn, username: &str) -> DbResult<Option<FailureRow>> {
    sqlx::query_as(
        "SELECT failures, locked_until, last_failure FROM login_failures WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db)
    .await
}

pub async fn set_failures(db: &mut Conn, username: &str, row: FailureRow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO login_failures (username, failures, locked_until, last_failure)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (username) DO UPDATE
             SET failures = $2, locked_until = $3, last_failure = $4",
    )
    .bind(username)
    .bind(row.failures)
    .bind(row.locked_until)
    .bind(row.last_failure)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn clear_failures(db: &mut Conn, username: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM login_failures WHERE username = $1")
        .bind(username)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets counters whose last failure is older than `before`.
pub async fn purge_failures(db: &Db, before: i64) -> DbResult<u64> {
    let result = sqlx::query("DELETE FROM login_failures WHERE last_failure < $1 AND (locked_until IS NULL OR locked_until < $2)")
        .bind(before)
        .bind(before)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

pub async fn insert_device(
    db: &mut Conn,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO known_devices (token_hash, user_id, created, expires) VALUES ($1, $2, $3, $4)
         ON CONFLICT (token_hash) DO UPDATE SET failures = 0, expires = excluded.expires",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires)
    .execute(db)
    .await?;
    Ok(())
}

/// The failures counted on a live remembered browser of `user_id`, if it is one.
pub async fn device_failures(
    db: &mut Conn,
    token_hash: &str,
    user_id: i64,
    now: i64,
) -> DbResult<Option<i64>> {
    sqlx::query_scalar(
        "SELECT failures FROM known_devices WHERE token_hash = $1 AND user_id = $2 AND expires > $3",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .fetch_optional(db)
    .await
}

pub async fn set_device_failures(db: &mut Conn, token_hash: &str, failures: i64) -> DbResult<()> {
    sqlx::query("UPDATE known_devices SET failures = $1 WHERE token_hash = $2")
        .bind(failures)
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete_device(db: &mut Conn, token_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM known_devices WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete_devices_for_user(db: &mut Conn, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM known_devices WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn purge_devices(db: &Db, now: i64) -> DbResult<u64> {
    let result = sqlx::query("DELETE FROM known_devices WHERE expires <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

//! API bearer tokens, stored only as SHA-256 digests.

use sqlx::{SqliteConnection, SqlitePool};

pub async fn insert(
    db: &mut SqliteConnection,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, created, expires) VALUES (?, ?, ?, ?)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &mut SqliteConnection, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM api_tokens WHERE token_hash = ?")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes every token of a user, except (optionally) the one making the request.
pub async fn delete_for_user(
    db: &mut SqliteConnection,
    user_id: i64,
    keep_hash: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM api_tokens WHERE user_id = ? AND token_hash IS NOT ?")
        .bind(user_id)
        .bind(keep_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn purge_expired(db: &SqlitePool, now: i64) -> sqlx::Result<u64> {
    let result = sqlx::query("DELETE FROM api_tokens WHERE expires <= ?")
        .bind(now)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

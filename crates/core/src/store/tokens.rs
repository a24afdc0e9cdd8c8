//! API bearer tokens, stored only as SHA-256 digests.

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

/// How many hex digits of a token's digest name it on the account page (not a credential:
/// the digest cannot be turned back into the token).
const ID_LEN: i64 = 16;

/// A live token as the account page lists it.
#[derive(Debug, FromRow)]
pub struct TokenInfo {
    pub id: String,
    pub created: i64,
    pub expires: i64,
}

pub async fn list_for_user(db: &Db, user_id: i64, now: i64) -> DbResult<Vec<TokenInfo>> {
    sqlx::query_as(
        "SELECT substr(token_hash, 1, CAST($1 AS INTEGER)) AS id, created, expires FROM api_tokens
         WHERE user_id = $2 AND expires > $3 ORDER BY created DESC",
    )
    .bind(ID_LEN)
    .bind(user_id)
    .bind(now)
    .fetch_all(db)
    .await
}

/// Revokes one token of a user by its short id; false when there is none (or not theirs).
pub async fn delete_by_id(db: &mut Conn, user_id: i64, id: &str) -> DbResult<bool> {
    if id.len() != ID_LEN as usize || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(false);
    }
    let result =
        sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND substr(token_hash, 1, CAST($2 AS INTEGER)) = $3")
            .bind(user_id)
            .bind(ID_LEN)
            .bind(id)
            .execute(db)
            .await?;
    Ok(result.rows_affected() > 0)
}

pub async fn insert(
    db: &mut Conn,
    token_hash: &str,
    user_id: i64,
    now: i64,
    expires: i64,
    key_wrap: Option<&str>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (token_hash, user_id, created, expires, key_wrap)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(now)
    .bind(expires)
    .bind(key_wrap)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &mut Conn, token_hash: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
        .bind(token_hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Revokes every token of a user, except (optionally) the one making the request.
pub async fn delete_for_user(db: &mut Conn, user_id: i64, keep_hash: Option<&str>) -> DbResult<()> {
    sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2")
        .bind(user_id)
        .bind(keep_hash)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn purge_expired(db: &Db, now: i64) -> DbResult<u64> {
    let result = sqlx::query("DELETE FROM api_tokens WHERE expires <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(result.rows_affected())
}

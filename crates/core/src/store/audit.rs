//! The append-only audit table. Hash chaining is done by `crate::audit`, the hashing itself
//! by `crate::crypto::chain`.

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub ts: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

pub async fn last_hash(db: &mut Conn) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(db)
        .await
}

pub async fn next_id(db: &mut Conn) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log")
        .fetch_one(db)
        .await
}

pub async fn insert(db: &mut Conn, row: &AuditRow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, ts, user_id, username, action, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.id)
    .bind(row.ts)
    .bind(row.user_id)
    .bind(&row.username)
    .bind(&row.action)
    .bind(&row.detail)
    .bind(&row.prev_hash)
    .bind(&row.hash)
    .execute(db)
    .await?;
    Ok(())
}

/// One page of events, newest first; `user_id = None` means every user's (admins).
pub async fn page(
    db: &Db,
    user_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<AuditRow>, i64)> {
    let rows = sqlx::query_as(
        "SELECT id, ts, user_id, username, action, detail, prev_hash, hash FROM audit_log
         WHERE (CAST($1 AS BIGINT) IS NULL OR user_id = $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(user_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE (CAST($1 AS BIGINT) IS NULL OR user_id = $1)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

const ALL: &str =
    "SELECT id, ts, user_id, username, action, detail, prev_hash, hash FROM audit_log ORDER BY id";

/// Every row in order, for `audit verify`.
pub async fn all(db: &Db) -> DbResult<Vec<AuditRow>> {
    sqlx::query_as(ALL).fetch_all(db).await
}

/// Every row in order, inside the caller's transaction.
pub async fn all_in(db: &mut Conn) -> DbResult<Vec<AuditRow>> {
    sqlx::query_as(ALL).fetch_all(db).await
}

/// The newest row.
pub async fn last(db: &mut Conn) -> DbResult<Option<AuditRow>> {
    sqlx::query_as(
        "SELECT id, ts, user_id, username, action, detail, prev_hash, hash FROM audit_log
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(db)
    .await
}

/// Id and hash of the newest row (the chain's head).
pub async fn head(db: &Db) -> DbResult<Option<(i64, String)>> {
    sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
        .fetch_optional(db)
        .await
}

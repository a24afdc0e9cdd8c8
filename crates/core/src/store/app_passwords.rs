//! App passwords (per-device CardDAV credentials), stored as SHA-256 digests; the device's
//! name is a Fernet token under its owner's book keys (the server's for a book not yet moved).

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

/// An app password as the account page and the API list it (the name still sealed).
#[derive(Debug, FromRow)]
pub struct AppPasswordRow {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

pub async fn list_for_user(db: &Db, user_id: i64) -> DbResult<Vec<AppPasswordRow>> {
    sqlx::query_as(
        "SELECT id, name, created, last_used FROM app_passwords
         WHERE user_id = $1 ORDER BY created DESC, id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

pub async fn count_for_user(db: &mut Conn, user_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM app_passwords WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// An app password about to be stored: its name sealed, its secret only as a digest, and the
/// wrap of the user's keys under the secret (`None` for a book still under the server's keys).
pub struct NewAppPassword<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub sealed_name: &'a str,
    pub secret_hash: &'a str,
    pub key_wrap: Option<&'a str>,
}

pub async fn insert(db: &mut Conn, new: &NewAppPassword<'_>, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO app_passwords (id, user_id, name, secret_hash, created, key_wrap)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.sealed_name)
    .bind(new.secret_hash)
    .bind(now)
    .bind(new.key_wrap)
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes one of the user's app passwords; false when there is none (or not theirs).
pub async fn delete(db: &mut Conn, user_id: i64, id: &str) -> DbResult<bool> {
    let result = sqlx::query("DELETE FROM app_passwords WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn delete_for_user(db: &mut Conn, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM app_passwords WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The user's app password with this digest, if it is one: (id, last use, wrap of the keys).
pub async fn find(
    db: &Db,
    user_id: i64,
    secret_hash: &str,
) -> DbResult<Option<(String, Option<i64>, Option<String>)>> {
    sqlx::query_as(
        "SELECT id, last_used, key_wrap FROM app_passwords WHERE user_id = $1 AND secret_hash = $2",
    )
    .bind(user_id)
    .bind(secret_hash)
    .fetch_optional(db)
    .await
}

pub async fn touch(db: &Db, id: &str, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE app_passwords SET last_used = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

//! The columns of per-user keys (migration 0014), and the reads and writes that move a book
//! from the server's keys to its owner's (`accounts::keys::convert`).

use sqlx::FromRow;

use super::contacts::{ContactRow, SealedContact};
use super::{Conn, Db, DbResult};

/// A user's keys as first stored: the public key, the KEK salt and the password's wrap.
pub struct NewKeys<'a> {
    pub public_key: &'a str,
    pub salt: &'a str,
    pub wrap: &'a str,
}

/// Stores a user's first keys with state 'converting' (or 'ready' for a new, empty book),
/// unless they have keys already (another sign-in got there first): `false` then.
pub async fn set_first(
    db: &mut Conn,
    user_id: i64,
    keys: &NewKeys<'_>,
    state: &str,
) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE users SET public_key = $1, key_salt = $2, key_wrap = $3, key_state = $4
         WHERE id = $5 AND key_wrap IS NULL",
    )
    .bind(keys.public_key)
    .bind(keys.salt)
    .bind(keys.wrap)
    .bind(state)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the password's wrap (a new password; the keys stay).
pub async fn set_password_wrap(
    db: &mut Conn,
    user_id: i64,
    salt: &str,
    wrap: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE users SET key_salt = $1, key_wrap = $2 WHERE id = $3")
        .bind(salt)
        .bind(wrap)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_state(db: &mut Conn, user_id: i64, state: &str) -> DbResult<()> {
    sqlx::query("UPDATE users SET key_state = $1 WHERE id = $2")
        .bind(state)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Puts a book under its owner's keys back to 'converting' (rows under the server's keys were
/// added to it, by the legacy import): the next sign-in moves them.
pub async fn reopen(db: &mut Conn, user_id: i64) -> DbResult<()> {
    sqlx::query("UPDATE users SET key_state = 'converting' WHERE id = $1 AND key_state = 'ready'")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Users by the state of their keys: (still under the server's keys, converting, ready).
pub async fn counts(db: &Db) -> DbResult<(i64, i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN key_state IS NULL THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN key_state = 'converting' THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN key_state = 'ready' THEN 1 ELSE 0 END), 0)
         FROM users",
    )
    .fetch_one(db)
    .await
}

/// One contact as the move reads it: its fields, card and CardDAV name, all still sealed.
#[derive(FromRow)]
pub struct MovingRow {
    pub rowid: i64,
    #[sqlx(flatten)]
    pub sealed: SealedContact,
    pub card: Option<String>,
    pub dav_name: Option<String>,
}

pub async fn contacts_after(
    db: &mut Conn,
    owner_id: i64,
    after_rowid: i64,
    limit: i64,
) -> DbResult<Vec<MovingRow>> {
    sqlx::query_as(
        "SELECT rowid, id, name, phone, email, address, company, notes, tags, favorite, created,
                updated, card, dav_name
         FROM contacts WHERE owner_id = $1 AND rowid > $2 ORDER BY rowid LIMIT $3",
    )
    .bind(owner_id)
    .bind(after_rowid)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Rewrites a contact's sealed columns, its blind indexes and its CardDAV name (sealed and
/// keyed) under new keys; what they hold stays the same.
pub async fn reseal(db: &mut Conn, row: &ContactRow, dav: Option<(&str, &str)>) -> DbResult<()> {
    sqlx::query(
        "UPDATE contacts SET name = $1, phone = $2, email = $3, address = $4, company = $5,
                notes = $6, tags = $7, summary = $8, dup_key = $9, card = $10,
                dav_name = $11, dav_key = $12
         WHERE id = $13 AND owner_id = $14",
    )
    .bind(&row.sealed.name)
    .bind(&row.sealed.phone)
    .bind(&row.sealed.email)
    .bind(&row.sealed.address)
    .bind(&row.sealed.company)
    .bind(&row.sealed.notes)
    .bind(&row.sealed.tags)
    .bind(&row.summary)
    .bind(&row.dup_key)
    .bind(&row.card)
    .bind(dav.map(|(name, _)| name))
    .bind(dav.map(|(_, key)| key))
    .bind(&row.sealed.id)
    .bind(row.owner_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The sealed name of the owner's address book, inside a transaction.
pub async fn book_name(db: &mut Conn, owner_id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT book_name FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// The owner's CardDAV tombstones that have a name: (rowid, sealed name).
pub async fn tombstones(db: &mut Conn, owner_id: i64) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT rowid, dav_name FROM dav_tombstones
         WHERE owner_id = $1 AND dav_name IS NOT NULL ORDER BY rowid",
    )
    .bind(owner_id)
    .fetch_all(db)
    .await
}

pub async fn reseal_tombstone(db: &mut Conn, rowid: i64, name: &str, key: &str) -> DbResult<()> {
    sqlx::query("UPDATE dav_tombstones SET dav_name = $1, dav_key = $2 WHERE rowid = $3")
        .bind(name)
        .bind(key)
        .bind(rowid)
        .execute(db)
        .await?;
    Ok(())
}

/// Credentials that carry no wrap of the user's keys (made before the keys existed): they
/// can no longer open the book. Returns how many API tokens and app passwords were removed.
pub async fn drop_unwrapped_credentials(db: &mut Conn, user_id: i64) -> DbResult<(u64, u64)> {
    let tokens = sqlx::query("DELETE FROM api_tokens WHERE user_id = $1 AND key_wrap IS NULL")
        .bind(user_id)
        .execute(&mut *db)
        .await?
        .rows_affected();
    let apps = sqlx::query("DELETE FROM app_passwords WHERE user_id = $1 AND key_wrap IS NULL")
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected();
    Ok((tokens, apps))
}

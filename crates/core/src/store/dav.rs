//! What CardDAV reads beside the contacts themselves: resource names (sealed, found by their
//! blind index), the version each contact last changed at, and the tombstones of deleted ones
//! (both kept by the triggers of migration 0009).

use sqlx::FromRow;

use super::{Conn, Db, DbResult, Flag, begin_write};

use super::contacts::SealedContact;

/// A contact as CardDAV serves it: its shown columns, its card and the version it last
/// changed at.
#[derive(Debug, FromRow)]
pub struct DavRow {
    #[sqlx(flatten)]
    pub sealed: SealedContact,
    pub card: Option<String>,
    pub changed_version: i64,
}

/// A member of a book: its id, sealed resource name and the version it last changed at.
#[derive(Debug, FromRow)]
pub struct Member {
    pub id: String,
    pub dav_name: Option<String>,
    pub changed_version: i64,
}

/// A deleted contact: its id and sealed resource name.
#[derive(Debug, FromRow)]
pub struct Tombstone {
    pub contact_id: String,
    pub dav_name: Option<String>,
}

const SHOWN: &str =
    "id, name, phone, email, address, company, notes, tags, favorite, created, updated";

/// The owner's contact with this resource name: by its blind index, or (for names the server
/// gave, `{id}.vcf`) by id.
pub async fn find(
    db: &mut Conn,
    owner_id: i64,
    dav_key: &str,
    id: Option<&str>,
) -> DbResult<Option<DavRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SHOWN}, card, changed_version FROM contacts
         WHERE owner_id = $1 AND (dav_key = $2 OR (dav_key IS NULL AND id = $3))"
    )))
    .bind(owner_id)
    .bind(dav_key)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Every member of the owner's book, or those changed after `version`.
pub async fn members(db: &Db, owner_id: i64, changed_after: i64) -> DbResult<Vec<Member>> {
    sqlx::query_as(
        "SELECT id, dav_name, changed_version FROM contacts
         WHERE owner_id = $1 AND changed_version > $2 ORDER BY rowid",
    )
    .bind(owner_id)
    .bind(changed_after)
    .fetch_all(db)
    .await
}

/// Contacts deleted after `version` whose resource name no contact holds now.
pub async fn deleted_since(db: &Db, owner_id: i64, version: i64) -> DbResult<Vec<Tombstone>> {
    sqlx::query_as(
        "SELECT contact_id, dav_name FROM (
             SELECT t.contact_id, t.dav_name, t.rowid AS seq,
                    ROW_NUMBER() OVER (PARTITION BY t.contact_id ORDER BY t.rowid) AS nth
             FROM dav_tombstones t
             WHERE t.owner_id = $1 AND t.version > $2
               AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.owner_id = t.owner_id
                               AND (c.dav_key = t.dav_key OR c.id = t.contact_id))
         ) d WHERE nth = 1 ORDER BY seq",
    )
    .bind(owner_id)
    .bind(version)
    .fetch_all(db)
    .await
}

/// Names a contact (before the transaction's version bump, so the name counts as part of
/// the change).
pub async fn set_name(
    db: &mut Conn,
    owner_id: i64,
    id: &str,
    sealed_name: &str,
    dav_key: &str,
) -> DbResult<()> {
    sqlx::query("UPDATE contacts SET dav_name = $1, dav_key = $2 WHERE id = $3 AND owner_id = $4")
        .bind(sealed_name)
        .bind(dav_key)
        .bind(id)
        .bind(owner_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The owner's book version (the sync token) and the newest version whose tombstones were
/// purged (tokens below it are no longer answered).
pub async fn sync_state(db: &Db, owner_id: i64) -> DbResult<(i64, i64)> {
    sqlx::query_as("SELECT data_version, dav_purged_version FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(|v| v.unwrap_or((0, 0)))
}

/// Deletes tombstones written before `before` (seconds), raising each owner's
/// `dav_purged_version` to the newest version deleted, in one transaction. Returns how many
/// were deleted.
pub async fn purge_tombstones(db: &Db, before: i64) -> DbResult<u64> {
    // Nearly always there is nothing to purge: look first, so that the write lock is taken
    // (and held across the two statements) only when there is.
    let Flag(due) =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM dav_tombstones WHERE deleted_at < $1)")
            .bind(before)
            .fetch_one(db)
            .await?;
    if !due {
        return Ok(0);
    }
    let mut tx = begin_write(db).await?;
    sqlx::query(
        "UPDATE users SET dav_purged_version = (SELECT MAX(version) FROM dav_tombstones t
                WHERE t.owner_id = users.id AND t.deleted_at < $1)
         WHERE id IN (SELECT owner_id FROM dav_tombstones WHERE deleted_at < $1)
           AND dav_purged_version < (SELECT MAX(version) FROM dav_tombstones t
                WHERE t.owner_id = users.id AND t.deleted_at < $1)",
    )
    .bind(before)
    .execute(&mut *tx)
    .await?;
    let deleted = sqlx::query("DELETE FROM dav_tombstones WHERE deleted_at < $1")
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

/// The sealed name the owner gave their address book, if any.
pub async fn book_name(db: &Db, owner_id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT book_name FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}

/// Sets (or, with `None`, clears) the sealed name of the owner's address book.
pub async fn set_book_name(db: &mut Conn, owner_id: i64, sealed: Option<&str>) -> DbResult<()> {
    sqlx::query("UPDATE users SET book_name = $1 WHERE id = $2")
        .bind(sealed)
        .bind(owner_id)
        .execute(db)
        .await?;
    Ok(())
}

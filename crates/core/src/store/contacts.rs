//! Contacts, always scoped to their owner: every statement has `owner_id = ?`.

use sqlx::sqlite::SqliteQueryResult;
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection, SqlitePool};

/// A contact as pages show it: its shown columns, the personal ones still Fernet tokens. Reads
/// fetch only these (a list page copies every column value it selects).
#[derive(Clone, Debug, FromRow)]
pub struct SealedContact {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub company: String,
    pub notes: String,
    pub tags: String,
    pub favorite: bool,
    pub created: i64,
    pub updated: i64,
}

/// A stored contact, as written: the shown columns plus its owner, the encrypted summary the
/// directory is built from, and the duplicate key (a blind index).
#[derive(Clone, Debug, FromRow)]
pub struct ContactRow {
    #[sqlx(flatten)]
    pub sealed: SealedContact,
    pub owner_id: i64,
    pub summary: String,
    pub dup_key: String,
    /// The whole vCard (a Fernet token), for contacts that came as one.
    pub card: Option<String>,
}

/// What the in-memory directory is built from.
#[derive(Clone, Debug, FromRow)]
pub struct SummaryRow {
    pub id: String,
    pub summary: String,
    /// The sealed address and notes: a list page shows them from the directory too.
    pub address: String,
    pub notes: String,
    pub favorite: bool,
    pub created: i64,
    pub updated: i64,
    /// The rowid: creation order, for contacts created in the same second.
    pub seq: i64,
}

/// The columns of [`SealedContact`].
const SHOWN: &str =
    "id, name, phone, email, address, company, notes, tags, favorite, created, updated";

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// Inserts a contact and returns its rowid (its place in creation order); `Ok(None)` when the
/// owner already has one with the same duplicate key.
pub async fn insert(db: &mut SqliteConnection, row: &ContactRow) -> sqlx::Result<Option<i64>> {
    let result = insert_chunk(db, &[row]).await?;
    Ok((result.rows_affected() == 1).then(|| result.last_insert_rowid()))
}

/// Rows per statement of [`insert_many`] (15 parameters each, far below SQLite's limit).
const INSERT_BATCH: usize = 64;

/// Inserts many contacts, `INSERT_BATCH` per statement (one round trip to SQLite for each,
/// instead of one per row); a row whose duplicate key its owner already has is skipped.
/// Returns how many were added.
pub async fn insert_many(db: &mut SqliteConnection, rows: &[&ContactRow]) -> sqlx::Result<u64> {
    let mut added = 0;
    for chunk in rows.chunks(INSERT_BATCH) {
        added += insert_chunk(&mut *db, chunk).await?.rows_affected();
    }
    Ok(added)
}

/// One multi-row `INSERT … ON CONFLICT DO NOTHING` of `chunk`.
async fn insert_chunk(
    db: &mut SqliteConnection,
    chunk: &[&ContactRow],
) -> sqlx::Result<SqliteQueryResult> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO contacts (id, owner_id, name, phone, email, address, company, notes, tags,
                               summary, favorite, dup_key, created, updated, card) ",
    );
    q.push_values(chunk, |mut b, row| {
        b.push_bind(&row.sealed.id)
            .push_bind(row.owner_id)
            .push_bind(&row.sealed.name)
            .push_bind(&row.sealed.phone)
            .push_bind(&row.sealed.email)
            .push_bind(&row.sealed.address)
            .push_bind(&row.sealed.company)
            .push_bind(&row.sealed.notes)
            .push_bind(&row.sealed.tags)
            .push_bind(&row.summary)
            .push_bind(row.sealed.favorite)
            .push_bind(&row.dup_key)
            .push_bind(row.sealed.created)
            .push_bind(row.sealed.updated)
            .push_bind(&row.card);
    });
    q.push(" ON CONFLICT (owner_id, dup_key) DO NOTHING");
    q.build().execute(db).await
}

#[derive(Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    NotFound,
    Duplicate,
}

/// Rewrites every column of the owner's contact `row.id`.
pub async fn update(db: &mut SqliteConnection, row: &ContactRow) -> sqlx::Result<UpdateOutcome> {
    let result = sqlx::query(
        "UPDATE contacts SET name = $1, phone = $2, email = $3, address = $4, company = $5, notes = $6, tags = $7,
                             summary = $8, favorite = $9, dup_key = $10, updated = $11, card = $12
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
    .bind(row.sealed.favorite)
    .bind(&row.dup_key)
    .bind(row.sealed.updated)
    .bind(&row.card)
    .bind(&row.sealed.id)
    .bind(row.owner_id)
    .execute(db)
    .await;
    match result {
        Ok(r) if r.rows_affected() == 1 => Ok(UpdateOutcome::Updated),
        Ok(_) => Ok(UpdateOutcome::NotFound),
        Err(e) if is_unique_violation(&e) => Ok(UpdateOutcome::Duplicate),
        Err(e) => Err(e),
    }
}

pub async fn find(
    db: &mut SqliteConnection,
    owner_id: i64,
    id: &str,
) -> sqlx::Result<Option<SealedContact>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SHOWN} FROM contacts WHERE id = $1 AND owner_id = $2"
    )))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(db)
    .await
}

pub async fn delete(db: &mut SqliteConnection, owner_id: i64, id: &str) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM contacts WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Up to `limit` of the owner's summaries after rowid `after`, in rowid order: a directory
/// is read in such batches, so that one batch of sealed rows is in memory at a time.
pub async fn summaries_after(
    db: &mut SqliteConnection,
    owner_id: i64,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<SummaryRow>> {
    sqlx::query_as(
        "SELECT id, summary, address, notes, favorite, created, updated, rowid AS seq \
         FROM contacts WHERE owner_id = $1 AND rowid > $2 ORDER BY rowid LIMIT $3",
    )
    .bind(owner_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn id_by_dup_key(
    db: &mut SqliteConnection,
    owner_id: i64,
    dup_key: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT id FROM contacts WHERE owner_id = $1 AND dup_key = $2")
        .bind(owner_id)
        .bind(dup_key)
        .fetch_optional(db)
        .await
}

/// Up to `limit` contacts after `after_rowid`, in rowid order (for streaming exports).
pub async fn batch_after(
    db: &SqlitePool,
    owner_id: i64,
    after_rowid: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, SealedContact)>> {
    #[derive(FromRow)]
    struct WithRowid {
        rowid: i64,
        #[sqlx(flatten)]
        row: SealedContact,
    }
    let rows: Vec<WithRowid> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT rowid, {SHOWN} FROM contacts WHERE owner_id = $1 AND rowid > $2 ORDER BY rowid LIMIT $3"
    )))
    .bind(owner_id)
    .bind(after_rowid)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.rowid, r.row)).collect())
}

/// The stored card of the owner's contact `id`: `None` when there is no such contact,
/// `Some(None)` when it has no card.
pub async fn card(
    db: &mut SqliteConnection,
    owner_id: i64,
    id: &str,
) -> sqlx::Result<Option<Option<String>>> {
    sqlx::query_scalar("SELECT card FROM contacts WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner_id)
        .fetch_optional(db)
        .await
}

/// As [`batch_after`], with each contact's stored card (for the vCard export).
pub async fn card_batch_after(
    db: &SqlitePool,
    owner_id: i64,
    after_rowid: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, SealedContact, Option<String>)>> {
    #[derive(FromRow)]
    struct WithCard {
        rowid: i64,
        #[sqlx(flatten)]
        row: SealedContact,
        card: Option<String>,
    }
    let rows: Vec<WithCard> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT rowid, {SHOWN}, card FROM contacts
         WHERE owner_id = $1 AND rowid > $2 ORDER BY rowid LIMIT $3"
    )))
    .bind(owner_id)
    .bind(after_rowid)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.rowid, r.row, r.card)).collect())
}

/// The book's version: bumped in the same transaction as every write to it, so every server
/// process knows when its cached directory is stale.
pub async fn bump_version(db: &mut SqliteConnection, owner_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "UPDATE users SET data_version = data_version + 1 WHERE id = $1 RETURNING data_version",
    )
    .bind(owner_id)
    .fetch_one(db)
    .await
}

/// The book's version, inside a transaction (with the batches of [`summaries_after`]).
pub async fn version_in(db: &mut SqliteConnection, owner_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT data_version FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(|v| v.unwrap_or(0))
}

pub async fn version(db: &SqlitePool, owner_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT data_version FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(|v| v.unwrap_or(0))
}

/// Records that a legacy record was imported; false when it already was.
pub async fn mark_legacy_imported(
    db: &mut SqliteConnection,
    kind: &str,
    legacy_id: &str,
) -> sqlx::Result<bool> {
    let r = sqlx::query(
        "INSERT INTO legacy_imports (kind, legacy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(kind)
    .bind(legacy_id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

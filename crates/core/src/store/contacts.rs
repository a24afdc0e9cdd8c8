//! Contacts, always scoped to their owner: every statement has `owner_id = ?`.

use sqlx::{Any, Connection, FromRow, Row};

use super::{Conn, Db, DbResult, Flag};

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
    #[sqlx(try_from = "Flag")]
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
    #[sqlx(try_from = "Flag")]
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
pub async fn insert(db: &mut Conn, row: &ContactRow) -> DbResult<Option<i64>> {
    let sql = insert_sql(1, " RETURNING rowid");
    let added = bind_row(sqlx::query(sqlx::AssertSqlSafe(sql)), row)
        .fetch_optional(db)
        .await?;
    added.map(|r| r.try_get(0)).transpose()
}

/// Rows per statement of [`insert_many`] (15 parameters each, far below the limit of SQLite
/// (32,766) and PostgreSQL (65,535)).
const INSERT_BATCH: usize = 64;
/// The columns [`bind_row`] binds, in its order.
const COLUMNS_PER_ROW: usize = 15;

/// Inserts many contacts, `INSERT_BATCH` per statement (one round trip for each, instead of
/// one per row); a row whose duplicate key its owner already has is skipped. Returns how
/// many were added.
pub async fn insert_many(db: &mut Conn, rows: &[&ContactRow]) -> DbResult<u64> {
    let mut added = 0;
    for chunk in rows.chunks(INSERT_BATCH) {
        let sql = insert_sql(chunk.len(), "");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            q = bind_row(q, row);
        }
        added += q.execute(&mut *db).await?.rows_affected();
    }
    Ok(added)
}

/// A multi-row `INSERT … ON CONFLICT DO NOTHING` of `rows` rows, its placeholders numbered
/// (`$1`…: sqlx's query builder writes `?` under the `Any` driver, which PostgreSQL does not
/// take), then `tail`.
fn insert_sql(rows: usize, tail: &str) -> String {
    let mut sql = String::from(
        "INSERT INTO contacts (id, owner_id, name, phone, email, address, company, notes, tags, \
         summary, favorite, dup_key, created, updated, card) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let first = r * COLUMNS_PER_ROW + 1;
        let row: Vec<String> = (first..first + COLUMNS_PER_ROW)
            .map(|i| format!("${i}"))
            .collect();
        sql.push('(');
        sql.push_str(&row.join(", "));
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (owner_id, dup_key) DO NOTHING");
    sql.push_str(tail);
    sql
}

/// Binds the [`COLUMNS_PER_ROW`] values of `row` in the order of [`insert_sql`].
fn bind_row<'q>(q: AnyQuery<'q>, row: &'q ContactRow) -> AnyQuery<'q> {
    q.bind(&row.sealed.id)
        .bind(row.owner_id)
        .bind(&row.sealed.name)
        .bind(&row.sealed.phone)
        .bind(&row.sealed.email)
        .bind(&row.sealed.address)
        .bind(&row.sealed.company)
        .bind(&row.sealed.notes)
        .bind(&row.sealed.tags)
        .bind(&row.summary)
        .bind(i64::from(row.sealed.favorite))
        .bind(&row.dup_key)
        .bind(row.sealed.created)
        .bind(row.sealed.updated)
        .bind(&row.card)
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments>;

#[derive(Debug, PartialEq, Eq)]
pub enum UpdateOutcome {
    Updated,
    NotFound,
    Duplicate,
}

/// Rewrites every column of the owner's contact `row.id`. Inside a savepoint: on PostgreSQL a
/// failed statement (the duplicate) would otherwise abort the caller's whole transaction.
pub async fn update(db: &mut Conn, row: &ContactRow) -> DbResult<UpdateOutcome> {
    let mut savepoint = db.begin().await?;
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
    .bind(i64::from(row.sealed.favorite))
    .bind(&row.dup_key)
    .bind(row.sealed.updated)
    .bind(&row.card)
    .bind(&row.sealed.id)
    .bind(row.owner_id)
    .execute(&mut *savepoint)
    .await;
    let outcome = match result {
        Ok(r) if r.rows_affected() == 1 => UpdateOutcome::Updated,
        Ok(_) => UpdateOutcome::NotFound,
        Err(e) if is_unique_violation(&e) => {
            savepoint.rollback().await?;
            return Ok(UpdateOutcome::Duplicate);
        }
        Err(e) => return Err(e),
    };
    savepoint.commit().await?;
    Ok(outcome)
}

pub async fn find(db: &mut Conn, owner_id: i64, id: &str) -> DbResult<Option<SealedContact>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SHOWN} FROM contacts WHERE id = $1 AND owner_id = $2"
    )))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(db)
    .await
}

pub async fn delete(db: &mut Conn, owner_id: i64, id: &str) -> DbResult<bool> {
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
    db: &mut Conn,
    owner_id: i64,
    after: i64,
    limit: i64,
) -> DbResult<Vec<SummaryRow>> {
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
    db: &mut Conn,
    owner_id: i64,
    dup_key: &str,
) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT id FROM contacts WHERE owner_id = $1 AND dup_key = $2")
        .bind(owner_id)
        .bind(dup_key)
        .fetch_optional(db)
        .await
}

/// Up to `limit` contacts after `after_rowid`, in rowid order (for streaming exports).
pub async fn batch_after(
    db: &Db,
    owner_id: i64,
    after_rowid: i64,
    limit: i64,
) -> DbResult<Vec<(i64, SealedContact)>> {
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
pub async fn card(db: &mut Conn, owner_id: i64, id: &str) -> DbResult<Option<Option<String>>> {
    sqlx::query_scalar("SELECT card FROM contacts WHERE id = $1 AND owner_id = $2")
        .bind(id)
        .bind(owner_id)
        .fetch_optional(db)
        .await
}

/// As [`batch_after`], with each contact's stored card (for the vCard export).
pub async fn card_batch_after(
    db: &Db,
    owner_id: i64,
    after_rowid: i64,
    limit: i64,
) -> DbResult<Vec<(i64, SealedContact, Option<String>)>> {
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
pub async fn bump_version(db: &mut Conn, owner_id: i64) -> DbResult<i64> {
    sqlx::query_scalar(
        "UPDATE users SET data_version = data_version + 1 WHERE id = $1 RETURNING data_version",
    )
    .bind(owner_id)
    .fetch_one(db)
    .await
}

/// As [`bump_version`], only while the book is under the keys the write used: its owner's
/// (`own_keys`) or the server's. `None` otherwise (the book moved meanwhile: nothing bumped).
pub async fn bump_version_if(
    db: &mut Conn,
    owner_id: i64,
    own_keys: bool,
) -> DbResult<Option<i64>> {
    let sql = if own_keys {
        "UPDATE users SET data_version = data_version + 1
         WHERE id = $1 AND key_state IS NOT NULL RETURNING data_version"
    } else {
        "UPDATE users SET data_version = data_version + 1
         WHERE id = $1 AND key_state IS NULL RETURNING data_version"
    };
    sqlx::query_scalar(sql)
        .bind(owner_id)
        .fetch_optional(db)
        .await
}

/// The book's version, inside a transaction (with the batches of [`summaries_after`]).
pub async fn version_in(db: &mut Conn, owner_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT data_version FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(|v| v.unwrap_or(0))
}

pub async fn version(db: &Db, owner_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT data_version FROM users WHERE id = $1")
        .bind(owner_id)
        .fetch_optional(db)
        .await
        .map(|v| v.unwrap_or(0))
}

/// Records that a legacy record was imported; false when it already was.
pub async fn mark_legacy_imported(db: &mut Conn, kind: &str, legacy_id: &str) -> DbResult<bool> {
    let r = sqlx::query(
        "INSERT INTO legacy_imports (kind, legacy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(kind)
    .bind(legacy_id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

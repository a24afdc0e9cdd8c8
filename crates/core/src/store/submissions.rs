//! Public form submissions and the admins' notes on them.

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

#[derive(Clone, Debug, FromRow)]
pub struct SubmissionRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub message: String,
    pub preferred_time: String,
    pub preferred_date: Option<String>,
    pub status: String,
    pub verification: String,
    pub line_type: Option<String>,
    pub carrier: Option<String>,
    pub country: Option<String>,
    pub repeat_key: String,
    pub contact_id: Option<String>,
    pub created: i64,
    pub updated: i64,
    /// 1 for a sender's first message, 2 for the second, … (by the blind repeat key).
    pub nth: i64,
}

#[derive(Clone, Debug, FromRow)]
pub struct NoteRow {
    pub author: String,
    pub body: String,
    pub created: i64,
}

const SELECT: &str = "SELECT s.id, s.name, s.email, s.phone, s.message, s.preferred_time, s.preferred_date, s.status,
       s.verification, s.line_type, s.carrier, s.country, s.repeat_key, s.contact_id, s.created, s.updated,
       (SELECT COUNT(*) FROM submissions r WHERE r.repeat_key = s.repeat_key AND r.rowid <= s.rowid) AS nth
  FROM submissions s";

pub async fn insert(db: &mut Conn, row: &SubmissionRow) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO submissions (id, name, email, phone, message, preferred_time, preferred_date, status,
                                  verification, line_type, carrier, country, repeat_key, contact_id, created, updated)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8, $9, $10, $11, $12, NULL, $13, $14)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.email)
    .bind(&row.phone)
    .bind(&row.message)
    .bind(&row.preferred_time)
    .bind(&row.preferred_date)
    .bind(&row.verification)
    .bind(&row.line_type)
    .bind(&row.carrier)
    .bind(&row.country)
    .bind(&row.repeat_key)
    .bind(row.created)
    .bind(row.updated)
    .execute(db)
    .await?;
    Ok(())
}

/// Newest first, optionally of one status.
pub async fn page(
    db: &Db,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<SubmissionRow>, i64)> {
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE (CAST($1 AS TEXT) IS NULL OR s.status = $1) ORDER BY s.created DESC, s.rowid DESC LIMIT $2 OFFSET $3"
    )))
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar(
        "SELECT COUNT(*) FROM submissions WHERE (CAST($1 AS TEXT) IS NULL OR status = $1)",
    )
    .bind(status)
    .fetch_one(db)
    .await?;
    Ok((rows, total))
}

/// (status, count) for the dashboard.
pub async fn counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT status, COUNT(*) FROM submissions GROUP BY status")
        .fetch_all(db)
        .await
}

pub async fn find(db: &mut Conn, id: &str) -> DbResult<Option<SubmissionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE s.id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn set_status(db: &mut Conn, id: &str, status: &str, now: i64) -> DbResult<bool> {
    let r = sqlx::query("UPDATE submissions SET status = $1, updated = $2 WHERE id = $3")
        .bind(status)
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_contact(db: &mut Conn, id: &str, contact_id: &str, now: i64) -> DbResult<bool> {
    let r = sqlx::query("UPDATE submissions SET contact_id = $1, updated = $2 WHERE id = $3")
        .bind(contact_id)
        .bind(now)
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn delete(db: &mut Conn, id: &str) -> DbResult<bool> {
    let r = sqlx::query("DELETE FROM submissions WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn add_note(
    db: &mut Conn,
    submission_id: &str,
    author: &str,
    body: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO submission_notes (submission_id, author, body, created) VALUES ($1, $2, $3, $4)",
    )
    .bind(submission_id)
    .bind(author)
    .bind(body)
    .bind(now)
    .execute(&mut *db)
    .await?;
    sqlx::query("UPDATE submissions SET updated = $1 WHERE id = $2")
        .bind(now)
        .bind(submission_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn notes(db: &Db, submission_id: &str) -> DbResult<Vec<NoteRow>> {
    sqlx::query_as(
        "SELECT author, body, created FROM submission_notes WHERE submission_id = $1 ORDER BY id",
    )
    .bind(submission_id)
    .fetch_all(db)
    .await
}

//! The public form's single-use tickets (see `spam::ticket`): when a form was shown and the
//! answer of the CAPTCHA shown with it, claimed once by the post.

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

/// What a post claims.
#[derive(Debug, FromRow)]
pub struct Claimed {
    pub started: i64,
    pub answer: Option<String>,
    pub answer_expires: Option<i64>,
}

/// A new ticket, with the CAPTCHA answer shown with it if there already is one.
pub async fn insert(
    db: &mut Conn,
    id: &str,
    started: i64,
    expires: i64,
    answer: Option<(&str, i64)>,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO form_tickets (id, started, answer, answer_expires, expires)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(started)
    .bind(answer.map(|(a, _)| a))
    .bind(answer.map(|(_, e)| e))
    .bind(expires)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &mut Conn, id: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM form_tickets WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Puts a CAPTCHA answer on a live ticket; false when the ticket is gone (claimed, expired).
pub async fn set_answer(
    db: &Db,
    id: &str,
    answer: &str,
    answer_expires: i64,
    now: i64,
) -> DbResult<bool> {
    let r = sqlx::query(
        "UPDATE form_tickets SET answer = $1, answer_expires = $2 WHERE id = $3 AND expires > $4",
    )
    .bind(answer)
    .bind(answer_expires)
    .bind(id)
    .bind(now)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// The ticket's CAPTCHA answer while it is pending (not claimed, not expired).
pub async fn pending_answer(db: &Db, id: &str, now: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar(
        "SELECT answer FROM form_tickets
         WHERE id = $1 AND answer IS NOT NULL AND answer_expires > $2 AND expires > $3",
    )
    .bind(id)
    .bind(now)
    .bind(now)
    .fetch_optional(db)
    .await
}

/// Takes the ticket: one statement, so only one of several concurrent claims gets the row.
pub async fn claim(db: &Db, id: &str, now: i64) -> DbResult<Option<Claimed>> {
    sqlx::query_as(
        "DELETE FROM form_tickets WHERE id = $1 AND expires > $2
         RETURNING started, answer, answer_expires",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(db)
    .await
}

pub async fn purge_expired(db: &Db, now: i64) -> DbResult<u64> {
    let r = sqlx::query("DELETE FROM form_tickets WHERE expires <= $1")
        .bind(now)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

//! The notification outbox (`notify_outbox`, migration 0012).

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

#[derive(Clone, Debug, FromRow, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub channel: String,
    pub messages: i64,
    pub created: i64,
    pub due: i64,
    pub attempts: i64,
    pub status: String,
    pub last_error: Option<String>,
    pub sent: Option<i64>,
}

/// Adds one message to the channel's pending notification, if there is one. False if not.
pub async fn gather(db: &mut Conn, channel: &str) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE notify_outbox SET messages = messages + 1 WHERE channel = $1 AND status = 'pending'",
    )
    .bind(channel)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// When the channel last sent a notification.
pub async fn last_sent(db: &mut Conn, channel: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(sent) FROM notify_outbox WHERE channel = $1 AND status = 'sent'")
        .bind(channel)
        .fetch_one(db)
        .await
}

/// A new pending notification of one message, due at `due`.
pub async fn insert(db: &mut Conn, channel: &str, now: i64, due: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO notify_outbox (channel, messages, created, due) VALUES ($1, 1, $2, $3)",
    )
    .bind(channel)
    .bind(now)
    .bind(due)
    .execute(db)
    .await?;
    Ok(())
}

/// The pending notifications due by `now`, oldest first.
pub async fn due(db: &Db, now: i64, limit: i64) -> DbResult<Vec<OutboxRow>> {
    sqlx::query_as(
        "SELECT id, channel, messages, created, due, attempts, status, last_error, sent \
         FROM notify_outbox WHERE status = 'pending' AND due <= $1 ORDER BY due, id LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Takes a due notification for `lease` seconds: true for the one sender (of any instance)
/// that moved its `due` from what it read.
pub async fn claim(db: &Db, row: &OutboxRow, until: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE notify_outbox SET due = $1 WHERE id = $2 AND status = 'pending' AND due = $3",
    )
    .bind(until)
    .bind(row.id)
    .bind(row.due)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Marks a notification sent, if it still tells of the `told` messages it was taken with.
/// False when more were gathered into it while it was being sent.
pub async fn mark_sent(db: &mut Conn, id: i64, told: i64, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE notify_outbox SET status = 'sent', sent = $1, attempts = attempts + 1, \
         last_error = NULL WHERE id = $2 AND messages = $3",
    )
    .bind(now)
    .bind(id)
    .bind(told)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Splits a notification that was sent for `told` of its messages: a sent row for those, and
/// the ones gathered meanwhile pending again, due at `due`.
pub async fn split_sent(db: &mut Conn, id: i64, told: i64, now: i64, due: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO notify_outbox (channel, messages, created, due, attempts, status, sent) \
         SELECT channel, $1, created, due, attempts + 1, 'sent', $2 FROM notify_outbox WHERE id = $3",
    )
    .bind(told)
    .bind(now)
    .bind(id)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "UPDATE notify_outbox SET messages = messages - $1, due = $2, attempts = 0, \
         last_error = NULL WHERE id = $3",
    )
    .bind(told)
    .bind(due)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records a failed attempt: due again at `retry_at`, or `failed` when `give_up`.
pub async fn mark_failed_attempt(
    db: &Db,
    id: i64,
    error: &str,
    retry_at: i64,
    give_up: bool,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE notify_outbox SET attempts = attempts + 1, last_error = $1, due = $2, \
         status = CASE WHEN $3 THEN 'failed' ELSE status END WHERE id = $4",
    )
    .bind(error)
    .bind(retry_at)
    .bind(give_up)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// The newest notifications, for the operations view.
pub async fn recent(db: &Db, limit: i64) -> DbResult<Vec<OutboxRow>> {
    sqlx::query_as(
        "SELECT id, channel, messages, created, due, attempts, status, last_error, sent \
         FROM notify_outbox ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes sent and failed notifications queued before `before` (pending ones stay); returns
/// how many went.
pub async fn purge_done(db: &Db, before: i64) -> DbResult<u64> {
    let done = sqlx::query(
        "DELETE FROM notify_outbox WHERE status IN ('sent', 'failed') AND created < $1",
    )
    .bind(before)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Submissions nobody has handled yet (status `new`): what a notification says is waiting.
pub async fn waiting(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE status = 'new'")
        .fetch_one(db)
        .await
}

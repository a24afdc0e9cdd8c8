//! Admins' own notification addresses (`users.notify_email`, `users.notify_mail`,
//! migration 0013).

use super::{Conn, Db, DbResult, Flag};

/// The user's sealed address (if any) and whether they want mail.
pub async fn choice(db: &Db, user_id: i64) -> DbResult<(Option<String>, bool)> {
    let row: Option<(Option<String>, Flag)> =
        sqlx::query_as("SELECT notify_email, notify_mail FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map_or((None, false), |(address, mail)| (address, mail.0)))
}

/// Sets the user's sealed address (`None`: removes it) and whether they want mail.
pub async fn set_choice(
    db: &mut Conn,
    user_id: i64,
    sealed: Option<&str>,
    mail: bool,
) -> DbResult<()> {
    sqlx::query("UPDATE users SET notify_email = $1, notify_mail = $2 WHERE id = $3")
        .bind(sealed)
        .bind(i64::from(mail))
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The sealed addresses of the admins who want mail, in the order they were made.
pub async fn recipients(db: &Db) -> DbResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT notify_email FROM users \
         WHERE role = 'admin' AND notify_mail = 1 AND notify_email IS NOT NULL ORDER BY id",
    )
    .fetch_all(db)
    .await
}

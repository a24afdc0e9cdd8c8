//! The public form's ticket: a row in `form_tickets` for each form shown, holding when it was
//! shown and the answer of the CAPTCHA shown with it. The session keeps only the ticket's id;
//! the post claims the row in one statement, so it works once however many requests race.

use actix_session::Session;
use sqlx::SqlitePool;

use crate::crypto::token::new_token;
use crate::spam::captcha;
use crate::store::{self, form_tickets};

pub use crate::store::form_tickets::Claimed;

const SESSION_KEY: &str = "form_ticket";
/// How long a shown form may wait to be sent (longer than a session lives idle).
const LIFETIME_SECONDS: i64 = 24 * 3600;

fn current(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_KEY).ok().flatten()
}

/// A fresh ticket for the form being shown; the session's previous one is dropped.
pub async fn open(db: &SqlitePool, session: &Session, now: i64) -> sqlx::Result<()> {
    let id = new_token();
    let mut tx = store::begin_write(db).await?;
    if let Some(old) = current(session) {
        form_tickets::delete(&mut tx, &old).await?;
    }
    form_tickets::insert(&mut tx, &id, now, now + LIFETIME_SECONDS, None).await?;
    tx.commit().await?;
    let _ = session.insert(SESSION_KEY, id);
    Ok(())
}

/// Puts the answer of the CAPTCHA just made on the session's ticket, replacing the previous
/// one. Without a live ticket (no form was shown first, or its post claimed it) a new ticket
/// starts now.
pub async fn set_answer(
    db: &SqlitePool,
    session: &Session,
    answer: &str,
    now: i64,
) -> sqlx::Result<()> {
    let answer = answer.to_uppercase();
    let answer_expires = now + captcha::LIFETIME_SECONDS;
    if let Some(id) = current(session)
        && form_tickets::set_answer(db, &id, &answer, answer_expires, now).await?
    {
        return Ok(());
    }
    let id = new_token();
    let mut conn = db.acquire().await?;
    let shown = Some((answer.as_str(), answer_expires));
    form_tickets::insert(&mut conn, &id, now, now + LIFETIME_SECONDS, shown).await?;
    let _ = session.insert(SESSION_KEY, id);
    Ok(())
}

/// The answer of the CAPTCHA this visitor was shown, while it can still be used.
pub async fn pending_answer(
    db: &SqlitePool,
    session: &Session,
    now: i64,
) -> sqlx::Result<Option<String>> {
    let Some(id) = current(session) else {
        return Ok(None);
    };
    form_tickets::pending_answer(db, &id, now).await
}

/// Takes the session's ticket for a post. `None` when it has none, or another request
/// claimed it first.
pub async fn claim(db: &SqlitePool, session: &Session, now: i64) -> sqlx::Result<Option<Claimed>> {
    let Some(id) = current(session) else {
        return Ok(None);
    };
    session.remove(SESSION_KEY);
    form_tickets::claim(db, &id, now).await
}

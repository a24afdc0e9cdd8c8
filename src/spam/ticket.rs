//! The public form's ticket, as the visitor's session holds it: only the ticket's id (the row
//! and its rules are in `vault_core::tickets`).

use actix_session::Session;

use crate::spam::captcha;
use crate::state::AppState;
use vault_core::error::Result;
use vault_core::tickets;

pub use vault_core::tickets::Claimed;

const SESSION_KEY: &str = "form_ticket";

fn current(session: &Session) -> Option<String> {
    session.get::<String>(SESSION_KEY).ok().flatten()
}

/// A fresh ticket for the form being shown; the session's previous one is dropped.
pub async fn open(state: &AppState, session: &Session, now: i64) -> Result<()> {
    let id = tickets::open(state, current(session).as_deref(), now).await?;
    let _ = session.insert(SESSION_KEY, id);
    Ok(())
}

/// Puts the answer of the CAPTCHA just made on the session's ticket, replacing the previous
/// one. Without a live ticket (no form was shown first, or its post claimed it) a new ticket
/// starts now.
pub async fn set_answer(state: &AppState, session: &Session, answer: &str, now: i64) -> Result<()> {
    let answer = answer.to_uppercase();
    let answer_expires = now + captcha::LIFETIME_SECONDS;
    let current = current(session);
    if let Some(id) =
        tickets::set_answer(state, current.as_deref(), &answer, answer_expires, now).await?
    {
        let _ = session.insert(SESSION_KEY, id);
    }
    Ok(())
}

/// The answer of the CAPTCHA this visitor was shown, while it can still be used.
pub async fn pending_answer(
    state: &AppState,
    session: &Session,
    now: i64,
) -> Result<Option<String>> {
    let Some(id) = current(session) else {
        return Ok(None);
    };
    tickets::pending_answer(state, &id, now).await
}

/// Takes the session's ticket for a post. `None` when it has none, or another request
/// claimed it first.
pub async fn claim(state: &AppState, session: &Session, now: i64) -> Result<Option<Claimed>> {
    let Some(id) = current(session) else {
        return Ok(None);
    };
    session.remove(SESSION_KEY);
    tickets::claim(state, &id, now).await
}

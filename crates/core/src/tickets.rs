//! The public form's tickets: a row in `form_tickets` for each form shown, holding when it was
//! shown and the answer of the CAPTCHA shown with it. The face keeps only the ticket's id (in
//! the visitor's session); a post claims the row in one statement, so it works once however
//! many requests race.

use crate::crypto::token::new_token;
use crate::error::Result;
use crate::store::{self, form_tickets};
use crate::vault::Vault;

pub use crate::store::form_tickets::Claimed;

/// How long a shown form may wait to be sent (longer than a session lives idle).
const LIFETIME_SECONDS: i64 = 24 * 3600;

/// A fresh ticket for the form being shown, replacing `previous`; returns the new id.
pub async fn open(vault: &Vault, previous: Option<&str>, now: i64) -> Result<String> {
    let id = new_token();
    let mut tx = store::begin_write(&vault.db).await?;
    if let Some(old) = previous {
        form_tickets::delete(&mut tx, old).await?;
    }
    form_tickets::insert(&mut tx, &id, now, now + LIFETIME_SECONDS, None).await?;
    tx.commit().await?;
    Ok(id)
}

/// Puts the answer of the CAPTCHA just made on ticket `current`, replacing its previous one.
/// Without a live ticket (no form was shown first, or its post claimed it) a new ticket starts
/// now, and its id is returned for the face to keep.
pub async fn set_answer(
    vault: &Vault,
    current: Option<&str>,
    answer: &str,
    answer_expires: i64,
    now: i64,
) -> Result<Option<String>> {
    if let Some(id) = current
        && form_tickets::set_answer(&vault.db, id, answer, answer_expires, now).await?
    {
        return Ok(None);
    }
    let id = new_token();
    let mut conn = vault.db.acquire().await?;
    let shown = Some((answer, answer_expires));
    form_tickets::insert(&mut conn, &id, now, now + LIFETIME_SECONDS, shown).await?;
    Ok(Some(id))
}

/// The answer of the CAPTCHA shown with ticket `id`, while it can still be used.
pub async fn pending_answer(vault: &Vault, id: &str, now: i64) -> Result<Option<String>> {
    Ok(form_tickets::pending_answer(&vault.db, id, now).await?)
}

/// Takes ticket `id` for a post. `None` when another request claimed it first.
pub async fn claim(vault: &Vault, id: &str, now: i64) -> Result<Option<Claimed>> {
    Ok(form_tickets::claim(&vault.db, id, now).await?)
}

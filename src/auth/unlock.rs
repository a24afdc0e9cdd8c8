//! The unlock cookie: the secret that opens a web session's wrap of its user's keys (issue 18).
//! The wrap sits in the session's server-side state and the secret only in the browser, so
//! neither a copy of the database nor a stolen cookie jar alone opens the book; deleting the
//! session (logout, expiry, revocation, a password change) deletes the wrap with it.

use actix_session::Session;
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};

use crate::accounts::{self, UserRow};
use crate::crypto::token::new_token;
use crate::crypto::user_keys::Credential;
use crate::error::AppError;
use crate::state::AppState;

/// The session-state key of the wrap.
pub const WRAP_KEY: &str = "kw";

fn name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-cv_unlock"
    } else {
        "cv_unlock"
    }
}

/// Wraps `user`'s unlocked keys under a new secret, keeps the wrap in the session and returns
/// the cookie that carries the secret (a browser-session cookie: gone when the browser closes).
pub fn begin(
    state: &AppState,
    session: &Session,
    user: &UserRow,
) -> Result<Option<Cookie<'static>>, AppError> {
    let secret = new_token();
    let Some(wrap) = accounts::keys::session_wrap(user, &secret)? else {
        return Ok(None);
    };
    session
        .insert(WRAP_KEY, wrap)
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(Some(cookie(state, secret)))
}

fn cookie(state: &AppState, secret: String) -> Cookie<'static> {
    Cookie::build(name(state), secret)
        .path("/")
        .http_only(true)
        .secure(state.settings.is_https())
        .same_site(SameSite::Lax)
        .finish()
}

/// The cookie that clears the unlock cookie (at sign-out).
pub fn removal(state: &AppState) -> Cookie<'static> {
    let mut gone = cookie(state, String::new());
    gone.make_removal();
    gone
}

/// Opens `user`'s keys with the request's unlock cookie and its session's wrap. `false` when
/// they stay shut (no cookie, no wrap, or a pair that does not match): the session cannot
/// reach the book and must sign in again.
pub fn open(req: &HttpRequest, state: &AppState, session: &Session, user: &mut UserRow) -> bool {
    let secret = req.cookie(name(state));
    let wrap = session.get::<String>(WRAP_KEY).ok().flatten();
    let secret = secret.as_ref().map(|c| c.value()).unwrap_or("");
    accounts::keys::unlock_with(user, Credential::Session, secret, wrap.as_deref())
}

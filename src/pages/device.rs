//! The remembered-device cookie: a random token a browser gets when it completes a sign-in.
//! The server keeps only its digest (`known_devices`); with it, the browser is not subject to
//! its account's sign-in lock (see `auth::lockout`).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration};

use crate::accounts::lockout::DEVICE_SECONDS;
use crate::state::AppState;

fn name(state: &AppState) -> &'static str {
    if state.settings.is_https() {
        "__Host-cv_device"
    } else {
        "cv_device"
    }
}

/// The cookie's value, if the browser sent one that could be a token.
pub fn from_request(req: &HttpRequest, state: &AppState) -> Option<String> {
    let cookie = req.cookie(name(state))?;
    let value = cookie.value();
    (value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| value.to_string())
}

/// The cookie that carries `token`, for 90 days, to this site only.
pub fn cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(name(state), token)
        .path("/")
        .http_only(true)
        .secure(state.settings.is_https())
        .same_site(SameSite::Lax)
        .max_age(Duration::seconds(DEVICE_SECONDS))
        .finish()
}

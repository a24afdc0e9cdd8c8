//! CSRF protection for every cookie-authenticated request that changes state.
//!
//! Each session holds a random token; every form carries it in a hidden `csrf_token` field
//! (or a script sends it in the `X-CSRF-Token` header), never in the URL, where it would land
//! in proxy logs. The middleware checks it, plus the `Origin` header when the browser sends
//! one, before any handler runs. The CSV import's multipart form is the one exception: its
//! token is the body's first part, which only the handler can read without buffering the
//! file, so the middleware checks `Origin`, marks the request [`CheckInBody`] and the handler
//! checks the token (`http::upload::read_upload`) before it reads the file. `/api/` is exempt:
//! it takes bearer tokens, never cookies.

use actix_session::{Session, SessionExt};
use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};

use crate::crypto::{self, token::new_token};
use crate::error::AppError;
use crate::state::AppState;
use crate::telemetry::loggable_path;

const SESSION_KEY: &str = "csrf";
pub const FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

/// The session's token, created on first use.
pub fn token(session: &Session) -> String {
    if let Ok(Some(existing)) = session.get::<String>(SESSION_KEY) {
        return existing;
    }
    let fresh = new_token();
    // A session that cannot be written only means the next form post fails the check.
    let _ = session.insert(SESSION_KEY, &fresh);
    fresh
}

/// A fresh token for the session (at each sign-in step), so a token seen before it is worth
/// nothing after.
pub fn rotate(session: &Session) {
    session.remove(SESSION_KEY);
}

pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // PROPFIND and REPORT only read (CardDAV discovery sends them to `/` and to
    // `/.well-known/carddav`), and no foreign page can send them without a CORS preflight,
    // which is never granted.
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || matches!(req.method().as_str(), "PROPFIND" | "REPORT");
    // The API and CardDAV use no cookies (bearer tokens, HTTP Basic with app passwords), and
    // CardDAV answers no POST, the one unsafe method a foreign page can send without CORS.
    if safe || req.path().starts_with("/api/") || req.path().starts_with("/dav/") {
        return next.call(req).await;
    }
    if !origin_allowed(&req) {
        tracing::warn!(path = %loggable_path(req.path()), "cross-origin form post refused");
        return Err(AppError::Csrf.into());
    }
    if BODY_CHECKED.contains(&req.path())
        && req.headers().get(HEADER).is_none()
        && is_multipart(&req)
    {
        req.extensions_mut().insert(CheckInBody);
        return next.call(req).await;
    }
    let expected = req.get_session().get::<String>(SESSION_KEY).ok().flatten();
    let provided = provided_token(&mut req).await;
    let valid = match (expected, provided) {
        (Some(e), Some(p)) => matches(&e, &p),
        _ => false,
    };
    if !valid {
        tracing::warn!(path = %loggable_path(req.path()), "missing or wrong CSRF token");
        return Err(AppError::Csrf.into());
    }
    next.call(req).await
}

/// Multipart posts whose token the handler checks in the body (see the module comment).
const BODY_CHECKED: [&str; 1] = ["/contacts/import"];

/// Put in a request's extensions when its token is left to the handler.
#[derive(Clone, Copy, Debug)]
pub struct CheckInBody;

/// The session's token the handler must find in the body, when the middleware left the check
/// to it (`None`: already checked). `Csrf` when the session has no token at all.
pub fn token_to_check_in_body(
    req: &actix_web::HttpRequest,
    session: &Session,
) -> Result<Option<String>, AppError> {
    if req.extensions().get::<CheckInBody>().is_none() {
        return Ok(None);
    }
    match session.get::<String>(SESSION_KEY).ok().flatten() {
        Some(token) => Ok(Some(token)),
        None => Err(AppError::Csrf),
    }
}

/// Constant-time comparison of the session's token and the one sent.
pub fn matches(expected: &str, provided: &str) -> bool {
    crypto::same_secret(expected.as_bytes(), provided.as_bytes())
}

fn is_multipart(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"))
}

/// The token from the header or (for url-encoded forms) the body, which is read here and put
/// back for the handler. Never from the query string.
async fn provided_token(req: &mut ServiceRequest) -> Option<String> {
    if let Some(v) = req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return None;
    }
    let body = req.extract::<Bytes>().await.ok()?;
    let found = field_of(&body);
    req.set_payload(actix_web::dev::Payload::from(body));
    found
}

fn field_of(urlencoded: &[u8]) -> Option<String> {
    url_pairs(urlencoded)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

fn url_pairs(input: &[u8]) -> impl Iterator<Item = (String, String)> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(input)
        .unwrap_or_default()
        .into_iter()
}

/// Browsers send `Origin` on cross-site posts; when present it must be this site.
fn origin_allowed(req: &ServiceRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    else {
        return true;
    };
    let expected = match req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.settings.public_url.clone())
    {
        Some(url) => url,
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    };
    origin.eq_ignore_ascii_case(&expected)
}

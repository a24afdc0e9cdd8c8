//! `/login`, `/login/totp`, `/logout`.

use actix_identity::Identity;
use actix_session::Session;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use actix_web::http::StatusCode;

use crate::accounts::UserRow;
use crate::accounts::{self, PasswordCheck, SecondFactor};
use crate::auth::PENDING_USER_KEY;
use crate::auth::csrf;
use crate::auth::guards::SignedIn;
use crate::auth::session_store::{AGENT_KEY, SID_KEY};
use crate::auth::unlock;
use crate::crypto::token::new_id;
use crate::error::AppError;
use crate::pages::device;
use crate::pages::page::{PageCtx, flash};
use crate::pages::{HOME, redirect};
use crate::state::AppState;

/// How long the password step stays valid while the person finds their phone.
const PENDING_SECONDS: i64 = 300;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    ctx: PageCtx,
    username: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/totp.html")]
struct TotpPage {
    ctx: PageCtx,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    expired: Option<String>,
    signed_out: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

#[derive(Deserialize)]
pub struct TotpForm {
    code: String,
}

#[derive(Serialize, Deserialize)]
struct Pending {
    user_id: i64,
    since: i64,
    /// The password used is below today's rules (see `complete`).
    #[serde(default)]
    weak: bool,
}

/// Renders a page with a status; a template error becomes a 500 with a request id.
pub fn render(
    status: actix_web::http::StatusCode,
    page: &impl Template,
) -> Result<HttpResponse, AppError> {
    let html = page.render().map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(html))
}

pub async fn form(
    state: web::Data<AppState>,
    session: Session,
    signed_in: Option<SignedIn>,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    if signed_in.is_some() {
        return Ok(redirect(HOME));
    }
    if query.expired.is_some() {
        flash(
            &session,
            "info",
            "Your session ended. Please sign in again.",
        );
    }
    if query.signed_out.is_some() {
        flash(&session, "success", "You are signed out.");
    }
    let page = LoginPage {
        ctx: PageCtx::new(&session, None, &state),
        username: String::new(),
        error: None,
    };
    render(actix_web::http::StatusCode::OK, &page)
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let device = device::from_request(&req, &state);
    let check = accounts::check_password(
        &state,
        &form.username,
        &form.password,
        "web",
        device.as_deref(),
    )
    .await?;
    let (status, message, retry_after) = match check {
        PasswordCheck::Valid(user) => {
            let weak = !accounts::password_meets_policy(&user, &form.password);
            // The password step passed: a new session id and CSRF token from here on, so
            // nothing seen before it (a planted cookie, a leaked token) carries over.
            session.renew();
            csrf::rotate(&session);
            let unlock_cookie = unlock::begin(&state, &session, &user)?;
            if user.totp_enabled {
                let pending = Pending {
                    user_id: user.id,
                    since: state.clock.now(),
                    weak,
                };
                session
                    .insert(PENDING_USER_KEY, pending)
                    .map_err(|e| AppError::Internal(e.into()))?;
                return with_cookie(redirect("/login/totp"), unlock_cookie);
            }
            accounts::login_succeeded(&state, &user, "web").await?;
            let response = complete(&req, &state, &session, &user, weak, device.as_deref()).await?;
            return with_cookie(response, unlock_cookie);
        }
        PasswordCheck::Invalid => (
            StatusCode::UNAUTHORIZED,
            "Invalid username or password.".to_string(),
            None,
        ),
        PasswordCheck::Locked { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong passwords for this account. Try again in {}.",
                minutes(retry_after)
            ),
            Some(retry_after),
        ),
    };
    let page = LoginPage {
        ctx: PageCtx::new(&session, None, &state),
        username: form.username.chars().take(64).collect(),
        error: Some(message),
    };
    let mut response = render(status, &page)?;
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from(seconds.max(1)),
        );
    }
    Ok(response)
}

fn with_cookie(
    mut response: HttpResponse,
    cookie: Option<actix_web::cookie::Cookie<'static>>,
) -> Result<HttpResponse, AppError> {
    if let Some(cookie) = cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(response)
}

fn minutes(seconds: i64) -> String {
    match (seconds + 59) / 60 {
        1 => "a minute".to_string(),
        n => format!("{n} minutes"),
    }
}

/// The last step of every sign-in (already audited): a new session id and CSRF token, the
/// session's label for the account page, a remembered-device cookie, and a request to choose a new
/// password when the one used is below today's rules.
async fn complete(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user: &UserRow,
    weak_password: bool,
    device: Option<&str>,
) -> Result<HttpResponse, AppError> {
    Identity::login(&req.extensions(), user.id.to_string())
        .map_err(|e| AppError::Internal(e.into()))?;
    csrf::rotate(session);
    let agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let labels = [(SID_KEY, new_id()), (AGENT_KEY, browser_summary(agent))];
    for (key, value) in labels {
        session
            .insert(key, value)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    let token = accounts::remember_device(state, user, device).await?;
    let target = if weak_password {
        flash(
            session,
            "info",
            "Your password is shorter or more common than the rules now allow. Please choose a \
             new one below.",
        );
        "/account"
    } else {
        HOME
    };
    let mut response = redirect(target);
    response
        .add_cookie(&device::cookie(state, token))
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(response)
}

/// "Firefox on Linux": enough to tell one's sessions apart, without keeping the whole header.
pub fn browser_summary(agent: &str) -> String {
    const BROWSERS: [(&str, &str); 6] = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("reqwest", "a script"),
    ];
    const SYSTEMS: [(&str, &str); 6] = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS
        .iter()
        .find(|(k, _)| agent.contains(k))
        .map_or("A browser", |(_, name)| name);
    match SYSTEMS.iter().find(|(k, _)| agent.contains(k)) {
        Some((_, system)) => format!("{browser} on {system}"),
        None => browser.to_string(),
    }
}

fn pending_user(session: &Session, now: i64) -> Option<Pending> {
    let pending = session.get::<Pending>(PENDING_USER_KEY).ok().flatten()?;
    (now - pending.since < PENDING_SECONDS).then_some(pending)
}

pub async fn totp_form(
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    if pending_user(&session, state.clock.now()).is_none() {
        return Ok(redirect("/login"));
    }
    let page = TotpPage {
        ctx: PageCtx::new(&session, None, &state),
        error: None,
    };
    render(actix_web::http::StatusCode::OK, &page)
}

pub async fn totp_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<TotpForm>,
) -> Result<HttpResponse, AppError> {
    let Some(pending) = pending_user(&session, state.clock.now()) else {
        flash(
            &session,
            "error",
            "That took too long. Please sign in again.",
        );
        return Ok(redirect("/login"));
    };
    let mut user = accounts::user_by_id(&state, pending.user_id)
        .await?
        .ok_or(AppError::LoginRequired)?;
    // The password step left the user's keys wrapped in this session; the TOTP secret is
    // under them. Without the unlock cookie the step cannot be taken.
    if !unlock::open(&req, &state, &session, &mut user) {
        session.remove(PENDING_USER_KEY);
        flash(
            &session,
            "error",
            "Your sign-in could not be finished in this browser. Please sign in again.",
        );
        return Ok(redirect("/login"));
    }
    let (status, message) = match accounts::check_second_factor(&state, &user, &form.code, "web")
        .await?
    {
        SecondFactor::Accepted => {
            session.remove(PENDING_USER_KEY);
            // Renews the session id: the pre-login id is worthless from here on.
            let device = device::from_request(&req, &state);
            return complete(
                &req,
                &state,
                &session,
                &user,
                pending.weak,
                device.as_deref(),
            )
            .await;
        }
        SecondFactor::Invalid => (
            actix_web::http::StatusCode::UNAUTHORIZED,
            "That code is not right, or it was already used. Enter the current code from your app.",
        ),
        SecondFactor::Locked => (
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong codes. Two-step sign-in is locked for 15 minutes.",
        ),
    };
    let page = TotpPage {
        ctx: PageCtx::new(&session, None, &state),
        error: Some(message.into()),
    };
    render(status, &page)
}

pub async fn logout(
    state: web::Data<AppState>,
    identity: Option<Identity>,
    signed_in: Option<SignedIn>,
) -> Result<HttpResponse, AppError> {
    if let Some(SignedIn(user)) = signed_in {
        accounts::logout(&state, &user, None, "web").await?;
    }
    if let Some(identity) = identity {
        // Purges the session: its row is deleted, so the old cookie opens nothing.
        identity.logout();
    }
    with_cookie(
        redirect("/login?signed_out=1"),
        Some(unlock::removal(&state)),
    )
}

//! `/login`, `/login/totp`, `/logout`.

use actix_identity::Identity;
use actix_session::Session;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::auth::PENDING_USER_KEY;
use crate::auth::flows::{self, SecondFactor};
use crate::auth::guards::SignedIn;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::users;
use crate::web::page::{PageCtx, flash};
use crate::web::{HOME, redirect};

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
    let Some(user) = flows::check_password(&state, &form.username, &form.password, "web").await?
    else {
        let page = LoginPage {
            ctx: PageCtx::new(&session, None, &state),
            username: form.username.chars().take(64).collect(),
            error: Some("Invalid username or password.".into()),
        };
        return render(actix_web::http::StatusCode::UNAUTHORIZED, &page);
    };
    if user.totp_enabled {
        let pending = Pending {
            user_id: user.id,
            since: state.clock.now(),
        };
        session
            .insert(PENDING_USER_KEY, pending)
            .map_err(|e| AppError::Internal(e.into()))?;
        return Ok(redirect("/login/totp"));
    }
    Identity::login(&req.extensions(), user.id.to_string())
        .map_err(|e| AppError::Internal(e.into()))?;
    flows::login_succeeded(&state, &user, "web").await?;
    Ok(redirect(HOME))
}

fn pending_user(session: &Session, now: i64) -> Option<i64> {
    let pending = session.get::<Pending>(PENDING_USER_KEY).ok().flatten()?;
    (now - pending.since < PENDING_SECONDS).then_some(pending.user_id)
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
    let Some(user_id) = pending_user(&session, state.clock.now()) else {
        flash(
            &session,
            "error",
            "That took too long. Please sign in again.",
        );
        return Ok(redirect("/login"));
    };
    let user = users::find_by_id(&mut *state.db.acquire().await?, user_id)
        .await?
        .ok_or(AppError::LoginRequired)?;
    let (status, message) = match flows::check_second_factor(&state, &user, &form.code).await? {
        SecondFactor::Accepted => {
            session.remove(PENDING_USER_KEY);
            // Renews the session id: the pre-login id is worthless from here on.
            Identity::login(&req.extensions(), user.id.to_string())
                .map_err(|e| AppError::Internal(e.into()))?;
            flows::login_succeeded(&state, &user, "web").await?;
            return Ok(redirect(HOME));
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
        flows::logout(&state, &user, None, "web").await?;
    }
    if let Some(identity) = identity {
        // Purges the session: its row is deleted, so the old cookie opens nothing.
        identity.logout();
    }
    Ok(redirect("/login?signed_out=1"))
}

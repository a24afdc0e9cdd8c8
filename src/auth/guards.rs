//! Extractors that decide who is asking. A handler that takes one of these cannot run for
//! anybody else:
//! - `SignedIn`: any signed-in user (also admins still to enrol TOTP; for enrolment itself);
//! - `CurrentUser`: a signed-in user who may use the app (admins have TOTP);
//! - `AdminUser`: an admin past password and TOTP; a plain user gets 403;
//! - `ApiUser` / `ApiAdmin`: the same for bearer tokens on `/api/`.

use actix_identity::Identity;
use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::accounts::{self, UserRow};
use crate::auth::unlock;
use crate::crypto::token::sha256_hex;
use crate::error::{ApiError, AppError};
use crate::state::AppState;

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("application state missing")))
}

/// The user of the session's identity, if it still exists, with their keys opened by the
/// session's unlock cookie (a session whose wrap does not open them is as good as none).
async fn session_user(req: &HttpRequest) -> Result<Option<UserRow>, AppError> {
    let state = app_state(req)?;
    let Some(id) = Identity::extract(req)
        .into_inner()
        .ok()
        .and_then(|identity| identity.id().ok())
        .and_then(|id| id.parse::<i64>().ok())
    else {
        return Ok(None);
    };
    let Some(mut user) = accounts::user_by_id(&state, id).await? else {
        return Ok(None);
    };
    if !unlock::open(req, &state, &req.get_session(), &mut user) {
        return Ok(None);
    }
    Ok(Some(user))
}

pub struct SignedIn(pub UserRow);

impl FromRequest for SignedIn {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            session_user(&req)
                .await?
                .map(SignedIn)
                .ok_or(AppError::LoginRequired)
        })
    }
}

pub struct CurrentUser(pub UserRow);

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn(user) = signed_in.await?;
            if user.must_enrol_totp() {
                return Err(AppError::Redirect("/account/totp".into()));
            }
            Ok(CurrentUser(user))
        })
    }
}

pub struct AdminUser(pub UserRow);

impl FromRequest for AdminUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentUser::from_request(req, payload);
        let state = app_state(req);
        Box::pin(async move {
            let CurrentUser(user) = current.await?;
            if !user.is_admin() {
                return Err(AppError::Forbidden);
            }
            pass_inbox_key(&*state?, &user).await;
            Ok(AdminUser(user))
        })
    }
}

/// An admin request passing by gives the inbox key to the admins who wait for it (and claims
/// a key the server holds). Its failure is logged, not the request's: it is tried again on
/// the next one.
async fn pass_inbox_key(state: &AppState, admin: &UserRow) {
    if let Err(e) = crate::inbox::key::pass_by(state, admin).await {
        tracing::warn!(error = %e, "the inbox key did not pass on; tried again next request");
    }
}

/// A caller authenticated by a live bearer token.
pub struct ApiUser {
    pub user: UserRow,
    /// SHA-256 of the presented token (to revoke it, or to keep it while revoking others).
    pub token_hash: String,
}

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let unauthorized = || {
                ApiError(AppError::Unauthorized(
                    "missing, invalid or expired token".into(),
                ))
            };
            let state = app_state(&req)?;
            let token = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(unauthorized)?;
            let token_hash = sha256_hex(token);
            let user = accounts::user_by_token(&state, token)
                .await
                .map_err(AppError::from)?
                .ok_or_else(unauthorized)?;
            // Every authenticated API call counts against its user's limit.
            state.limits.api_call(user.id).await?;
            Ok(ApiUser { user, token_hash })
        })
    }
}

pub struct ApiAdmin(pub ApiUser);

impl FromRequest for ApiAdmin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let api_user = ApiUser::from_request(req, payload);
        let state = app_state(req).map_err(ApiError);
        Box::pin(async move {
            let caller = api_user.await?;
            if !caller.user.is_admin() {
                return Err(ApiError(AppError::Forbidden));
            }
            pass_inbox_key(&*state?, &caller.user).await;
            Ok(ApiAdmin(caller))
        })
    }
}

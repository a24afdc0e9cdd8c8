//! `POST /api/login`, `/api/logout`, `/api/change-password`.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{self, PasswordCheck, SecondFactor};
use crate::auth::ApiUser;
use crate::clock::rfc3339;
use crate::error::{ApiError, AppError, ErrorBody};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    username: String,
    password: String,
    /// The current TOTP code (or a recovery code) when the user has TOTP.
    otp: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    old_password: String,
    new_password: String,
}

/// A bearer token and who it is for.
#[derive(Serialize, ToSchema)]
pub struct LoginOk {
    token: String,
    username: String,
    /// `admin` or `user`.
    role: String,
    /// The token's lifetime in seconds.
    expires: i64,
    /// When the token stops working (RFC 3339, UTC).
    #[schema(format = DateTime)]
    expires_at: String,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError(AppError::Unauthorized(message.into()))
}

/// Sign in: trades a password (and a TOTP code, when the user has TOTP) for a bearer token.
#[utoipa::path(
    post,
    path = "/api/login",
    operation_id = "login",
    tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, description = "Signed in", body = LoginOk),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "`invalid credentials`, `otp_required`, `invalid otp` or `totp_enrollment_required`", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many sign-in attempts from this address, too many wrong passwords for this account (from any address), or too many wrong codes", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let user = match accounts::check_password(&state, &body.username, &body.password, "api", None)
        .await?
    {
        PasswordCheck::Valid(user) => user,
        PasswordCheck::Invalid => return Err(unauthorized("invalid credentials")),
        PasswordCheck::Locked { retry_after } => {
            return Err(ApiError(AppError::RateLimited {
                retry_after: retry_after.max(1) as u64,
            }));
        }
    };
    if user.must_enrol_totp() {
        return Err(unauthorized("totp_enrollment_required"));
    }
    if user.totp_enabled {
        let Some(otp) = body.otp.as_deref().filter(|o| !o.trim().is_empty()) else {
            return Err(unauthorized("otp_required"));
        };
        match accounts::check_second_factor(&state, &user, otp, "api").await? {
            SecondFactor::Accepted => {}
            SecondFactor::Invalid => return Err(unauthorized("invalid otp")),
            SecondFactor::Locked => {
                return Err(ApiError(AppError::RateLimited {
                    retry_after: accounts::TOTP_LOCK_SECONDS as u64,
                }));
            }
        }
    } else {
        accounts::login_succeeded(&state, &user, "api").await?;
    }
    let user = *user;
    let (token, expires_at) = accounts::issue_token(&state, &user).await?;
    Ok(HttpResponse::Ok().json(LoginOk {
        token,
        username: user.username,
        role: user.role,
        expires: state.settings.token_ttl_seconds,
        expires_at: rfc3339(expires_at),
    }))
}

/// Sign out: revokes the presented token at once.
#[utoipa::path(
    post,
    path = "/api/logout",
    operation_id = "logout",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Token revoked", body = super::OkBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn logout(state: web::Data<AppState>, caller: ApiUser) -> Result<HttpResponse, ApiError> {
    accounts::logout(&state, &caller.user, Some(&caller.token_hash), "api").await?;
    Ok(super::ok())
}

/// Changes the caller's password; every other token and web session of the user is revoked.
#[utoipa::path(
    post,
    path = "/api/change-password",
    operation_id = "change_password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = ChangePasswordBody,
    responses(
        (status = 200, description = "Password changed", body = super::OkBody),
        (status = 400, description = "Malformed body, or a new password that breaks the rules", body = ErrorBody),
        (status = 401, description = "Missing or invalid token, or a wrong old password", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Too many wrong passwords for this account: a stolen token is no password oracle", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: ApiUser,
    body: web::Json<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    accounts::change_password(
        &state,
        &caller.user,
        &body.old_password,
        &body.new_password,
        Some(&caller.token_hash),
    )
    .await?;
    Ok(super::ok())
}

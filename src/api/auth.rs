//! `POST /api/login`, `/api/logout`, `/api/change-password`.

use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::ApiUser;
use crate::auth::flows::{self, SecondFactor};
use crate::clock::rfc3339;
use crate::error::{ApiError, AppError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct LoginBody {
    username: String,
    password: String,
    otp: Option<String>,
}

#[derive(Deserialize)]
pub struct ChangePasswordBody {
    old_password: String,
    new_password: String,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError(AppError::Unauthorized(message.into()))
}

pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = flows::check_password(&state, &body.username, &body.password, "api").await?
    else {
        return Err(unauthorized("invalid credentials"));
    };
    if user.must_enrol_totp() {
        return Err(unauthorized("totp_enrollment_required"));
    }
    if user.totp_enabled {
        let Some(otp) = body.otp.as_deref().filter(|o| !o.trim().is_empty()) else {
            return Err(unauthorized("otp_required"));
        };
        match flows::check_second_factor(&state, &user, otp).await? {
            SecondFactor::Accepted => {}
            SecondFactor::Invalid => return Err(unauthorized("invalid otp")),
            SecondFactor::Locked => {
                return Err(ApiError(AppError::RateLimited {
                    retry_after: flows::TOTP_LOCK_SECONDS as u64,
                }));
            }
        }
    }
    let (token, expires_at) = flows::issue_token(&state, &user).await?;
    flows::login_succeeded(&state, &user, "api").await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "token": token,
        "username": user.username,
        "role": user.role,
        "expires": state.settings.token_ttl_seconds,
        "expires_at": rfc3339(expires_at),
    })))
}

pub async fn logout(state: web::Data<AppState>, caller: ApiUser) -> Result<HttpResponse, ApiError> {
    flows::logout(&state, &caller.user, Some(&caller.token_hash), "api").await?;
    Ok(super::ok())
}

pub async fn change_password(
    state: web::Data<AppState>,
    caller: ApiUser,
    body: web::Json<ChangePasswordBody>,
) -> Result<HttpResponse, ApiError> {
    flows::change_password(
        &state,
        &caller.user,
        &body.old_password,
        &body.new_password,
        Some(&caller.token_hash),
    )
    .await?;
    Ok(super::ok())
}

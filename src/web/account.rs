//! `/account`: password change, TOTP enrolment, recovery codes.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::guards::{CurrentUser, SignedIn};
use crate::auth::{flows, totp};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::users::{self, UserRow};
use crate::web::login::render;
use crate::web::page::{FieldErrors, PageCtx, flash};
use crate::web::redirect;

#[derive(Template)]
#[template(path = "account/index.html")]
struct AccountPage {
    ctx: PageCtx,
    totp_enabled: bool,
    is_admin: bool,
    recovery_left: i64,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "account/totp.html")]
struct EnrolPage {
    ctx: PageCtx,
    qr_svg: String,
    secret_base32: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
struct CodesPage {
    ctx: PageCtx,
    codes: Vec<String>,
}

#[derive(Deserialize)]
pub struct PasswordForm {
    old_password: String,
    new_password: String,
    new_password_confirm: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

#[derive(Deserialize)]
pub struct ConfirmPasswordForm {
    password: String,
}

async fn account_page(
    state: &AppState,
    session: &Session,
    user: &UserRow,
    errors: FieldErrors,
) -> Result<AccountPage, AppError> {
    Ok(AccountPage {
        ctx: PageCtx::new(session, Some(user), state),
        totp_enabled: user.totp_enabled,
        is_admin: user.is_admin(),
        recovery_left: users::unused_recovery_codes(&state.db, user.id).await?,
        errors,
    })
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &account_page(&state, &session, &user, FieldErrors::new()).await?,
    )
}

pub async fn change_password(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let result = if form.new_password != form.new_password_confirm {
        Err(AppError::field(
            "new_password_confirm",
            "The two new passwords differ.",
        ))
    } else {
        flows::change_password(&state, &user, &form.old_password, &form.new_password, None).await
    };
    let errors = match result {
        Ok(()) => {
            // Every session of this user was revoked; this one carries on under a new id.
            session.renew();
            flash(
                &session,
                "success",
                "Password changed. Your other sessions and API tokens were signed out.",
            );
            return Ok(redirect("/account"));
        }
        Err(AppError::Validation(errors)) => errors,
        Err(AppError::Unauthorized(_)) => FieldErrors::from([(
            "old_password".to_string(),
            "The current password is wrong.".to_string(),
        )]),
        Err(other) => return Err(other),
    };
    render(
        StatusCode::BAD_REQUEST,
        &account_page(&state, &session, &user, errors).await?,
    )
}

async fn enrol_page(
    state: &AppState,
    session: &Session,
    user: &UserRow,
    errors: FieldErrors,
) -> Result<EnrolPage, AppError> {
    let secret = match flows::pending_totp_secret(state, user)? {
        Some(secret) => secret,
        None => flows::start_totp_enrolment(state, user).await?,
    };
    let uri = totp::otpauth_uri(&secret, &user.username);
    Ok(EnrolPage {
        ctx: PageCtx::new(session, Some(user), state),
        qr_svg: totp::qr_svg(&uri),
        secret_base32: totp::secret_base32(&secret),
        errors,
    })
}

/// Enrolment is open to any signed-in user, including an admin who must enrol first.
pub async fn totp_form(
    state: web::Data<AppState>,
    session: Session,
    SignedIn(user): SignedIn,
) -> Result<HttpResponse, AppError> {
    if user.totp_enabled {
        return Ok(redirect("/account"));
    }
    render(
        StatusCode::OK,
        &enrol_page(&state, &session, &user, FieldErrors::new()).await?,
    )
}

pub async fn totp_confirm(
    state: web::Data<AppState>,
    session: Session,
    SignedIn(user): SignedIn,
    form: web::Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    if user.totp_enabled {
        return Ok(redirect("/account"));
    }
    match flows::confirm_totp_enrolment(&state, &user, &form.code).await {
        Ok(codes) => {
            let user = users::find_by_id(&mut *state.db.acquire().await?, user.id)
                .await?
                .ok_or(AppError::LoginRequired)?;
            flash(&session, "success", "Two-step sign-in is on.");
            render(
                StatusCode::OK,
                &CodesPage {
                    ctx: PageCtx::new(&session, Some(&user), &state),
                    codes,
                },
            )
        }
        Err(AppError::Validation(errors)) => render(
            StatusCode::BAD_REQUEST,
            &enrol_page(&state, &session, &user, errors).await?,
        ),
        Err(other) => Err(other),
    }
}

pub async fn regenerate_codes(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    let codes = flows::regenerate_recovery_codes(&state, &user).await?;
    flash(
        &session,
        "success",
        "New recovery codes made. The old ones no longer work.",
    );
    render(
        StatusCode::OK,
        &CodesPage {
            ctx: PageCtx::new(&session, Some(&user), &state),
            codes,
        },
    )
}

pub async fn disable_totp(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<ConfirmPasswordForm>,
) -> Result<HttpResponse, AppError> {
    match flows::disable_totp(&state, &user, &form.password).await {
        Ok(()) => {
            flash(&session, "success", "Two-step sign-in is off.");
            Ok(redirect("/account"))
        }
        Err(AppError::Validation(errors)) => render(
            StatusCode::BAD_REQUEST,
            &account_page(&state, &session, &user, errors).await?,
        ),
        Err(other) => Err(other),
    }
}

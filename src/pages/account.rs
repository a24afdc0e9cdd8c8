//! `/account`: password change, TOTP enrolment, recovery codes (an admin's notification
//! mail: `account_mail.rs`).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts;
use crate::accounts::UserRow;
use crate::auth::guards::{CurrentUser, SignedIn};
use crate::auth::session_store::SID_KEY;
use crate::clock;
use crate::crypto::totp;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{FieldErrors, PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use vault_core::Error;

#[derive(Template)]
#[template(path = "account/index.html")]
pub(crate) struct AccountPage {
    ctx: PageCtx,
    totp_enabled: bool,
    is_admin: bool,
    recovery_left: i64,
    /// An admin's own address for notifications, and whether mail is set up at all.
    pub(crate) mail: accounts::MailChoice,
    mail_on: bool,
    sessions: Vec<SessionLine>,
    tokens: Vec<TokenLine>,
    errors: FieldErrors,
}

/// A signed-in web session, as the account page lists it.
pub struct SessionLine {
    pub sid: String,
    pub browser: String,
    pub signed_in: String,
    pub is_current: bool,
}

/// A live API token.
pub struct TokenLine {
    pub id: String,
    pub created: String,
    pub expires: String,
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

#[derive(Deserialize)]
pub struct ReauthForm {
    current_password: String,
}

pub(crate) async fn account_page(
    state: &AppState,
    session: &Session,
    user: &UserRow,
    errors: FieldErrors,
) -> Result<AccountPage, AppError> {
    let (sessions, tokens) = accounts::sign_ins(state, user).await?;
    let current = session.get::<String>(SID_KEY).ok().flatten();
    Ok(AccountPage {
        ctx: PageCtx::new(session, Some(user), state),
        totp_enabled: user.totp_enabled,
        is_admin: user.is_admin(),
        recovery_left: accounts::unused_recovery_codes(state, user).await?,
        mail: accounts::mail_choice(state, user).await?,
        mail_on: state.senders.email.is_some(),
        sessions: sessions
            .into_iter()
            .map(|s| SessionLine {
                is_current: current.as_deref() == Some(s.sid.as_str()),
                browser: s.user_agent.unwrap_or_else(|| "A browser".into()),
                signed_in: clock::human(s.created),
                sid: s.sid,
            })
            .collect(),
        tokens: tokens
            .into_iter()
            .map(|t| TokenLine {
                id: t.id,
                created: clock::human(t.created),
                expires: clock::human(t.expires),
            })
            .collect(),
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
        Err(Error::field(
            "new_password_confirm",
            "The two new passwords differ.",
        ))
    } else {
        accounts::change_password(&state, &user, &form.old_password, &form.new_password, None).await
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
        Err(Error::Invalid(errors)) => errors,
        Err(Error::Unauthorized(_)) => FieldErrors::from([(
            "old_password".to_string(),
            "The current password is wrong.".to_string(),
        )]),
        Err(other) => return Err(other.into()),
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
    let secret = match accounts::pending_totp_secret(state, user)? {
        Some(secret) => secret,
        None => accounts::start_totp_enrolment(state, user).await?,
    };
    let uri = totp::otpauth_uri(&secret, &user.username);
    Ok(EnrolPage {
        ctx: PageCtx::new(session, Some(user), state),
        qr_svg: crate::auth::qr::qr_svg(&uri),
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
    match accounts::confirm_totp_enrolment(&state, &user, &form.code).await {
        Ok(codes) => {
            let user = accounts::user_by_id(&state, user.id)
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
        Err(Error::Invalid(errors)) => render(
            StatusCode::BAD_REQUEST,
            &enrol_page(&state, &session, &user, errors).await?,
        ),
        Err(other) => Err(other.into()),
    }
}

/// The account page again with a message under the "current password" field.
async fn wrong_password(
    state: &AppState,
    session: &Session,
    user: &UserRow,
) -> Result<HttpResponse, AppError> {
    let errors = FieldErrors::from([(
        "current_password".to_string(),
        "The password is wrong.".to_string(),
    )]);
    render(
        StatusCode::BAD_REQUEST,
        &account_page(state, session, user, errors).await?,
    )
}

pub async fn regenerate_codes(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<ReauthForm>,
) -> Result<HttpResponse, AppError> {
    match accounts::confirm_password(&state, &user, &form.current_password, "recovery codes").await
    {
        Err(Error::Unauthorized(_)) => return wrong_password(&state, &session, &user).await,
        other => other?,
    }
    let codes = accounts::regenerate_recovery_codes(&state, &user).await?;
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
    match accounts::disable_totp(&state, &user, &form.password).await {
        Ok(()) => {
            flash(&session, "success", "Two-step sign-in is off.");
            Ok(redirect("/account"))
        }
        Err(Error::Invalid(errors)) => render(
            StatusCode::BAD_REQUEST,
            &account_page(&state, &session, &user, errors).await?,
        ),
        Err(other) => Err(other.into()),
    }
}

pub async fn revoke_session(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    sid: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    accounts::revoke_session(&state, &user, &sid).await?;
    if session.get::<String>(SID_KEY).ok().flatten().as_deref() == Some(sid.as_str()) {
        session.purge();
        return Ok(redirect("/login?signed_out=1"));
    }
    flash(&session, "success", "That session was signed out.");
    Ok(redirect("/account#sign-ins"))
}

pub async fn revoke_token(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    accounts::revoke_token(&state, &user, &id).await?;
    flash(&session, "success", "That API token was revoked.");
    Ok(redirect("/account#sign-ins"))
}

/// Ends every session (this one too) and API token of the user.
pub async fn sign_out_everywhere(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    accounts::sign_out_everywhere(&state, &user).await?;
    session.purge();
    Ok(redirect("/login?signed_out=1"))
}

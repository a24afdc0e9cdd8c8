//! `/setup/{token}`: the first-run page that creates the first admin. The token is printed
//! to the console at start-up while no admin exists, and works until an admin exists: a post
//! takes the link before its work and gives it back only if no admin came of it, and the
//! account is created only if no admin exists inside the same write transaction.

use actix_identity::Identity;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts;
use crate::audit::Actor;
use crate::auth::unlock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{FieldErrors, PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use vault_core::Error;

#[derive(Template)]
#[template(path = "auth/setup.html")]
struct SetupPage {
    ctx: PageCtx,
    token: String,
    username: String,
    errors: FieldErrors,
}

#[derive(Deserialize)]
pub struct SetupForm {
    username: String,
    password: String,
    password_confirm: String,
}

async fn check_token(state: &AppState, token: &str) -> Result<(), AppError> {
    if !state.setup_token_matches(token) || accounts::admin_exists(state).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

pub async fn form(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    check_token(&state, &token).await?;
    let page = SetupPage {
        ctx: PageCtx::new(&session, None, &state),
        token: token.into_inner(),
        username: String::new(),
        errors: FieldErrors::new(),
    };
    render(StatusCode::OK, &page)
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, AppError> {
    check_token(&state, &token).await?;
    let result = if form.password != form.password_confirm {
        Err(Error::field(
            "password_confirm",
            "The two passwords differ.",
        ))
    } else if !state.take_setup(&token) {
        // Another request holds the link (or has used it): of concurrent posts one goes on.
        return Err(AppError::NotFound);
    } else {
        let by = Actor {
            user_id: None,
            username: "setup",
        };
        let created =
            accounts::create_first_admin(&state, by, &form.username, &form.password).await;
        if !matches!(created, Ok(_) | Err(Error::NotFound)) {
            // No admin was made: the link works again.
            state.open_setup(&token);
        }
        created
    };
    let (name, _) = match result {
        Ok(created) => created,
        Err(Error::Invalid(errors)) => {
            let page = SetupPage {
                ctx: PageCtx::new(&session, None, &state),
                token: token.into_inner(),
                username: form.username.chars().take(64).collect(),
                errors,
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
        Err(other) => return Err(other.into()),
    };
    let mut user =
        accounts::user_by_name(&state, name.as_str())
            .await?
            .ok_or(AppError::Internal(anyhow::anyhow!(
                "the new admin vanished"
            )))?;
    Identity::login(&req.extensions(), user.id.to_string())
        .map_err(|e| AppError::Internal(e.into()))?;
    accounts::login_succeeded(&state, &user, "setup").await?;
    accounts::keys::unlock_with_password(&mut user, &form.password).await?;
    let unlock_cookie = unlock::begin(&state, &session, &user)?;
    flash(
        &session,
        "success",
        "Admin account created. Now set up two-step sign-in.",
    );
    let mut response = redirect("/account/totp");
    if let Some(cookie) = unlock_cookie {
        response
            .add_cookie(&cookie)
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(response)
}

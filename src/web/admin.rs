//! `/admin/users`: list, create, delete users and reset their TOTP.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::AdminUser;
use crate::auth::flows;
use crate::clock;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::users::{self, UserRow};
use crate::web::login::render;
use crate::web::page::{FieldErrors, PageCtx, flash};
use crate::web::redirect;

pub struct UserLine {
    pub username: String,
    pub role: String,
    pub created: String,
    pub totp_enabled: bool,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    users: Vec<UserLine>,
    errors: FieldErrors,
    new_username: String,
    new_role: String,
}

#[derive(Template)]
#[template(path = "admin/confirm_delete.html")]
struct ConfirmDeletePage {
    ctx: PageCtx,
    username: String,
}

#[derive(Deserialize)]
pub struct NewUserForm {
    username: String,
    password: String,
    role: String,
}

async fn users_page(
    state: &AppState,
    session: &Session,
    me: &UserRow,
    errors: FieldErrors,
    form: Option<&NewUserForm>,
) -> Result<UsersPage, AppError> {
    let users = users::list(&state.db)
        .await?
        .into_iter()
        .map(|u| UserLine {
            is_self: u.id == me.id,
            role: u.role.clone(),
            created: clock::human(u.created),
            totp_enabled: u.totp_enabled,
            username: u.username,
        })
        .collect();
    Ok(UsersPage {
        ctx: PageCtx::new(session, Some(me), state),
        users,
        errors,
        new_username: form
            .map(|f| f.username.chars().take(64).collect())
            .unwrap_or_default(),
        new_role: form
            .map(|f| f.role.clone())
            .unwrap_or_else(|| "user".into()),
    })
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &users_page(&state, &session, &me, FieldErrors::new(), None).await?,
    )
}

pub async fn create(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    form: web::Form<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let errors = match flows::create_user(
        &state,
        flows::actor(&me),
        &form.username,
        &form.password,
        &form.role,
    )
    .await
    {
        Ok((name, role)) => {
            let note = if role == crate::domain::Role::Admin {
                " They set up two-step sign-in at their first sign-in."
            } else {
                ""
            };
            flash(&session, "success", format!("User {name} created.{note}"));
            return Ok(redirect("/admin/users"));
        }
        Err(AppError::Validation(errors)) => errors,
        Err(AppError::Conflict(_)) => FieldErrors::from([(
            "username".to_string(),
            "That username is taken.".to_string(),
        )]),
        Err(other) => return Err(other),
    };
    render(
        StatusCode::BAD_REQUEST,
        &users_page(&state, &session, &me, errors, Some(&form)).await?,
    )
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let target = users::find_by_username(&mut *state.db.acquire().await?, &name.to_lowercase())
        .await?
        .ok_or(AppError::NotFound)?;
    let page = ConfirmDeletePage {
        ctx: PageCtx::new(&session, Some(&me), &state),
        username: target.username,
    };
    render(StatusCode::OK, &page)
}

pub async fn delete(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let deleted = flows::delete_user(&state, &me, &name).await?;
    flash(
        &session,
        "success",
        format!("User {deleted} deleted, with their data."),
    );
    Ok(redirect("/admin/users"))
}

pub async fn reset_totp(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    flows::reset_totp(&state, &me, &name).await?;
    flash(
        &session,
        "success",
        format!(
            "Two-step sign-in reset for {}. Their sessions were ended.",
            name.to_lowercase()
        ),
    );
    Ok(redirect("/admin/users"))
}

//! `/admin/users`: list, create, delete users and reset their TOTP.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts;
use crate::accounts::UserRow;
use crate::auth::AdminUser;
use crate::clock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{ConfirmPage, FieldErrors, PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use vault_core::Error;

pub struct UserLine {
    pub username: String,
    pub role: String,
    pub created: String,
    pub totp_enabled: bool,
    pub is_self: bool,
    /// For an admin: whether they hold the inbox key.
    pub inbox: InboxHold,
}

/// An account's place in the inbox key's grants (`inbox::key`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum InboxHold {
    /// Not an admin.
    None,
    Holds,
    /// Has keys, no grant yet: any key holder's visit, or the grant button, gives it.
    Waiting,
    /// Has no keys of their own yet (a book from before them): they come at the next sign-in.
    NoKeys,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    ctx: PageCtx,
    users: Vec<UserLine>,
    errors: FieldErrors,
    new_username: String,
    new_role: String,
    keys: KeysLine,
}

/// Whose data the server keys still open: books waiting to move to their owners' keys, and
/// the inbox key while no admin has it.
pub struct KeysLine {
    pub server_keyed: i64,
    pub converting: i64,
    pub own_keyed: i64,
    pub inbox: crate::inbox::key::InboxKeyState,
}

#[derive(Deserialize)]
pub struct NewUserForm {
    username: String,
    password: String,
    role: String,
    current_password: String,
}

#[derive(Deserialize)]
pub struct ReauthForm {
    current_password: String,
}

/// The two user actions that need a confirmation page, named by the last path segment.
#[derive(Clone, Copy, Deserialize)]
pub enum UserAction {
    #[serde(rename = "delete")]
    Delete,
    #[serde(rename = "reset-totp")]
    ResetTotp,
}

impl UserAction {
    fn page(self, ctx: PageCtx, username: String, errors: FieldErrors) -> ConfirmPage {
        let (action, title, consequence) = match self {
            UserAction::Delete => (
                "delete",
                format!("Delete {username}"),
                "The account, its contacts and its sessions are removed at once. This cannot \
                 be undone. Its audit events stay.",
            ),
            UserAction::ResetTotp => (
                "reset-totp",
                format!("Reset two-step sign-in for {username}"),
                "Their authenticator app and recovery codes stop working and their sessions \
                 end; they set up two-step sign-in again at their next sign-in.",
            ),
        };
        ConfirmPage {
            ctx,
            title,
            consequence,
            action: format!("/admin/users/{username}/{action}"),
            cancel: "/admin/users".into(),
            js_question: None,
            ask_password: true,
            errors,
        }
    }
}

/// Checks the admin's own password before a user action (ASVS 3.7.1). A wrong one is a
/// field message; too many lock like sign-in does.
async fn reauthenticate(
    state: &AppState,
    me: &UserRow,
    password: &str,
    what: &str,
) -> Result<Option<FieldErrors>, AppError> {
    match accounts::confirm_password(state, me, password, what).await {
        Ok(()) => Ok(None),
        Err(Error::Unauthorized(_)) => Ok(Some(FieldErrors::from([(
            "current_password".to_string(),
            "Your password is wrong.".to_string(),
        )]))),
        Err(other) => Err(other.into()),
    }
}

async fn users_page(
    state: &AppState,
    session: &Session,
    me: &UserRow,
    errors: FieldErrors,
    form: Option<&NewUserForm>,
) -> Result<UsersPage, AppError> {
    let holders = crate::inbox::key::holders(state).await?;
    let (server_keyed, converting, own_keyed) = accounts::keys::key_counts(state).await?;
    let keys = KeysLine {
        server_keyed,
        converting,
        own_keyed,
        inbox: crate::inbox::key::state(state).await?,
    };
    let users = accounts::all_users(state)
        .await?
        .into_iter()
        .map(|u| UserLine {
            inbox: match (u.is_admin(), holders.contains(&u.id), &u.public_key) {
                (false, _, _) => InboxHold::None,
                (true, true, _) => InboxHold::Holds,
                (true, false, Some(_)) => InboxHold::Waiting,
                (true, false, None) => InboxHold::NoKeys,
            },
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
        keys,
    })
}

/// `POST /admin/users/{name}/grant-inbox`: gives the inbox key to an admin who waits for it.
pub async fn grant_inbox(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let target = accounts::user_by_name(&state, &name)
        .await?
        .filter(|u| u.is_admin())
        .ok_or(AppError::NotFound)?;
    // The admin guard has passed the key on already when it could; then this only says so.
    if !crate::inbox::key::holders(&state)
        .await?
        .contains(&target.id)
    {
        match crate::inbox::key::grant(&state, &me, &target.username).await {
            Ok(()) => {}
            Err(Error::Refused(why)) => {
                flash(&session, "error", why);
                return Ok(redirect("/admin/users"));
            }
            Err(other) => return Err(other.into()),
        }
    }
    flash(
        &session,
        "success",
        format!("{} holds the inbox key.", target.username),
    );
    Ok(redirect("/admin/users"))
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
    if let Some(errors) = reauthenticate(&state, &me, &form.current_password, "create user").await?
    {
        return render(
            StatusCode::BAD_REQUEST,
            &users_page(&state, &session, &me, errors, Some(&form)).await?,
        );
    }
    let errors = match accounts::create_user(
        &state,
        accounts::actor(&me),
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
        Err(Error::Invalid(errors)) => errors,
        Err(Error::Conflict(_)) => FieldErrors::from([(
            "username".to_string(),
            "That username is taken.".to_string(),
        )]),
        Err(other) => return Err(other.into()),
    };
    render(
        StatusCode::BAD_REQUEST,
        &users_page(&state, &session, &me, errors, Some(&form)).await?,
    )
}

async fn confirm_page(
    state: &AppState,
    session: &Session,
    me: &UserRow,
    name: &str,
    action: UserAction,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let target = accounts::user_by_name(state, name)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let ctx = PageCtx::new(session, Some(me), state);
    render(status, &action.page(ctx, target.username, errors))
}

/// `GET /admin/users/{name}/{action}`: the confirm page of a user action.
pub async fn confirm(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    path: web::Path<(String, UserAction)>,
) -> Result<HttpResponse, AppError> {
    let (name, action) = path.into_inner();
    confirm_page(&state, &session, &me, &name, action, FieldErrors::new()).await
}

/// `POST /admin/users/{name}/{action}`: the action, once the admin's password is right.
pub async fn act(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(me): AdminUser,
    path: web::Path<(String, UserAction)>,
    form: web::Form<ReauthForm>,
) -> Result<HttpResponse, AppError> {
    let (name, action) = path.into_inner();
    let what = match action {
        UserAction::Delete => "delete user",
        UserAction::ResetTotp => "reset totp",
    };
    if let Some(errors) = reauthenticate(&state, &me, &form.current_password, what).await? {
        return confirm_page(&state, &session, &me, &name, action, errors).await;
    }
    let done = match action {
        UserAction::Delete => {
            let deleted = accounts::delete_user(&state, &me, &name).await?;
            format!("User {deleted} deleted, with their data.")
        }
        UserAction::ResetTotp => {
            accounts::reset_totp(&state, &me, &name).await?;
            format!(
                "Two-step sign-in reset for {}. Their sessions were ended.",
                name.to_lowercase()
            )
        }
    };
    flash(&session, "success", done);
    Ok(redirect("/admin/users"))
}

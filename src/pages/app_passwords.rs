//! `/account/app-passwords`: the per-device passwords that phones and desktop programs use for
//! CardDAV (made after the account password is typed again, shown once, revocable at once),
//! and the name of the address book those devices show.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts::UserRow;
use crate::accounts::app_passwords;
use crate::auth::guards::CurrentUser;
use crate::book::dav as book_dav;
use crate::clock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{FieldErrors, PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use vault_core::Error;

/// An app password as the page lists it.
pub struct Line {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "account/app_passwords.html")]
struct ListPage {
    ctx: PageCtx,
    username: String,
    lines: Vec<Line>,
    name: String,
    /// The address book's name as the form shows it.
    book_name: String,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "account/app_password_made.html")]
struct MadePage {
    ctx: PageCtx,
    username: String,
    name: String,
    password: String,
}

#[derive(Deserialize)]
pub struct NewForm {
    name: String,
    current_password: String,
}

async fn list_page(
    state: &AppState,
    session: &Session,
    user: &UserRow,
    name: &str,
    errors: FieldErrors,
) -> Result<ListPage, AppError> {
    let lines = app_passwords::list(state, user)
        .await?
        .into_iter()
        .map(|p| Line {
            id: p.id,
            name: p.name,
            created: clock::human(p.created),
            last_used: p
                .last_used
                .map(clock::human)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    Ok(ListPage {
        ctx: PageCtx::new(session, Some(user), state),
        username: user.username.clone(),
        lines,
        name: name.chars().take(app_passwords::MAX_NAME).collect(),
        book_name: book_dav::book_name(state, user).await?,
        errors,
    })
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = list_page(&state, &session, &user, "", FieldErrors::new()).await?;
    render(StatusCode::OK, &page)
}

pub async fn create(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<NewForm>,
) -> Result<HttpResponse, AppError> {
    let errors =
        match app_passwords::create(&state, &user, &form.name, &form.current_password).await {
            Ok((made, password)) => {
                let page = MadePage {
                    ctx: PageCtx::new(&session, Some(&user), &state),
                    username: user.username.clone(),
                    name: made.name,
                    password,
                };
                return render(StatusCode::OK, &page);
            }
            Err(Error::Invalid(errors)) => errors,
            Err(Error::Unauthorized(_)) => FieldErrors::from([(
                "current_password".to_string(),
                "The password is wrong.".to_string(),
            )]),
            Err(Error::Refused(message)) => FieldErrors::from([("name".to_string(), message)]),
            Err(other) => return Err(other.into()),
        };
    let page = list_page(&state, &session, &user, &form.name, errors).await?;
    render(StatusCode::BAD_REQUEST, &page)
}

pub async fn revoke(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    app_passwords::revoke(&state, &user, &id).await?;
    flash(
        &session,
        "success",
        "That app password was revoked; its device is signed out.",
    );
    Ok(redirect("/account/app-passwords"))
}

#[derive(Deserialize)]
pub struct BookNameForm {
    book_name: String,
}

/// Names the address book devices show (empty: back to "Contacts of USERNAME").
pub async fn rename_book(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<BookNameForm>,
) -> Result<HttpResponse, AppError> {
    match book_dav::rename_book(&state, &user, &form.book_name).await {
        Ok(()) => {
            flash(&session, "success", "Address book renamed");
            Ok(redirect("/account/app-passwords"))
        }
        Err(Error::Invalid(errors)) => {
            let mut page = list_page(&state, &session, &user, "", errors).await?;
            page.book_name = form.book_name.chars().take(200).collect();
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(other) => Err(other.into()),
    }
}

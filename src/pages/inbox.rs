//! `/admin/submissions`: the inbox of the public form (admins only, after TOTP).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts::UserRow;
use crate::auth::AdminUser;
use crate::clock;
use crate::crypto::inbox_key::InboxKey;
use crate::domain::paging::Paging;
use crate::error::AppError;
use crate::inbox::{self, NoteView, STATUSES, SubmissionView};
use crate::pages::login::render;
use crate::pages::page::{ConfirmPage, FieldErrors, PageCtx, Pager, flash};
use crate::pages::redirect;
use crate::state::AppState;
use vault_core::Error;

const PER_PAGE: i64 = 50;

#[derive(Template)]
#[template(path = "admin/submissions.html")]
struct InboxPage {
    ctx: PageCtx,
    counts: Vec<(&'static str, i64)>,
    status: String,
    items: Vec<SubmissionView>,
    pages: i64,
    pager: Pager,
    /// This admin does not hold the inbox key yet: the messages are sealed to them.
    waiting: bool,
}

#[derive(Template)]
#[template(path = "admin/submission.html")]
struct SubmissionPage {
    ctx: PageCtx,
    s: SubmissionView,
    notes: Vec<NoteView>,
    statuses: [&'static str; 4],
    errors: FieldErrors,
    duplicate_of: Option<String>,
}

#[derive(Deserialize)]
pub struct InboxQuery {
    status: Option<String>,
    page: Option<String>,
}

#[derive(Deserialize)]
pub struct NoteForm {
    note: String,
}

#[derive(Deserialize)]
pub struct StatusForm {
    status: String,
}

/// "1st", "2nd", "3rd", "4th" … for the repeat-sender flag.
pub fn ordinal(n: &i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The inbox key as this admin's own keys open it. An admin who does not hold it yet (made
/// after the others; it is granted on another admin's next visit) is sent to the inbox page,
/// which says so.
async fn key_of(state: &AppState, admin: &UserRow) -> Result<InboxKey, AppError> {
    inbox::key::key_of(state, admin)
        .await?
        .ok_or_else(|| AppError::Redirect("/admin/submissions".into()))
}

/// Dates for the templates.
pub fn when(ts: &i64) -> String {
    clock::human(*ts)
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    query: web::Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let status = query
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(s) = status
        && !STATUSES.contains(&s)
    {
        return Err(AppError::BadRequest("Unknown status.".into()));
    }
    let paging = Paging::parse(query.page.as_deref(), Some(&PER_PAGE.to_string()))
        .map_err(AppError::Validation)?;
    let key = inbox::key::key_of(&state, &admin).await?;
    let (items, total) = match &key {
        Some(key) => inbox::list(&state, key, status, paging).await?,
        None => (Vec::new(), 0),
    };
    let status = status.unwrap_or("").to_string();
    let pages = paging.pages(total);
    let pager = Pager::new(paging.page, pages, format!("{total} messages"), |n| {
        format!("/admin/submissions?status={status}&page={n}")
    });
    let page = InboxPage {
        ctx: PageCtx::new(&session, Some(&admin), &state),
        counts: inbox::counts(&state).await?,
        status,
        items,
        pages,
        pager,
        waiting: key.is_none(),
    };
    render(StatusCode::OK, &page)
}

async fn detail(
    state: &AppState,
    session: &Session,
    admin: &UserRow,
    id: &str,
    errors: FieldErrors,
    duplicate_of: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let key = key_of(state, admin).await?;
    let (s, notes) = inbox::view(state, admin, &key, id).await?;
    let page = SubmissionPage {
        ctx: PageCtx::new(session, Some(admin), state),
        s,
        notes,
        statuses: STATUSES,
        errors,
        duplicate_of,
    };
    render(status, &page)
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    detail(
        &state,
        &session,
        &admin,
        &id,
        FieldErrors::new(),
        None,
        StatusCode::OK,
    )
    .await
}

pub async fn add_note(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    id: web::Path<String>,
    form: web::Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&state, &admin).await?;
    match inbox::add_note(&state, &admin, &key, &id, &form.note).await {
        Ok(()) => {
            flash(&session, "success", "Note added.");
            Ok(redirect(&format!("/admin/submissions/{id}")))
        }
        Err(Error::Invalid(errors)) => {
            detail(
                &state,
                &session,
                &admin,
                &id,
                errors,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn set_status(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    match inbox::set_status(&state, &admin, &id, &form.status).await {
        Ok(()) => {
            flash(
                &session,
                "success",
                format!("Status set to {}.", form.status.trim()),
            );
            Ok(redirect(&format!("/admin/submissions/{id}")))
        }
        Err(Error::Invalid(errors)) => {
            detail(
                &state,
                &session,
                &admin,
                &id,
                errors,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn convert(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&state, &admin).await?;
    match inbox::convert(&state, &admin, &key, &id).await {
        Ok(contact_id) => {
            flash(&session, "success", "Added to your contacts.");
            Ok(redirect(&format!("/contacts/{contact_id}")))
        }
        Err(Error::Duplicate(existing)) => {
            let errors = FieldErrors::from([(
                "convert".to_string(),
                "This person is already in your contacts (same name and phone).".to_string(),
            )]);
            detail(
                &state,
                &session,
                &admin,
                &id,
                errors,
                existing,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(Error::Invalid(fields)) => {
            let message = fields
                .into_iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join(" ");
            let errors = FieldErrors::from([(
                "convert".to_string(),
                format!("It cannot become a contact as it is: {message}"),
            )]);
            detail(
                &state,
                &session,
                &admin,
                &id,
                errors,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(other) => Err(other.into()),
    }
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let key = key_of(&state, &admin).await?;
    let (s, _) = inbox::view(&state, &admin, &key, &id).await?;
    let page = ConfirmPage {
        ctx: PageCtx::new(&session, Some(&admin), &state),
        title: format!("Delete the message from {}", s.name),
        consequence: "The message and its notes are removed. This cannot be undone.",
        action: format!("/admin/submissions/{}/delete", s.id),
        cancel: format!("/admin/submissions/{}", s.id),
        js_question: Some("Delete this message for good?".into()),
        ask_password: false,
        errors: FieldErrors::new(),
    };
    render(StatusCode::OK, &page)
}

pub async fn delete(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(admin): AdminUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    inbox::delete(&state, &admin, &id).await?;
    flash(&session, "success", "Submission deleted.");
    Ok(redirect("/admin/submissions"))
}

//! Import of a CSV or vCard file (all or nothing, every bad line or card listed) and the
//! streamed CSV and vCard exports.

use crate::accounts::UserRow;
use crate::auth::{CurrentUser, csrf};
use crate::book::cards;
use crate::book::csv::{self as book_csv, ImportError, MAX_IMPORT_BYTES};
use crate::error::AppError;
use crate::http::download::{csv_attachment, vcard_attachment};
use crate::http::upload::read_upload;
use crate::pages::login::render;
use crate::pages::page::{PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

/// A refused row or card: where it is (`Line 3`, `Card 2`) and why.
pub struct BadLine {
    pub place: String,
    pub error: String,
}

/// Is this a vCard file (its first line that is not blank opens a card)?
fn is_vcard(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let start = data.trim_ascii_start();
    start.len() >= 11 && start[..11].eq_ignore_ascii_case(b"BEGIN:VCARD")
}

#[derive(Template)]
#[template(path = "contacts/import.html")]
struct ImportPage {
    ctx: PageCtx,
    /// A problem with the upload or the file as a whole.
    file_error: Option<String>,
    /// Every invalid row (nothing was stored).
    bad_lines: Vec<BadLine>,
}

impl ImportPage {
    fn new(state: &AppState, session: &Session, user: &UserRow) -> Self {
        ImportPage {
            ctx: PageCtx::new(session, Some(user), state),
            file_error: None,
            bad_lines: Vec::new(),
        }
    }
}

pub async fn import_form(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &ImportPage::new(&state, &session, &user))
}

pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let mut page = ImportPage::new(&state, &session, &user);
    let csrf = csrf::token_to_check_in_body(&req, &session)?;
    let data = match upload(&req, payload, csrf.as_deref()).await {
        Ok(data) => data,
        Err(AppError::BadRequest(message)) => {
            page.file_error = Some(message);
            return render(StatusCode::BAD_REQUEST, &page);
        }
        Err(other) => return Err(other),
    };
    state.limits.import(user.id).await?;
    let vcard = is_vcard(&data);
    let imported = if vcard {
        cards::import(&state, &user, &data).await
    } else {
        book_csv::import(&state, &user, &data).await
    };
    match imported {
        Ok(report) => {
            let mut message = format!("{} added, {} skipped", report.added, report.skipped);
            if !report.ignored_columns.is_empty() {
                message.push_str(&format!(
                    "; ignored columns: {}",
                    report.ignored_columns.join(", ")
                ));
            }
            flash(&session, "success", message);
            Ok(redirect("/contacts"))
        }
        Err(ImportError::Rows(errors)) => {
            page.bad_lines = errors
                .into_iter()
                .map(|(n, error)| BadLine {
                    place: format!("{} {n}", if vcard { "Card" } else { "Line" }),
                    error,
                })
                .collect();
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(ImportError::File(message)) => {
            page.file_error = Some(format!("This file cannot be imported: {message}."));
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(ImportError::Book(e)) => Err(e.into()),
    }
}

/// The uploaded file. A missing, empty or malformed upload is `BadRequest` with a message
/// for the page; too large stays `TooLarge` (the 413 page).
async fn upload(
    req: &HttpRequest,
    payload: web::Payload,
    csrf: Option<&str>,
) -> Result<Vec<u8>, AppError> {
    let choose = || AppError::BadRequest("Choose a CSV file (or a vCard file) to upload.".into());
    match read_upload(req, payload, MAX_IMPORT_BYTES, csrf).await {
        Ok(data) if data.trim_ascii().is_empty() => Err(choose()),
        Err(AppError::Validation(fields)) => Err(fields
            .into_values()
            .next()
            .map(AppError::BadRequest)
            .unwrap_or_else(choose)),
        other => other,
    }
}

pub async fn export(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    book_csv::begin_export(&state, &user).await?;
    Ok(csv_attachment(state.clone(), user.clone()))
}

pub async fn export_vcard(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    cards::begin_export(&state, &user).await?;
    Ok(vcard_attachment(state.clone(), user.clone()))
}

/// `GET /contacts/{id}/card.vcf`: one contact as a vCard file.
pub async fn export_card(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let card = cards::card_of(&state, &user, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/vcard; charset=utf-8")
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"contact.vcf\"",
        ))
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(card))
}

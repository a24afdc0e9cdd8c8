//! `/api/contacts/export/…` and `/api/contacts/import/…`: the caller's book as a CSV or vCard
//! file, and such a file into it (all or nothing; every bad row or card listed); one contact
//! as a vCard.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::ApiUser;
use crate::book::cards;
use crate::book::csv::{self as book_csv, ImportError, ImportReport, MAX_IMPORT_BYTES};
use crate::error::{ApiError, AppError, ErrorBody};
use crate::http::download::{csv_attachment, vcard_attachment};
use crate::http::upload::read_upload;
use crate::state::AppState;

/// `{"line", "error"}`: a rejected row of an import.
#[derive(Serialize, ToSchema)]
pub struct RowError {
    /// The line of the file (the header is line 1).
    line: u64,
    error: String,
}

/// The result of an import.
#[derive(Serialize, ToSchema)]
pub struct ImportOk {
    added: usize,
    /// Rows that duplicate an existing contact or an earlier row.
    skipped: usize,
    /// Always empty on success.
    errors: Vec<RowError>,
    /// Unknown columns, ignored.
    ignored_columns: Vec<String>,
}

/// A refused import: nothing was stored. Bad rows are listed in `errors`; a malformed upload
/// answers with the plain error body.
#[derive(Serialize, ToSchema)]
pub struct ImportRejected {
    error: String,
    #[schema(required = false)]
    added: usize,
    #[schema(required = false)]
    skipped: usize,
    #[schema(required = false)]
    errors: Vec<RowError>,
    /// Field name → message (a multipart body without a `file` part).
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<std::collections::BTreeMap<String, String>>,
}

/// The file of a multipart import, in a part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ImportUpload {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Every contact of the caller as CSV (`name,phone,email,address,company,notes,tags,favorite,created`).
#[utoipa::path(
    get,
    path = "/api/contacts/export/csv",
    operation_id = "export_csv",
    tag = "contacts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A CSV attachment", body = String, content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"contacts.csv\""))),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn export_csv(
    state: web::Data<AppState>,
    caller: ApiUser,
) -> Result<HttpResponse, ApiError> {
    book_csv::begin_export(&state, &caller.user)
        .await
        .map_err(AppError::from)?;
    Ok(csv_attachment(state.clone(), caller.user.clone()))
}

/// Imports a CSV file, all or nothing; duplicates are skipped. At most 10 MB.
#[utoipa::path(
    post,
    path = "/api/contacts/import/csv",
    operation_id = "import_csv",
    tag = "contacts",
    security(("bearer" = [])),
    request_body(
        description = "The CSV file: raw, or as the part `file` of a multipart form",
        content(
            (String = "text/csv"),
            (ImportUpload = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 200, description = "Imported", body = ImportOk),
        (status = 400, description = "Invalid rows or file; nothing was stored", body = ImportRejected),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls or CSV imports by this user (imports: 4 at once, then one every 30 s)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 413, description = "The file is larger than 10 MB, or the whole body than 11 MB", body = ErrorBody),
    ),
)]
pub async fn import_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiUser,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.limits.import(caller.user.id).await?;
    let data = read_upload(&req, payload, MAX_IMPORT_BYTES, None).await?;
    let imported = book_csv::import(&state, &caller.user, &data).await;
    csv_answer(imported)
}

/// The answer to a CSV import.
fn csv_answer(imported: Result<ImportReport, ImportError>) -> Result<HttpResponse, ApiError> {
    match imported {
        Ok(report) => Ok(HttpResponse::Ok().json(ImportOk {
            added: report.added,
            skipped: report.skipped,
            errors: vec![],
            ignored_columns: report.ignored_columns,
        })),
        Err(ImportError::Rows(errors)) => Ok(HttpResponse::BadRequest().json(ImportRejected {
            error: format!("{} invalid row(s); nothing was imported", errors.len()),
            added: 0,
            skipped: 0,
            errors: errors
                .into_iter()
                .map(|(line, error)| RowError { line, error })
                .collect(),
            fields: None,
        })),
        Err(ImportError::File(message)) => Ok(HttpResponse::BadRequest().json(ImportRejected {
            error: message,
            added: 0,
            skipped: 0,
            errors: vec![],
            fields: None,
        })),
        Err(ImportError::Book(e)) => Err(AppError::from(e).into()),
    }
}

/// `{"card", "error"}`: a rejected card of a vCard import (the first card is 1).
#[derive(Serialize, ToSchema)]
pub struct CardError {
    card: u64,
    error: String,
}

/// The result of a vCard import.
#[derive(Serialize, ToSchema)]
pub struct CardsImported {
    added: usize,
    /// Cards that duplicate an existing contact or an earlier card.
    skipped: usize,
    /// Always empty on success.
    errors: Vec<CardError>,
}

/// A refused vCard import: nothing was stored. Bad cards are listed in `errors`.
#[derive(Serialize, ToSchema)]
pub struct CardsRejected {
    error: String,
    #[schema(required = false)]
    added: usize,
    #[schema(required = false)]
    skipped: usize,
    #[schema(required = false)]
    errors: Vec<CardError>,
}

/// Every contact of the caller as one vCard 4.0 file. Contacts that came as cards come back
/// whole (every property they had); the others are written from their fields.
#[utoipa::path(
    get,
    path = "/api/contacts/export/vcard",
    operation_id = "export_vcard",
    tag = "contacts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A vCard 4.0 attachment", body = String, content_type = "text/vcard",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"contacts.vcf\""))),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn export_vcard(
    state: web::Data<AppState>,
    caller: ApiUser,
) -> Result<HttpResponse, ApiError> {
    cards::begin_export(&state, &caller.user).await?;
    Ok(vcard_attachment(state.clone(), caller.user.clone()))
}

/// One contact of the caller as a vCard 4.0.
#[utoipa::path(
    get,
    path = "/api/contacts/{id}/vcard",
    operation_id = "contact_vcard",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "The card", body = String, content_type = "text/vcard"),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such contact of the caller", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn contact_vcard(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let card = cards::card_of(&state, &caller.user, &id).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/vcard; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(card))
}

/// Imports a vCard file (4.0, 3.0 or 2.1; one card or many), all or nothing; duplicates are
/// skipped. Each card is kept whole. At most 10 MB, 1 MiB a card.
#[utoipa::path(
    post,
    path = "/api/contacts/import/vcard",
    operation_id = "import_vcard",
    tag = "contacts",
    security(("bearer" = [])),
    request_body(
        description = "The .vcf file: raw, or as the part `file` of a multipart form",
        content(
            (String = "text/vcard"),
            (ImportUpload = "multipart/form-data"),
        ),
    ),
    responses(
        (status = 200, description = "Imported", body = CardsImported),
        (status = 400, description = "Invalid cards or file; nothing was stored", body = CardsRejected),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls or imports by this user (imports: 4 at once, then one every 30 s)", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 413, description = "The file is larger than 10 MB, or the whole body than 11 MB", body = ErrorBody),
    ),
)]
pub async fn import_vcard(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiUser,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    state.limits.import(caller.user.id).await?;
    let data = read_upload(&req, payload, MAX_IMPORT_BYTES, None).await?;
    let rejected = |error: String, errors: Vec<CardError>| {
        HttpResponse::BadRequest().json(CardsRejected {
            error,
            added: 0,
            skipped: 0,
            errors,
        })
    };
    match cards::import(&state, &caller.user, &data).await {
        Ok(report) => Ok(HttpResponse::Ok().json(CardsImported {
            added: report.added,
            skipped: report.skipped,
            errors: vec![],
        })),
        Err(ImportError::Rows(errors)) => Ok(rejected(
            format!("{} invalid card(s); nothing was imported", errors.len()),
            errors
                .into_iter()
                .map(|(card, error)| CardError { card, error })
                .collect(),
        )),
        Err(ImportError::File(message)) => Ok(rejected(message, vec![])),
        Err(ImportError::Book(e)) => Err(AppError::from(e).into()),
    }
}

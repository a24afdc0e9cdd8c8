//! `GET /api/contacts/export` and `POST /api/contacts/import`: the caller's book as a CSV
//! file, and a CSV file into it (all or nothing; every bad row listed).

//! `/api/contacts`: the contact book over JSON, as in API.md.

use crate::http::download::csv_attachment;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::ApiUser;
use crate::book::csv::{self as book_csv, ImportError, MAX_IMPORT_BYTES};
use crate::error::{ApiError, AppError, ErrorBody};
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
    Ok(csv_attachment(state.clone(), caller.user.id))
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
    state.limits.import(caller.user.id)?;
    let data = read_upload(&req, payload, MAX_IMPORT_BYTES, None).await?;
    match book_csv::import(&state, &caller.user, &data).await {
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

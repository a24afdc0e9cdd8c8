//! The JSON API of `shared/API.md`. Every handler returns `ApiError` on failure, so every
//! error is `{"error": ...}` JSON; the extractor configs below make malformed bodies and
//! query strings answer the same way.

pub mod admin;
pub mod app_passwords;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod openapi;
pub mod transfer;

use actix_web::{HttpRequest, HttpResponse, error, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, AppError};

/// JSON bodies of the API are small.
pub const JSON_LIMIT: usize = 64 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, _req: &HttpRequest| {
            let app = match &err {
                error::JsonPayloadError::Overflow { .. }
                | error::JsonPayloadError::OverflowKnownLength { .. } => AppError::TooLarge,
                error::JsonPayloadError::ContentType => {
                    AppError::BadRequest("expected Content-Type: application/json".into())
                }
                other => AppError::BadRequest(format!("invalid JSON body: {other}")),
            };
            ApiError(app).into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req: &HttpRequest| {
        ApiError(AppError::BadRequest(format!("invalid query: {err}"))).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|_, _req: &HttpRequest| ApiError(AppError::NotFound).into())
}

/// Unknown `/api/...` paths.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError(AppError::NotFound))
}

/// `{"ok": true}`.
#[derive(Serialize, ToSchema)]
pub struct OkBody {
    /// Always `true`.
    pub ok: bool,
}

/// `{"deleted": "<id or username>"}`.
#[derive(Serialize, ToSchema)]
pub struct Deleted {
    /// The id of the deleted contact, or the deleted user's name.
    pub deleted: String,
}

/// `{"ok": true}`.
pub fn ok() -> HttpResponse {
    HttpResponse::Ok().json(OkBody { ok: true })
}

//! One error type for the whole app, rendered two ways: an HTML page for the web pages,
//! JSON `{"error"}` for the API (wrap it in [`ApiError`]). Internal causes go to the log
//! with the request id; the person sees only the id.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use serde::Serialize;
use utoipa::ToSchema;

use crate::pages::page::{ErrorPage, PageCtx};
use crate::telemetry::current_request_id;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("{0}")]
    BadRequest(String),
    /// Field name → message, for forms and `400 {"error", "fields"}`. Shown as every field's
    /// message on one line, for clients that show only `error` (the old app's frontend).
    #[error("{}", field_summary(.0))]
    Validation(BTreeMap<String, String>),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("too many requests")]
    RateLimited { retry_after: u64 },
    #[error("request too large")]
    TooLarge,
    /// A page that needs a signed-in user was asked for without one.
    #[error("sign in required")]
    LoginRequired,
    /// Go elsewhere first (an admin who must enrol TOTP).
    #[error("redirect")]
    Redirect(String),
    #[error("the form was out of date or came from another site")]
    Csrf,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub use vault_core::error::field_summary;

/// How a core service's refusal reads on a page or in JSON.
impl From<vault_core::Error> for AppError {
    fn from(e: vault_core::Error) -> Self {
        use vault_core::Error as Core;
        match e {
            Core::Invalid(fields) => AppError::Validation(fields),
            Core::Duplicate(_) => AppError::Conflict("duplicate contact".into()),
            Core::NotFound => AppError::NotFound,
            Core::Forbidden => AppError::Forbidden,
            Core::Conflict(message) => AppError::Conflict(message),
            Core::Refused(message) => AppError::BadRequest(message),
            Core::Unauthorized(message) => AppError::Unauthorized(message),
            Core::Locked { retry_after } => AppError::RateLimited { retry_after },
            Core::Sealed => AppError::Unauthorized(
                "This sign-in no longer opens your contact book. Please sign in again.".into(),
            ),
            Core::Internal(e) => AppError::Internal(e),
        }
    }
}

impl AppError {
    /// One field's message, for validation errors.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        AppError::Validation(BTreeMap::from([(name.to_string(), message.into())]))
    }

    fn log_if_internal(&self) -> Option<String> {
        let request_id = current_request_id();
        if let AppError::Internal(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        request_id
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) | AppError::Validation(_) => StatusCode::BAD_REQUEST,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::LoginRequired | AppError::Redirect(_) => StatusCode::SEE_OTHER,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = self.log_if_internal();
        match self {
            AppError::LoginRequired => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish();
            }
            AppError::Redirect(to) => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, to.as_str()))
                    .finish();
            }
            _ => {}
        }
        let (title, message) = match self {
            AppError::NotFound => (
                "Page not found",
                "There is nothing at this address.".to_string(),
            ),
            AppError::Forbidden => (
                "Not allowed",
                "Your account cannot open this page.".to_string(),
            ),
            AppError::Csrf => (
                "Form expired",
                "This form was out of date or came from another site, so nothing was done. \
                 Go back, reload the page and try again."
                    .to_string(),
            ),
            AppError::RateLimited { retry_after } => (
                "Too many attempts",
                format!("Please wait {retry_after} seconds and try again."),
            ),
            AppError::TooLarge => (
                "Too large",
                "That upload is larger than allowed.".to_string(),
            ),
            AppError::Internal(_) => (
                "Something went wrong",
                "An unexpected error stopped this request. Nothing secret was shown; \
                 quote the reference below if you report it."
                    .to_string(),
            ),
            other => ("Request not accepted", other.to_string()),
        };
        let page = ErrorPage {
            ctx: PageCtx::anonymous(),
            status: self.status_code().as_u16(),
            title: title.to_string(),
            message,
            request_id: matches!(self, AppError::Internal(_))
                .then_some(request_id)
                .flatten(),
        };
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let AppError::RateLimited { retry_after } = self {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        match page.render() {
            Ok(html) => res.content_type("text/html; charset=utf-8").body(html),
            Err(_) => res.content_type("text/plain; charset=utf-8").body(title),
        }
    }
}

/// The body of every API error: `{"error"}`, plus `fields` for validation errors and
/// `request_id` for internal ones.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A human readable message (for 401s of the login also a code: `invalid credentials`,
    /// `otp_required`, `invalid otp`, `totp_enrollment_required`). For a validation error
    /// (`400` with `fields`) every field's message on one line, `"field: message · …"`.
    pub error: String,
    /// Field name → message, for validation errors (`400`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// The request's id, quoted in the log (internal errors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        ErrorBody {
            error: error.into(),
            fields: None,
            request_id: None,
        }
    }
}

/// The JSON face of [`AppError`], for `/api/` handlers.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl From<vault_core::Error> for ApiError {
    fn from(e: vault_core::Error) -> Self {
        ApiError(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(e.into())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::LoginRequired | AppError::Redirect(_) => StatusCode::UNAUTHORIZED,
            AppError::Csrf => StatusCode::FORBIDDEN,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = self.0.log_if_internal();
        let body = match &self.0 {
            AppError::Validation(fields) => ErrorBody {
                fields: Some(fields.clone()),
                ..ErrorBody::new(field_summary(fields))
            },
            AppError::Internal(_) => ErrorBody {
                request_id,
                ..ErrorBody::new("internal error")
            },
            AppError::LoginRequired | AppError::Redirect(_) => {
                ErrorBody::new("missing, invalid or expired token")
            }
            other => ErrorBody::new(other.to_string()),
        };
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        if let AppError::RateLimited { retry_after } = &self.0 {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        res.json(body)
    }
}

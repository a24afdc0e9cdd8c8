//! `GET /api/audit`: newest first; admins see everyone's events, users their own.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::ApiUser;
use crate::clock::rfc3339;
use crate::domain::paging::Paging;
use crate::error::{ApiError, AppError, ErrorBody};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number (default 1).
    page: Option<String>,
    /// Events per page (default 50, at most 200).
    per_page: Option<String>,
}

#[derive(Clone, Serialize, ToSchema)]
pub struct Event {
    id: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    timestamp: String,
    username: String,
    /// An upper-case word such as `LOGIN_OK` or `ADD_CONTACT`.
    action: String,
    /// Never a decrypted contact field.
    detail: String,
}

/// One page of audit events, newest first.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    events: Vec<Event>,
    /// The same list as `events`, under the old app's name (its frontend reads `log`).
    log: Vec<Event>,
    total: i64,
    page: i64,
    per_page: i64,
}

/// The audit log: admins see everyone's events, users their own.
#[utoipa::path(
    get,
    path = "/api/audit",
    operation_id = "list_audit_events",
    tag = "audit",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "A page of events, newest first", body = AuditPage),
        (status = 400, description = "Invalid paging", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let paging = Paging::parse(query.page.as_deref(), query.per_page.as_deref())
        .map_err(AppError::Validation)?;
    let (page, per_page) = (paging.page, paging.per_page);
    let scope = (!caller.user.is_admin()).then_some(caller.user.id);
    let offset = paging.offset();
    let (events, total) = crate::audit::events(&state, scope, per_page, offset).await?;
    let events: Vec<Event> = events
        .into_iter()
        .map(|e| Event {
            id: e.id.to_string(),
            timestamp: rfc3339(e.ts),
            username: e.username,
            action: e.action,
            detail: e.detail,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditPage {
        log: events.clone(),
        events,
        total,
        page,
        per_page,
    }))
}

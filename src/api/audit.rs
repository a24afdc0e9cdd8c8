//! `GET /api/audit`: newest first; admins see everyone's events, users their own.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::ApiUser;
use crate::clock::rfc3339;
use crate::domain::paging::Paging;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::store::audit as rows;

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
    per_page: Option<String>,
}

#[derive(Serialize)]
struct Event {
    id: String,
    timestamp: String,
    username: String,
    action: String,
    detail: String,
}

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
    let (events, total) = rows::page(&state.db, scope, per_page, offset).await?;
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
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "events": events,
        "total": total,
        "page": page,
        "per_page": per_page,
    })))
}

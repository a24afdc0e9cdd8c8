//! `GET /api/audit`: newest first; admins see everyone's events, users their own.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::ApiUser;
use crate::clock::rfc3339;
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

/// `page` ≥ 1 (default 1); `per_page` 1..=200 (default 50, larger values clamped).
pub fn paging(page: Option<&str>, per_page: Option<&str>) -> Result<(i64, i64), AppError> {
    let number = |name: &str, v: Option<&str>, default: i64| -> Result<i64, AppError> {
        match v.map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .map_err(|_| AppError::field(name, format!("{name} must be a whole number"))),
        }
    };
    let page = number("page", page, 1)?;
    let per_page = number("per_page", per_page, 50)?;
    if page < 1 {
        return Err(AppError::field("page", "page starts at 1"));
    }
    if per_page < 1 {
        return Err(AppError::field("per_page", "per_page must be at least 1"));
    }
    Ok((page, per_page.min(200)))
}

pub async fn list(
    state: web::Data<AppState>,
    caller: ApiUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (page, per_page) = paging(query.page.as_deref(), query.per_page.as_deref())?;
    let scope = (!caller.user.is_admin()).then_some(caller.user.id);
    let offset = (page - 1).saturating_mul(per_page);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_clamps_and_refuses() {
        assert_eq!(paging(None, None).unwrap(), (1, 50));
        assert_eq!(paging(Some("3"), Some("500")).unwrap(), (3, 200));
        assert!(paging(Some("0"), None).is_err());
        assert!(paging(None, Some("0")).is_err());
        assert!(paging(Some("x"), None).is_err());
        assert!(paging(None, Some("-1")).is_err());
    }
}

//! `/audit` (your own events) and `/admin/audit` (everyone's).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts::UserRow;
use crate::auth::{AdminUser, CurrentUser};
use crate::clock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{PageCtx, Pager};
use crate::state::AppState;

const PER_PAGE: i64 = 50;

pub struct EventLine {
    pub when: String,
    pub username: String,
    pub action: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit/list.html")]
struct AuditPage {
    ctx: PageCtx,
    heading: String,
    show_user: bool,
    events: Vec<EventLine>,
    pages: i64,
    total: i64,
    pager: Pager,
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

async fn page_of(
    state: &AppState,
    session: &Session,
    user: &UserRow,
    all: bool,
    query: &PageQuery,
) -> Result<HttpResponse, AppError> {
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1);
    let scope = (!all).then_some(user.id);
    let (events, total) =
        crate::audit::events(state, scope, PER_PAGE, (page - 1).saturating_mul(PER_PAGE)).await?;
    let base_path = if all { "/admin/audit" } else { "/audit" };
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let pager = Pager::new(page, pages, String::new(), |n| {
        format!("{base_path}?page={n}")
    });
    let page_html = AuditPage {
        ctx: PageCtx::new(session, Some(user), state),
        heading: if all {
            "Audit log".into()
        } else {
            "My activity".into()
        },
        show_user: all,
        events: events
            .into_iter()
            .map(|e| EventLine {
                when: clock::human(e.ts),
                username: e.username,
                action: e.action,
                detail: e.detail,
            })
            .collect(),
        pages,
        total,
        pager,
    };
    render(StatusCode::OK, &page_html)
}

pub async fn mine(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    page_of(&state, &session, &user, false, &query).await
}

pub async fn everyone(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(user): AdminUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    page_of(&state, &session, &user, true, &query).await
}

//! `/admin/notifications`: how the notifications of new messages went (sent, retrying,
//! failed), newest first, and which channels are on.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::auth::AdminUser;
use crate::clock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::PageCtx;
use crate::state::AppState;

/// Rows shown.
const SHOWN: i64 = 100;

pub struct Line {
    pub created: String,
    pub channel: String,
    pub messages: i64,
    /// `sent`, `retrying`, `waiting` or `failed`.
    pub state: &'static str,
    pub attempts: i64,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin/notifications.html")]
struct NotificationsPage {
    ctx: PageCtx,
    channels: Vec<&'static str>,
    lines: Vec<Line>,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    AdminUser(user): AdminUser,
) -> Result<HttpResponse, AppError> {
    let rows = vault_core::notify::recent(&state, SHOWN).await?;
    let lines = rows
        .into_iter()
        .map(|r| {
            let state = match (r.status.as_str(), r.attempts) {
                ("sent", _) => "sent",
                ("failed", _) => "failed",
                (_, 0) => "waiting",
                _ => "retrying",
            };
            let detail = match (r.sent, &r.last_error) {
                (Some(sent), _) => format!("sent {}", clock::human(sent)),
                (None, Some(error)) if state == "failed" => error.clone(),
                (None, Some(error)) => format!("{error}; next try {}", clock::human(r.due)),
                (None, None) => format!("due {}", clock::human(r.due)),
            };
            Line {
                created: clock::human(r.created),
                channel: r.channel,
                messages: r.messages,
                state,
                attempts: r.attempts,
                detail,
            }
        })
        .collect();
    let page = NotificationsPage {
        ctx: PageCtx::new(&session, Some(&user), &state),
        channels: state.notify.channels.iter().map(|c| c.as_str()).collect(),
        lines,
    };
    render(StatusCode::OK, &page)
}

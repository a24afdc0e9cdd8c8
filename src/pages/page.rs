//! What every page shares: the signed-in user for the top bar, the CSRF token, flash
//! messages and the session countdown.

use std::collections::BTreeMap;

use actix_session::Session;
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::accounts::UserRow;
use crate::auth::csrf;
use crate::pages::assets;
use crate::state::AppState;

const FLASH_KEY: &str = "flash";

pub struct NavUser {
    pub username: String,
    pub is_admin: bool,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Flash {
    pub kind: String,
    pub message: String,
}

pub struct PageCtx {
    pub user: Option<NavUser>,
    pub csrf_token: String,
    pub flashes: Vec<Flash>,
    pub session_seconds_left: Option<i64>,
    pub css_href: String,
    pub js_href: String,
}

impl PageCtx {
    /// For pages rendered without a session (error pages).
    pub fn anonymous() -> Self {
        PageCtx {
            user: None,
            csrf_token: String::new(),
            flashes: Vec::new(),
            session_seconds_left: None,
            css_href: assets::href("app.css"),
            js_href: assets::href("app.js"),
        }
    }

    /// The context of a page: takes (and so clears) the session's flash messages.
    pub fn new(session: &Session, user: Option<&UserRow>, state: &AppState) -> Self {
        let flashes = session
            .remove_as::<Vec<Flash>>(FLASH_KEY)
            .and_then(Result::ok)
            .unwrap_or_default();
        PageCtx {
            user: user.map(|u| NavUser {
                username: u.username.clone(),
                is_admin: u.is_admin(),
            }),
            csrf_token: csrf::token(session),
            flashes,
            // The request that renders the page has just moved the idle deadline.
            session_seconds_left: user.map(|_| state.idle_seconds()),
            ..PageCtx::anonymous()
        }
    }
}

/// Queues a message for the next page this session sees.
pub fn flash(session: &Session, kind: &str, message: impl Into<String>) {
    let mut list = session
        .get::<Vec<Flash>>(FLASH_KEY)
        .ok()
        .flatten()
        .unwrap_or_default();
    list.push(Flash {
        kind: kind.into(),
        message: message.into(),
    });
    let _ = session.insert(FLASH_KEY, list);
}

/// Messages under form fields, by field name.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage {
    pub ctx: PageCtx,
    pub status: u16,
    pub title: String,
    pub message: String,
    pub request_id: Option<String>,
}

/// "Delete Ann Lee?": the one page every irreversible action asks on before it happens
/// (`templates/confirm.html`). With `ask_password` it also asks for the user's own password.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub ctx: PageCtx,
    /// The heading and the button, e.g. "Delete Ann Lee".
    pub title: String,
    /// What happens, in one sentence or two.
    pub consequence: &'static str,
    /// Where the form posts.
    pub action: String,
    /// Where "Cancel" leads.
    pub cancel: String,
    /// The browser's own "are you sure?" (with JavaScript), if any.
    pub js_question: Option<String>,
    pub ask_password: bool,
    pub errors: FieldErrors,
}

/// "Page 2 of 5" under a list, with the links to the pages either side
/// (`templates/pager.html`, included by every paged list).
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    /// Shown after "Page 2 of 5", e.g. "contacts 51–100 of 230"; may be empty.
    pub summary: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `href(n)` is the address of page `n`.
    pub fn new(page: i64, pages: i64, summary: String, href: impl Fn(i64) -> String) -> Self {
        Pager {
            page,
            pages,
            summary,
            prev: (page > 1).then(|| href(page - 1)),
            next: (page < pages).then(|| href(page + 1)),
        }
    }
}

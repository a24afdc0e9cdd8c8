//! What every page shares: the signed-in user for the top bar, the CSRF token, flash
//! messages and the session countdown.

use std::collections::BTreeMap;

use actix_session::Session;
use askama::Template;
use serde::{Deserialize, Serialize};

use crate::auth::csrf;
use crate::state::AppState;
use crate::store::users::UserRow;
use crate::web::assets;

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

//! Server-rendered pages: one file per area, each with its handlers and askama structs.
//! Templates live in `templates/` under the same names.

pub mod account;
pub mod account_mail;
pub mod admin;
pub mod app_passwords;
pub mod assets;
pub mod audit;
pub mod contacts;
pub mod device;
pub mod headers;
pub mod inbox;
pub mod login;
pub mod notifications;
pub mod page;
pub mod public;
pub mod setup;

use actix_web::{HttpResponse, http::header};

/// Where a signed-in person lands.
pub const HOME: &str = "/contacts";

/// `303 See Other` to `to` (POST → redirect → GET).
pub fn redirect(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

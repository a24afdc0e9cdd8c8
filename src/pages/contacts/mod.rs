//! `/contacts`: the contact book pages (list, add, view, edit, delete, import, export).
//! Every handler takes `CurrentUser` and goes through `book`, which scopes every read and
//! write by owner: another user's id is `NotFound`, rendered as the 404 page.

mod form;
mod list;
mod record;
mod transfer;

pub use form::*;
pub use list::*;
pub use record::*;
pub use transfer::*;

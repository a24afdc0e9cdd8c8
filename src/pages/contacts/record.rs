//! One contact: its page, the favorite toggle, and deleting it (after a confirm page).

use crate::auth::CurrentUser;
use crate::book::{self, cards};
use crate::clock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{ConfirmPage, FieldErrors, PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

#[derive(Template)]
#[template(path = "contacts/show.html")]
struct ShowPage {
    ctx: PageCtx,
    id: String,
    name: String,
    phone: String,
    email: String,
    address: String,
    company: String,
    notes: String,
    tags: Vec<String>,
    favorite: bool,
    created: String,
    updated: String,
    /// What the contact's vCard holds beyond the book's fields, as (label, value).
    details: Vec<(String, String)>,
    /// The card's photo as a `data:image/…` URI.
    photo: Option<String>,
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let v = book::get(&state, &user, &id).await?;
    let (details, photo) = cards::extras(&state, &user, &id).await?;
    let c = v.contact;
    let page = ShowPage {
        ctx: PageCtx::new(&session, Some(&user), &state),
        id: v.id,
        name: c.name,
        phone: c.phone,
        email: c.email,
        address: c.address,
        company: c.company,
        notes: c.notes,
        tags: c.tags,
        favorite: c.favorite,
        created: clock::human(v.created),
        updated: clock::human(v.updated),
        details,
        photo,
    };
    render(StatusCode::OK, &page)
}

pub async fn toggle_favorite(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = book::toggle_favorite(&state, &user, &id).await?;
    let message = if view.contact.favorite {
        "Marked as favorite"
    } else {
        "Removed from favorites"
    };
    flash(&session, "success", message);
    Ok(redirect(&format!("/contacts/{}", view.id)))
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = book::get(&state, &user, &id).await?;
    let name = view.contact.name;
    let page = ConfirmPage {
        ctx: PageCtx::new(&session, Some(&user), &state),
        title: format!("Delete {name}"),
        consequence: "The contact is removed from your book at once. This cannot be undone.",
        action: format!("/contacts/{}/delete", view.id),
        cancel: format!("/contacts/{}", view.id),
        js_question: Some(format!("Delete {name} for good?")),
        ask_password: false,
        errors: FieldErrors::new(),
    };
    render(StatusCode::OK, &page)
}

pub async fn delete(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    book::delete(&state, &user, &id).await?;
    flash(&session, "success", "Contact deleted");
    Ok(redirect("/contacts"))
}

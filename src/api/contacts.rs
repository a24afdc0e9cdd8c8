//! `/api/contacts`: the contact book over JSON, as in API.md.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::ApiUser;
use crate::book::csv::{self as book_csv, ImportError, MAX_IMPORT_BYTES};
use crate::book::query::RawListQuery;
use crate::book::{self, ContactView, ListQuery};
use crate::clock::rfc3339;
use crate::domain::contact::{ContactDraft, split_tags};
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::web::upload::read_upload;

/// Tags as a list, or as one `a|b` / `a, b` string.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum TagsIn {
    List(Vec<String>),
    Text(String),
}

#[derive(Deserialize)]
pub struct ContactBody {
    name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    address: Option<String>,
    company: Option<String>,
    notes: Option<String>,
    tags: Option<TagsIn>,
    favorite: Option<bool>,
}

impl From<ContactBody> for ContactDraft {
    fn from(b: ContactBody) -> Self {
        ContactDraft {
            name: b.name,
            phone: b.phone,
            email: b.email,
            address: b.address,
            company: b.company,
            notes: b.notes,
            tags: b.tags.map(|t| match t {
                TagsIn::List(list) => list,
                TagsIn::Text(text) => split_tags(&text),
            }),
            favorite: b.favorite,
        }
    }
}

pub fn contact_json(v: &ContactView) -> Value {
    let c = &v.contact;
    json!({
        "id": v.id,
        "name": c.name,
        "phone": c.phone,
        "email": c.email,
        "address": c.address,
        "company": c.company,
        "notes": c.notes,
        "tags": c.tags,
        "favorite": c.favorite,
        "created": rfc3339(v.created),
        "updated": rfc3339(v.updated),
    })
}

pub async fn list(
    state: web::Data<AppState>,
    caller: ApiUser,
    raw: web::Query<RawListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&raw).map_err(AppError::Validation)?;
    let page = book::list(&state, &caller.user, &query)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(json!({
        "contacts": page.contacts.iter().map(contact_json).collect::<Vec<_>>(),
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "tags": page.tags,
        "stats": { "total": page.stats_total, "favorites": page.stats_favorites },
    })))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = book::get(&state, &caller.user, &id)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(contact_json(&view)))
}

pub async fn create(
    state: web::Data<AppState>,
    caller: ApiUser,
    body: web::Json<ContactBody>,
) -> Result<HttpResponse, ApiError> {
    let view = book::create(&state, &caller.user, body.into_inner().into())
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Created().json(contact_json(&view)))
}

pub async fn update(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
    body: web::Json<ContactBody>,
) -> Result<HttpResponse, ApiError> {
    let view = book::update(&state, &caller.user, &id, body.into_inner().into())
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(contact_json(&view)))
}

pub async fn delete(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    book::delete(&state, &caller.user, &id)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(json!({ "deleted": id.into_inner() })))
}

pub async fn favorite(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = book::toggle_favorite(&state, &caller.user, &id)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(contact_json(&view)))
}

pub async fn export_csv(
    state: web::Data<AppState>,
    caller: ApiUser,
) -> Result<HttpResponse, ApiError> {
    book_csv::begin_export(&state, &caller.user)
        .await
        .map_err(AppError::from)?;
    Ok(csv_attachment(state.clone(), caller.user.id))
}

/// A streamed `text/csv` download of a book.
pub fn csv_attachment(state: web::Data<AppState>, owner_id: i64) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"contacts.csv\"",
        ))
        .streaming(book_csv::export_stream(state, owner_id))
}

pub async fn import_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: ApiUser,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let data = read_upload(&req, payload, MAX_IMPORT_BYTES).await?;
    match book_csv::import(&state, &caller.user, &data).await {
        Ok(report) => Ok(HttpResponse::Ok().json(json!({
            "added": report.added,
            "skipped": report.skipped,
            "errors": [],
            "ignored_columns": report.ignored_columns,
        }))),
        Err(ImportError::Rows(errors)) => Ok(HttpResponse::BadRequest().json(json!({
            "error": format!("{} invalid row(s); nothing was imported", errors.len()),
            "added": 0,
            "skipped": 0,
            "errors": errors.iter().map(|(line, error)| json!({ "line": line, "error": error })).collect::<Vec<_>>(),
        }))),
        Err(ImportError::File(message)) => Ok(HttpResponse::BadRequest().json(json!({
            "error": message,
            "added": 0,
            "skipped": 0,
            "errors": [],
        }))),
        Err(ImportError::Book(e)) => Err(AppError::from(e).into()),
    }
}

//! `/api/contacts`: the contact book over JSON, as in API.md.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::ApiUser;
use crate::book::query::RawListQuery;
use crate::book::{self, ContactView, ListQuery};
use crate::clock::rfc3339;
use crate::domain::contact::{ContactDraft, split_tags};
use crate::error::{ApiError, AppError, ErrorBody};
use crate::state::AppState;

/// Tags as a list, or as one `a|b` / `a, b` string.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TagsIn {
    List(Vec<String>),
    Text(String),
}

/// A contact to create, or the fields to replace (`name` and `phone` are required on create).
#[derive(Deserialize, ToSchema)]
pub struct ContactBody {
    /// 1..100 characters.
    #[schema(max_length = 100)]
    name: Option<String>,
    /// Optional leading `+`, 7 to 15 digits; spaces, `-`, `.`, `(`, `)` allowed.
    #[schema(pattern = r"^\+?(?:[ ().-]*[0-9]){7,15}[ ().-]*$")]
    phone: Option<String>,
    /// A valid address of at most 254 characters, or empty.
    #[schema(max_length = 254)]
    email: Option<String>,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    address: Option<String>,
    /// At most 200 characters.
    #[schema(max_length = 200)]
    company: Option<String>,
    /// At most 2000 characters.
    #[schema(max_length = 2000)]
    notes: Option<String>,
    /// At most 20 tags of 1..30 characters each.
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

/// A contact as the API shows it; optional text fields are `""` when empty.
#[derive(Serialize, ToSchema)]
pub struct ContactOut {
    /// Opaque.
    id: String,
    name: String,
    phone: String,
    email: String,
    address: String,
    company: String,
    notes: String,
    tags: Vec<String>,
    favorite: bool,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    updated: String,
}

impl From<&ContactView> for ContactOut {
    fn from(v: &ContactView) -> Self {
        let c = &v.contact;
        ContactOut {
            id: v.id.clone(),
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            address: c.address.clone(),
            company: c.company.clone(),
            notes: c.notes.clone(),
            tags: c.tags.clone(),
            favorite: c.favorite,
            created: rfc3339(v.created),
            updated: rfc3339(v.updated),
        }
    }
}

/// The caller's totals.
#[derive(Serialize, ToSchema)]
pub struct Stats {
    total: i64,
    favorites: i64,
}

/// One page of the caller's contacts.
#[derive(Serialize, ToSchema)]
pub struct ContactList {
    contacts: Vec<ContactOut>,
    /// Contacts matching the query.
    total: i64,
    page: i64,
    per_page: i64,
    /// Every tag the caller uses.
    tags: Vec<String>,
    stats: Stats,
}

/// The caller's contacts: search, filter, sort and page.
#[utoipa::path(
    get,
    path = "/api/contacts",
    operation_id = "list_contacts",
    tag = "contacts",
    security(("bearer" = [])),
    params(RawListQuery),
    responses(
        (status = 200, description = "A page of contacts", body = ContactList),
        (status = 400, description = "Invalid query parameters", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: ApiUser,
    raw: web::Query<RawListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = ListQuery::parse(&raw).map_err(AppError::Validation)?;
    let page = book::list(&state, &caller.user, &query)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(ContactList {
        contacts: page.contacts.iter().map(ContactOut::from).collect(),
        total: page.total,
        page: page.page,
        per_page: page.per_page,
        tags: page.tags,
        stats: Stats {
            total: page.stats_total,
            favorites: page.stats_favorites,
        },
    }))
}

/// One contact of the caller.
#[utoipa::path(
    get,
    path = "/api/contacts/{id}",
    operation_id = "get_contact",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "The contact", body = ContactOut),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 404, description = "No such contact of the caller's", body = ErrorBody),
    ),
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = book::get(&state, &caller.user, &id)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(ContactOut::from(&view)))
}

/// Adds a contact to the caller's book.
#[utoipa::path(
    post,
    path = "/api/contacts",
    operation_id = "create_contact",
    tag = "contacts",
    security(("bearer" = [])),
    request_body = ContactBody,
    responses(
        (status = 201, description = "Created", body = ContactOut),
        (status = 400, description = "Malformed body or invalid fields", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 409, description = "Same name and phone as another contact of the caller", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiUser,
    body: web::Json<ContactBody>,
) -> Result<HttpResponse, ApiError> {
    let view = book::create(&state, &caller.user, body.into_inner().into())
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Created().json(ContactOut::from(&view)))
}

/// Replaces every field the body carries.
#[utoipa::path(
    put,
    path = "/api/contacts/{id}",
    operation_id = "update_contact",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    request_body = ContactBody,
    responses(
        (status = 200, description = "Updated", body = ContactOut),
        (status = 400, description = "Malformed body or invalid fields", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 404, description = "No such contact of the caller's", body = ErrorBody),
        (status = 409, description = "Same name and phone as another contact of the caller", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
    body: web::Json<ContactBody>,
) -> Result<HttpResponse, ApiError> {
    let view = book::update(&state, &caller.user, &id, body.into_inner().into())
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(ContactOut::from(&view)))
}

/// Deletes one contact of the caller.
#[utoipa::path(
    delete,
    path = "/api/contacts/{id}",
    operation_id = "delete_contact",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "Deleted", body = super::Deleted),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 404, description = "No such contact of the caller's", body = ErrorBody),
    ),
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    book::delete(&state, &caller.user, &id)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(super::Deleted {
        deleted: id.into_inner(),
    }))
}

/// Toggles `favorite`.
#[utoipa::path(
    post,
    path = "/api/contacts/{id}/favorite",
    operation_id = "toggle_favorite",
    tag = "contacts",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "The contact, `favorite` toggled", body = ContactOut),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 404, description = "No such contact of the caller's", body = ErrorBody),
    ),
)]
pub async fn favorite(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = book::toggle_favorite(&state, &caller.user, &id)
        .await
        .map_err(AppError::from)?;
    Ok(HttpResponse::Ok().json(ContactOut::from(&view)))
}

//! `/api/app-passwords`: the caller's per-device passwords for CardDAV (API.md, "App
//! passwords"): list, create (after the account password), revoke.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::app_passwords::{self, AppPassword};
use crate::auth::ApiUser;
use crate::clock::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// An app password as listed; the password itself is shown only when it is made.
#[derive(Serialize, ToSchema)]
pub struct AppPasswordOut {
    id: String,
    /// The device's name.
    name: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created: String,
    /// RFC 3339, UTC; `null` until the device first signs in.
    #[schema(format = DateTime)]
    last_used: Option<String>,
}

impl From<AppPassword> for AppPasswordOut {
    fn from(p: AppPassword) -> Self {
        AppPasswordOut {
            id: p.id,
            name: p.name,
            created: rfc3339(p.created),
            last_used: p.last_used.map(rfc3339),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewAppPassword {
    /// The device's name, 1..64 characters.
    #[schema(min_length = 1, max_length = 64)]
    name: String,
    /// The account password, typed again: a stolen token alone cannot mint a credential.
    current_password: String,
}

/// A new app password with its password, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedAppPassword {
    id: String,
    name: String,
    /// Type it into the device's CardDAV settings with the username; it is not shown again.
    password: String,
    #[schema(format = DateTime)]
    created: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedAppPassword {
    deleted: String,
}

/// The caller's app passwords, newest first.
#[utoipa::path(
    get,
    path = "/api/app-passwords",
    operation_id = "list_app_passwords",
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's app passwords", body = Vec<AppPasswordOut>),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn list(state: web::Data<AppState>, caller: ApiUser) -> Result<HttpResponse, ApiError> {
    let out: Vec<AppPasswordOut> = app_passwords::list(&state, &caller.user)
        .await?
        .into_iter()
        .map(AppPasswordOut::from)
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Makes an app password for one device (CardDAV sign-in with the username).
#[utoipa::path(
    post,
    path = "/api/app-passwords",
    operation_id = "create_app_password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = NewAppPassword,
    responses(
        (status = 201, description = "Made; `password` is shown this once", body = CreatedAppPassword),
        (status = 400, description = "A missing or too long name, or too many app passwords", body = ErrorBody),
        (status = 401, description = "Missing token, or a wrong `current_password`", body = ErrorBody),
        (status = 429, description = "Too many API calls or wrong passwords", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: ApiUser,
    body: web::Json<NewAppPassword>,
) -> Result<HttpResponse, ApiError> {
    let (made, password) =
        app_passwords::create(&state, &caller.user, &body.name, &body.current_password).await?;
    Ok(HttpResponse::Created().json(CreatedAppPassword {
        id: made.id,
        name: made.name,
        password,
        created: rfc3339(made.created),
    }))
}

/// Revokes one of the caller's app passwords: that device's access ends at once.
#[utoipa::path(
    delete,
    path = "/api/app-passwords/{id}",
    operation_id = "delete_app_password",
    tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The app password's id")),
    responses(
        (status = 200, description = "Revoked", body = DeletedAppPassword),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 404, description = "No such app password of the caller", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: ApiUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app_passwords::revoke(&state, &caller.user, &id).await?;
    Ok(HttpResponse::Ok().json(DeletedAppPassword {
        deleted: id.into_inner(),
    }))
}

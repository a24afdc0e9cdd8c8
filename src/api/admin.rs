//! `/api/admin/users`: list, create, delete.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts;
use crate::auth::ApiAdmin;
use crate::clock::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct UserOut {
    username: String,
    /// `admin` or `user`.
    role: String,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    created: String,
    totp_enabled: bool,
}

#[derive(Deserialize, ToSchema)]
pub struct NewUser {
    /// 3..32 characters of `a-z`, `0-9`, `.`, `_`, `-` (stored lower-case).
    #[schema(pattern = "^[A-Za-z0-9._-]{3,32}$")]
    username: String,
    /// 8..128 characters, not a commonly used password.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    /// `admin` or `user`.
    #[schema(pattern = "^(admin|user)$")]
    role: String,
}

/// `{"username", "role"}` of a created user.
#[derive(Serialize, ToSchema)]
pub struct CreatedUser {
    username: String,
    role: String,
}

/// Every user (admins only).
#[utoipa::path(
    get,
    path = "/api/admin/users",
    operation_id = "list_users",
    tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every user", body = Vec<UserOut>),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
    ),
)]
pub async fn list(state: web::Data<AppState>, _admin: ApiAdmin) -> Result<HttpResponse, ApiError> {
    let out: Vec<UserOut> = accounts::all_users(&state)
        .await?
        .into_iter()
        .map(|u| UserOut {
            created: rfc3339(u.created),
            totp_enabled: u.totp_enabled,
            role: u.role,
            username: u.username,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Creates a user (admins only); a new admin enrols TOTP at first web sign-in.
#[utoipa::path(
    post,
    path = "/api/admin/users",
    operation_id = "create_user",
    tag = "admin",
    security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "Malformed body or invalid fields", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
)]
pub async fn create(
    state: web::Data<AppState>,
    ApiAdmin(admin): ApiAdmin,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let (name, role) = accounts::create_user(
        &state,
        accounts::actor(&admin.user),
        &body.username,
        &body.password,
        &body.role,
    )
    .await?;
    Ok(HttpResponse::Created().json(CreatedUser {
        username: name.as_str().to_string(),
        role: role.as_str().to_string(),
    }))
}

/// Deletes a user with their contacts, tokens and sessions (admins only; not yourself).
#[utoipa::path(
    delete,
    path = "/api/admin/users/{username}",
    operation_id = "delete_user",
    tag = "admin",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "The user to delete")),
    responses(
        (status = 200, description = "Deleted", body = super::Deleted),
        (status = 400, description = "The caller tried to delete themselves", body = ErrorBody),
        (status = 401, description = "Missing, invalid or expired token", body = ErrorBody),
        (status = 429, description = "Too many API calls by this user", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 403, description = "The caller is not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ),
)]
pub async fn delete(
    state: web::Data<AppState>,
    ApiAdmin(admin): ApiAdmin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let deleted = accounts::delete_user(&state, &admin.user, &name).await?;
    Ok(HttpResponse::Ok().json(super::Deleted { deleted }))
}

//! `/api/admin/users`: list, create, delete.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::ApiAdmin;
use crate::auth::flows;
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::users;

#[derive(Serialize)]
struct UserOut {
    username: String,
    role: String,
    created: String,
    totp_enabled: bool,
}

#[derive(Deserialize)]
pub struct NewUser {
    username: String,
    password: String,
    role: String,
}

pub async fn list(state: web::Data<AppState>, _admin: ApiAdmin) -> Result<HttpResponse, ApiError> {
    let out: Vec<UserOut> = users::list(&state.db)
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

pub async fn create(
    state: web::Data<AppState>,
    ApiAdmin(admin): ApiAdmin,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let (name, role) = flows::create_user(
        &state,
        flows::actor(&admin.user),
        &body.username,
        &body.password,
        &body.role,
    )
    .await?;
    Ok(HttpResponse::Created()
        .json(serde_json::json!({ "username": name.as_str(), "role": role.as_str() })))
}

pub async fn delete(
    state: web::Data<AppState>,
    ApiAdmin(admin): ApiAdmin,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let deleted = flows::delete_user(&state, &admin.user, &name).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "deleted": deleted })))
}

//! `GET /api/openapi.json`: the OpenAPI 3.1 description of the JSON API, generated from the
//! handlers' `#[utoipa::path]` annotations and the request/response types they serialise, so
//! the document follows the code. Served without a token (it tells nothing API.md doesn't).

use std::sync::LazyLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, app_passwords, audit, auth, contacts, transfer};
use crate::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Contact Vault",
        description = "The JSON API of Contact Vault (see API.md). Every endpoint except \
                       `POST /api/login` needs `Authorization: Bearer <token>`. Errors are \
                       `{\"error\"}`, plus `fields` for validation errors.",
        license(name = "GPL-3.0-or-later", identifier = "GPL-3.0-or-later"),
    ),
    paths(
        auth::login,
        auth::logout,
        auth::change_password,
        app_passwords::list,
        app_passwords::create,
        app_passwords::delete,
        contacts::list,
        contacts::create,
        contacts::get,
        contacts::update,
        contacts::delete,
        contacts::favorite,
        transfer::export_csv,
        transfer::import_csv,
        transfer::export_vcard,
        transfer::import_vcard,
        transfer::contact_vcard,
        audit::list,
        admin::list,
        admin::create,
        admin::delete,
        document,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerScheme),
    tags(
        (name = "auth", description = "Tokens and passwords"),
        (name = "contacts", description = "The caller's contact book"),
        (name = "audit", description = "The audit log"),
        (name = "admin", description = "User administration (admins only)"),
        (name = "meta", description = "This document"),
    ),
)]
pub struct ApiDoc;

/// The `bearer` security scheme the operations refer to.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("opaque token from POST /api/login")
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// This OpenAPI document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi_document",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json"),
    ),
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}

//! Every route, in one place: the pages (`pages/`), the JSON API (`api/`) and the health check.
//! Find a path here to find its handler.

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::api;
use crate::error::{ApiError, AppError};
use crate::pages::{
    account, account_mail, admin, app_passwords, assets, audit, contacts, inbox, login,
    notifications, public, redirect, setup,
};
use crate::ratelimit::SharedLimit;
use crate::state::AppState;

/// The limiters routes wrap, each built once so every worker shares it.
#[derive(Clone)]
pub struct Limits {
    /// One sign-in budget per address for the page and the API together.
    pub sign_in: SharedLimit,
    pub totp: SharedLimit,
    pub form: SharedLimit,
    pub captcha: SharedLimit,
}

/// The pages, CardDAV and the health check.
pub fn pages(cfg: &mut web::ServiceConfig, limits: &Limits) {
    cfg.route(
        "/.well-known/carddav",
        web::route().to(crate::dav::well_known),
    )
    .service(
        // Every method (PROPFIND, REPORT, PUT…) and path below /dav goes to the DAV face;
        // a failed device sign-in draws on the per-address sign-in budget.
        web::scope("/dav")
            .app_data(web::Data::new(limits.sign_in.clone()))
            .app_data(web::PayloadConfig::new(crate::dav::MAX_BODY))
            .default_service(web::to(crate::dav::handle)),
    )
    .route("/healthz", web::get().to(healthz))
    .route("/static/{file}", web::get().to(assets::serve))
    .service(
        web::resource("/")
            .route(web::get().to(public::show))
            .route(web::post().to(public::submit).wrap(from_fn({
                let limit = limits.form.clone();
                move |req, next| limit.clone().guard(req, next)
            })))
            // CardDAV clients given only the host name ask `/` for the principal.
            .app_data(web::Data::new(limits.sign_in.clone()))
            .route(web::method(propfind()).to(crate::dav::handle))
            .route(web::method(Method::OPTIONS).to(crate::dav::handle)),
    )
    .route("/thanks", web::get().to(public::thanks))
    // The image and its spoken form share one limit.
    .route(
        "/captcha",
        web::get().to(public::image).wrap(from_fn({
            let limit = limits.captcha.clone();
            move |req, next| limit.clone().guard(req, next)
        })),
    )
    .route(
        "/captcha/audio",
        web::get().to(public::audio).wrap(from_fn({
            let limit = limits.captcha.clone();
            move |req, next| limit.clone().guard(req, next)
        })),
    )
    .service(
        web::resource("/login")
            .route(web::get().to(login::form))
            .route(web::post().to(login::submit).wrap(from_fn({
                let limit = limits.sign_in.clone();
                move |req, next| limit.clone().guard(req, next)
            }))),
    )
    .service(
        web::resource("/login/totp")
            .route(web::get().to(login::totp_form))
            .route(web::post().to(login::totp_submit).wrap(from_fn({
                let limit = limits.totp.clone();
                move |req, next| limit.clone().guard(req, next)
            }))),
    )
    .route("/logout", web::post().to(login::logout))
    .service(
        web::resource("/setup/{token}")
            .route(web::get().to(setup::form))
            .route(web::post().to(setup::submit)),
    )
    .route("/account", web::get().to(account::show))
    .route(
        "/account/password",
        web::post().to(account::change_password),
    )
    .service(
        web::resource("/account/totp")
            .route(web::get().to(account::totp_form))
            .route(web::post().to(account::totp_confirm)),
    )
    .route(
        "/account/totp/disable",
        web::post().to(account::disable_totp),
    )
    .route(
        "/account/recovery-codes",
        web::post().to(account::regenerate_codes),
    )
    .route(
        "/account/sessions/{sid}/revoke",
        web::post().to(account::revoke_session),
    )
    .route(
        "/account/tokens/{id}/revoke",
        web::post().to(account::revoke_token),
    )
    .service(
        web::resource("/account/app-passwords")
            .route(web::get().to(app_passwords::list))
            .route(web::post().to(app_passwords::create)),
    )
    .route(
        "/account/app-passwords/{id}/revoke",
        web::post().to(app_passwords::revoke),
    )
    .route(
        "/account/book-name",
        web::post().to(app_passwords::rename_book),
    )
    .route("/account/notify-mail", web::post().to(account_mail::set))
    .route(
        "/account/sign-out-everywhere",
        web::post().to(account::sign_out_everywhere),
    )
    // Contact book pages (web::contacts) go here.
    .route("/contacts", web::get().to(contacts::list))
    .service(
        web::resource("/contacts/new")
            .route(web::get().to(contacts::new_form))
            .route(web::post().to(contacts::create)),
    )
    .service(
        web::resource("/contacts/import")
            .route(web::get().to(contacts::import_form))
            .route(web::post().to(contacts::import)),
    )
    .route("/contacts/export.csv", web::get().to(contacts::export))
    .route(
        "/contacts/export.vcf",
        web::get().to(contacts::export_vcard),
    )
    .route(
        "/contacts/{id}/card.vcf",
        web::get().to(contacts::export_card),
    )
    .route("/contacts/{id}", web::get().to(contacts::show))
    .service(
        web::resource("/contacts/{id}/edit")
            .route(web::get().to(contacts::edit_form))
            .route(web::post().to(contacts::update)),
    )
    .route(
        "/contacts/{id}/favorite",
        web::post().to(contacts::toggle_favorite),
    )
    .service(
        web::resource("/contacts/{id}/delete")
            .route(web::get().to(contacts::confirm_delete))
            .route(web::post().to(contacts::delete)),
    )
    .route("/audit", web::get().to(audit::mine))
    .route("/admin/audit", web::get().to(audit::everyone))
    .route("/admin/notifications", web::get().to(notifications::list))
    .route(
        "/admin",
        web::get().to(|| async { redirect("/admin/submissions") }),
    )
    .route("/admin/submissions", web::get().to(inbox::list))
    .route("/admin/submissions/{id}", web::get().to(inbox::show))
    .route(
        "/admin/submissions/{id}/note",
        web::post().to(inbox::add_note),
    )
    .route(
        "/admin/submissions/{id}/status",
        web::post().to(inbox::set_status),
    )
    .route(
        "/admin/submissions/{id}/convert",
        web::post().to(inbox::convert),
    )
    .service(
        web::resource("/admin/submissions/{id}/delete")
            .route(web::get().to(inbox::confirm_delete))
            .route(web::post().to(inbox::delete)),
    )
    .service(
        web::resource("/admin/users")
            .route(web::get().to(admin::list))
            .route(web::post().to(admin::create)),
    )
    .route(
        "/admin/users/{name}/grant-inbox",
        web::post().to(admin::grant_inbox),
    )
    // Deleting a user and resetting their TOTP: a confirm page, then the post.
    .service(
        web::resource("/admin/users/{name}/{action:delete|reset-totp}")
            .route(web::get().to(admin::confirm))
            .route(web::post().to(admin::act)),
    );
}

/// `/api/`: the JSON face (API.md). Malformed bodies, queries and paths answer `{"error"}`.
pub fn api(sign_in_limit: &SharedLimit) -> actix_web::Scope {
    let limit = sign_in_limit.clone();
    web::scope("/api")
        .app_data(api::json_config())
        .app_data(api::query_config())
        .app_data(api::path_config())
        .route(
            "/login",
            web::post()
                .to(api::auth::login)
                .wrap(from_fn(move |req, next| limit.clone().guard(req, next))),
        )
        .route("/logout", web::post().to(api::auth::logout))
        .route("/openapi.json", web::get().to(api::openapi::document))
        .route(
            "/change-password",
            web::post().to(api::auth::change_password),
        )
        .route("/audit", web::get().to(api::audit::list))
        .service(
            web::resource("/app-passwords")
                .route(web::get().to(api::app_passwords::list))
                .route(web::post().to(api::app_passwords::create)),
        )
        .route(
            "/app-passwords/{id}",
            web::delete().to(api::app_passwords::delete),
        )
        .service(
            web::resource("/contacts")
                .route(web::get().to(api::contacts::list))
                .route(web::post().to(api::contacts::create)),
        )
        .route(
            "/contacts/export/csv",
            web::get().to(api::transfer::export_csv),
        )
        .route(
            "/contacts/import/csv",
            web::post().to(api::transfer::import_csv),
        )
        .route(
            "/contacts/export/vcard",
            web::get().to(api::transfer::export_vcard),
        )
        .route(
            "/contacts/import/vcard",
            web::post().to(api::transfer::import_vcard),
        )
        .route(
            "/contacts/{id}/vcard",
            web::get().to(api::transfer::contact_vcard),
        )
        .service(
            web::resource("/contacts/{id}")
                .route(web::get().to(api::contacts::get))
                .route(web::put().to(api::contacts::update))
                .route(web::delete().to(api::contacts::delete)),
        )
        .route(
            "/contacts/{id}/favorite",
            web::post().to(api::contacts::favorite),
        )
        .service(
            web::resource("/admin/users")
                .route(web::get().to(api::admin::list))
                .route(web::post().to(api::admin::create)),
        )
        .route(
            "/admin/users/{username}",
            web::delete().to(api::admin::delete),
        )
        .default_service(web::to(api::not_found))
}

/// `GET /healthz`: 200 while the database answers.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    if state.ping().await {
        HttpResponse::Ok().content_type("text/plain").body("ok")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable")
    }
}

/// Anything else: the JSON 404 under `/api/`, the 404 page elsewhere.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, actix_web::Error> {
    if req.path().starts_with("/api/") {
        return Err(ApiError(AppError::NotFound).into());
    }
    Err(AppError::NotFound.into())
}

/// WebDAV's PROPFIND (http has no constant for it; the name is a valid token, so the
/// fallback is never taken).
fn propfind() -> Method {
    Method::from_bytes(b"PROPFIND").unwrap_or(Method::OPTIONS)
}

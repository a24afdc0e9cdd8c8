//! Builds the application: keys, database, rate limiters, middleware and the server. The
//! routes themselves are listed in `routes.rs`; their handlers live in `pages/` or `api/`.

use std::net::TcpListener;
use std::time::Duration;

use actix_identity::IdentityMiddleware;
use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity, TtlExtensionPolicy};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpServer, web};

use crate::auth::csrf;
use crate::auth::session_store::SqliteSessionStore;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::keys::KeyOrigin;
use crate::crypto::token::new_token;
use crate::error::AppError;
use crate::pages::headers;
use crate::ratelimit::{self, SharedLimit};
use crate::routes::{self, Limits};
use crate::state::AppState;
use crate::telemetry;

/// Form bodies are small; the CSV import sets its own larger limit.
const FORM_LIMIT: usize = 64 * 1024;

/// Sign-in attempts per address, page and API together: a burst, then one per period.
pub const SIGN_IN_BURST: u32 = 5;
pub const SIGN_IN_EVERY: Duration = Duration::from_secs(12);
/// Pages per address that may start a new session (a request without a session cookie).
pub const NEW_SESSION_BURST: u32 = 30;
pub const NEW_SESSION_EVERY: Duration = Duration::from_secs(2);

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    setup_url: Option<String>,
}

impl Application {
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        let (state, origin) = AppState::open(settings, clock.clone()).await?;
        match origin {
            KeyOrigin::Generated(path) => tracing::warn!(
                path = %path.display(),
                "generated new keys (first run); back this file up apart from the database"
            ),
            KeyOrigin::File(path) => tracing::info!(path = %path.display(), "keys loaded"),
            KeyOrigin::Environment => tracing::info!("keys loaded from the environment"),
        }
        if state.settings.numverify_api_key.is_some()
            && state.settings.numverify_url.starts_with("http://")
        {
            tracing::warn!(
                "NUMVERIFY_URL is plain http (the free plan): the access key and the phone numbers \
                 travel in clear; use an https plan in production"
            );
        }
        if !state.settings.captcha {
            tracing::warn!("CAPTCHA=off: the public form accepts submissions without a CAPTCHA");
        }
        // An old unkeyed chain gets its keyed anchor; then the head goes to the log, to be
        // checked later with `contact-vault audit verify --head ID:HASH`.
        crate::audit::anchor_legacy_chain(&state).await?;
        crate::audit::log_current_head(&state).await?;
        // The inbox has its key pair; what arrived under the server keys is sealed to it.
        crate::inbox::key::settle(&state).await?;
        let settings = &state.settings;
        let listener = TcpListener::bind(&settings.bind)?;
        let port = listener.local_addr()?.port();

        let mut setup_url = None;
        if !crate::accounts::admin_exists(&state).await? {
            let token = new_token();
            state.open_setup(&token);
            let base = settings.public_url.clone().unwrap_or_else(|| {
                let host = settings
                    .bind
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or("127.0.0.1");
                let host = if host == "0.0.0.0" { "127.0.0.1" } else { host };
                format!("http://{host}:{port}")
            });
            setup_url = Some(format!("{base}/setup/{token}"));
        }
        let sessions = state.session_records();
        let state = web::Data::new(state);

        // Each limiter is built once, here, so every worker shares it (and, with REDIS_URL,
        // every instance).
        let trusted = state.settings.trusted_proxies.clone();
        let redis = state.redis.clone();
        let every = Duration::from_secs(6);
        let limit =
            |name, every, burst| SharedLimit::new(name, &trusted, every, burst, redis.clone());
        // One sign-in budget per address for the page and the API together: 5 at once, one
        // more every 12 s, so never more than 10 in any minute (API.md).
        let limits = Limits {
            sign_in: limit("sign-in", SIGN_IN_EVERY, SIGN_IN_BURST)?,
            totp: limit("totp", every, 10)?,
            form: limit("form", Duration::from_secs(12), 5)?,
            captcha: limit("captcha", every, 10)?,
        };
        let new_session_limit = limit("new-session", NEW_SESSION_EVERY, NEW_SESSION_BURST)?;
        ratelimit::spawn_pruner(vec![
            limits.sign_in.clone(),
            limits.totp.clone(),
            limits.form.clone(),
            limits.captcha.clone(),
            new_session_limit.clone(),
        ]);
        spawn_cleanup(state.clone());
        if !state.senders.is_empty() {
            crate::notify::spawn(state.clone(), state.senders.clone());
        }
        if state.settings.keys.fernet_keys.is_none() {
            spawn_key_reload(state.clone());
        }

        let https = state.settings.is_https();
        let secret_key = Key::from(&state.keys.secret_key);
        let session_store = SqliteSessionStore::new(
            sessions,
            clock,
            state.settings.session_absolute_hours * 3600,
        );
        let idle = actix_web::cookie::time::Duration::minutes(state.settings.session_idle_minutes);
        let app_state = state.clone();

        let session_cookie = if https {
            "__Host-cv_session"
        } else {
            "cv_session"
        };

        let server = HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(session_store.clone(), secret_key.clone())
                .cookie_name(session_cookie.into())
                .cookie_secure(https)
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_path("/".into())
                .cookie_content_security(CookieContentSecurity::Private)
                .session_lifecycle(
                    BrowserSession::default()
                        .state_ttl(idle)
                        .state_ttl_extension_policy(TtlExtensionPolicy::OnEveryRequest),
                )
                .build();
            App::new()
                .app_data(app_state.clone())
                .app_data(form_config())
                .wrap(from_fn(csrf::protect))
                .wrap(IdentityMiddleware::default())
                .wrap(sessions)
                .wrap(from_fn({
                    let limit = new_session_limit.clone();
                    move |req, next| {
                        ratelimit::limit_new_sessions(limit.clone(), session_cookie, req, next)
                    }
                }))
                .wrap(from_fn(move |req, next| {
                    headers::security_headers(req, next, https)
                }))
                .wrap(from_fn(telemetry::log_requests))
                .service(routes::api(&limits.sign_in))
                .configure(|cfg| routes::pages(cfg, &limits))
                .default_service(web::to(routes::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(30)
        .run();

        Ok(Application {
            port,
            server,
            state,
            setup_url,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The first-run link, while no admin exists (print it to the console, never the log).
    pub fn setup_url(&self) -> Option<&str> {
        self.setup_url.as_deref()
    }

    /// The shared state (tests read the database and clock through it).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get 30 s to finish.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.state.close().await;
        result
    }
}

fn form_config() -> web::FormConfig {
    web::FormConfig::default().limit(FORM_LIMIT).error_handler(
        |err, _req: &HttpRequest| match err {
            actix_web::error::UrlencodedError::Overflow { .. } => AppError::TooLarge.into(),
            _ => AppError::BadRequest("The form was incomplete or malformed.".into()).into(),
        },
    )
}

/// Every few minutes: deletes expired sessions, tokens and form tickets, drops idle directories.
fn spawn_cleanup(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(300));
        loop {
            tick.tick().await;
            let now = state.clock.now();
            for (what, e) in crate::ops::purge_expired(&state, now).await.failures {
                tracing::warn!(error = %e, "cleanup of expired {what} failed");
            }
            state.directories.evict_idle(Duration::from_secs(15 * 60));
            state.limits.prune();
        }
    });
}

/// How often a server looks for a new key list in `keys.env`.
pub const KEY_RELOAD_SECONDS: u64 = 5;

/// Picks up a key list changed by `contact-vault keys rotate --new-key` (keys from the
/// environment are fixed for the life of the process).
fn spawn_key_reload(state: web::Data<AppState>) {
    tokio::spawn(async move {
        let mut last = crate::crypto::keys::fernet_keys_in_file(&state.settings.data_dir)
            .ok()
            .flatten();
        let mut tick = tokio::time::interval(Duration::from_secs(KEY_RELOAD_SECONDS));
        loop {
            tick.tick().await;
            let Ok(Some(now)) = crate::crypto::keys::fernet_keys_in_file(&state.settings.data_dir)
            else {
                continue;
            };
            if last.as_deref() == Some(now.as_str()) {
                continue;
            }
            let list: Vec<&str> = now
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .collect();
            if state.keys.cipher.replace_keys(&list) {
                tracing::info!(primary = %state.keys.cipher.fingerprints()[0], keys = list.len(), "Fernet keys reloaded");
                last = Some(now);
            } else {
                tracing::error!("keys.env has a malformed FERNET_KEYS; keeping the current keys");
            }
        }
    });
}

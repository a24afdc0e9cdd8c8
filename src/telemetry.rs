//! Logging through `tracing`, and a request id for every request: in the log line, in the
//! `X-Request-Id` response header, and on the error page so a person can quote it.
//! Bodies, cookies and query strings are never logged, nor the secret part of a path (the
//! one-time setup link's token): see [`loggable_path`].

use std::borrow::Cow;
use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled on this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Installs the global subscriber (`RUST_LOG` filters, default `info`, with PostgreSQL's
/// notices such as "relation already exists, skipping" only from `warn`). Safe to call twice.
/// Text lines are coloured only on a terminal, and never with `NO_COLOR` set: a container's
/// log, a file or a pipe gets plain text.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{}", vault_core::DATABASE_LOG_FILTER)));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal() && !no_color);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Paths whose last segment is a secret.
const SECRET_PATHS: [&str; 1] = ["/setup/"];

/// The request path as it may appear in a log: the token of `/setup/{token}` is replaced by
/// `…`. Every log line with a path takes it from here.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    for prefix in SECRET_PATHS {
        if path.len() > prefix.len() && path.starts_with(prefix) {
            return Cow::Owned(format!("{prefix}…"));
        }
    }
    Cow::Borrowed(path)
}

/// Logs method, path, status and duration of every request, with its id.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = crate::crypto::token::new_id()[..16].to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %loggable_path(req.path()),
    );
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(request_id.clone(), next.call(req))
        .instrument(span.clone())
        .await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let _guard = span.enter();
    match result {
        Ok(mut res) => {
            tracing::info!(status = res.status().as_u16(), elapsed_ms, "request");
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                res.headers_mut()
                    .insert(HeaderName::from_static("x-request-id"), v);
            }
            Ok(res)
        }
        Err(err) => {
            let status = err.as_response_error().status_code().as_u16();
            tracing::info!(status, elapsed_ms, "request");
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setup_token_never_reaches_the_log() {
        let token = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWo";
        let path = format!("/setup/{token}");
        let logged = loggable_path(&path);
        assert_eq!(logged, "/setup/…");
        assert!(!logged.contains(token));
        assert_eq!(loggable_path("/setup/"), "/setup/");
        assert_eq!(loggable_path("/contacts/42/edit"), "/contacts/42/edit");
        assert_eq!(loggable_path("/"), "/");
    }
}

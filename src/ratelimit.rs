//! Rate limits keyed by the real client address, and per-user limits for API calls and CSV
//! imports ([`UserLimits`]).
//!
//! The client is the TCP peer, unless the peer is a configured proxy (`TRUSTED_PROXIES`):
//! then it is the right-most `X-Forwarded-For` entry that is not itself a proxy. A header
//! from any other peer is ignored, so a client cannot pick its own bucket. (actix-web's
//! `realip_remote_addr()` takes the left-most entry, which the client controls.)

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use ipnet::IpNet;

use crate::error::{ApiError, AppError};

/// Which form a refusal takes.
#[derive(Clone, Copy, Debug)]
pub enum Face {
    Page,
    Json,
}

#[derive(Clone, Debug)]
pub struct ClientIp {
    trusted: Arc<Vec<IpNet>>,
    face: Face,
}

impl ClientIp {
    pub fn new(trusted: Vec<IpNet>, face: Face) -> Self {
        ClientIp {
            trusted: Arc::new(trusted),
            face,
        }
    }
}

pub type Limit = GovernorConfig<ClientIp, NoOpMiddleware>;

/// A limiter allowing `burst` requests at once, refilled at one per `every`.
/// Build each once, outside `HttpServer::new`, so all workers share its state.
pub fn limit(trusted: &[IpNet], face: Face, every: Duration, burst: u32) -> anyhow::Result<Limit> {
    GovernorConfigBuilder::default()
        .period(every)
        .burst_size(burst)
        .key_extractor(ClientIp::new(trusted.to_vec(), face))
        .finish()
        .ok_or_else(|| anyhow::anyhow!("a rate limit needs a non-zero period and burst"))
}

/// One refill of the import limit.
pub const IMPORT_EVERY: Duration = Duration::from_secs(30);

/// Limits keyed by user id, shared by every worker (they live in `AppState`). The API limit is
/// checked by the `ApiUser` extractor, so it covers every authenticated API call; the import
/// limit by both CSV imports (page and API) before the file is parsed.
pub struct UserLimits {
    api: DefaultKeyedRateLimiter<i64>,
    imports: DefaultKeyedRateLimiter<i64>,
}

impl UserLimits {
    /// `api_per_second` calls a second in bursts of five seconds' worth; `import_burst`
    /// imports at once, then one per [`IMPORT_EVERY`].
    pub fn new(api_per_second: u32, import_burst: u32) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
        let api =
            Quota::per_second(nz(api_per_second)).allow_burst(nz(api_per_second.saturating_mul(5)));
        let imports = Quota::with_period(IMPORT_EVERY)
            .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
            .allow_burst(nz(import_burst));
        UserLimits {
            api: RateLimiter::keyed(api),
            imports: RateLimiter::keyed(imports),
        }
    }

    /// One API call by `user_id`, or `RateLimited`.
    pub fn api_call(&self, user_id: i64) -> Result<(), AppError> {
        check(&self.api, user_id)
    }

    /// One CSV import by `user_id`, or `RateLimited`.
    pub fn import(&self, user_id: i64) -> Result<(), AppError> {
        check(&self.imports, user_id)
    }

    /// Forgets users idle long enough to be back at a full burst.
    pub fn prune(&self) {
        for l in [&self.api, &self.imports] {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

fn check(limiter: &DefaultKeyedRateLimiter<i64>, user_id: i64) -> Result<(), AppError> {
    limiter
        .check_key(&user_id)
        .map_err(|negative| AppError::RateLimited {
            retry_after: seconds_to_wait(&negative),
        })
}

fn seconds_to_wait(negative: &NotUntil<QuantaInstant>) -> u64 {
    let wait = negative.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A budget per client address that several routes draw on (actix-governor gives each
/// route its own), or that a middleware consults only for some requests. Refusals are JSON
/// under `/api/` and a page elsewhere.
#[derive(Clone)]
pub struct SharedLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    trusted: Arc<Vec<IpNet>>,
}

impl SharedLimit {
    /// `burst` requests at once, refilled at one per `every`.
    pub fn new(trusted: &[IpNet], every: Duration, burst: u32) -> anyhow::Result<Self> {
        let burst = NonZeroU32::new(burst).ok_or_else(|| anyhow::anyhow!("a zero burst"))?;
        let quota = Quota::with_period(every)
            .ok_or_else(|| anyhow::anyhow!("a zero period"))?
            .allow_burst(burst);
        Ok(SharedLimit {
            limiter: Arc::new(RateLimiter::keyed(quota)),
            trusted: Arc::new(trusted.to_vec()),
        })
    }

    /// Counts a request that failed to sign in (CardDAV's Basic credentials) against its
    /// client's budget; `RateLimited` once it is spent.
    pub fn charge_failure(&self, req: &actix_web::HttpRequest) -> Result<(), AppError> {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return Ok(());
        };
        let headers: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client_ip(peer, &headers, &self.trusted);
        match self.limiter.check_key(&ip) {
            Ok(()) => Ok(()),
            Err(negative) => Err(AppError::RateLimited {
                retry_after: seconds_to_wait(&negative),
            }),
        }
    }

    /// Counts `req` against its client's budget; the error is the refusal to send.
    pub fn check(&self, req: &ServiceRequest) -> Result<(), actix_web::Error> {
        let Some(ip) = request_ip(req, &self.trusted) else {
            return Ok(());
        };
        let Err(negative) = self.limiter.check_key(&ip) else {
            return Ok(());
        };
        let err = AppError::RateLimited {
            retry_after: seconds_to_wait(&negative),
        };
        Err(if req.path().starts_with("/api/") {
            ApiError(err).into()
        } else {
            err.into()
        })
    }

    /// A middleware that counts every request of the route it wraps.
    pub async fn guard(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        self.check(&req)?;
        next.call(req).await
    }
}

/// Pages a browser without a session cookie loads: each one stores a new session (for its
/// CSRF token), so cookie-less floods are limited per address before they fill the table.
/// Static files, the health check and the API never start a session and are not counted.
pub async fn limit_new_sessions(
    limit: SharedLimit,
    session_cookie: &'static str,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let path = req.path();
    let starts_session = matches!(*req.method(), Method::GET | Method::HEAD)
        && !["/static/", "/api/", "/healthz", "/dav/", "/.well-known/"]
            .iter()
            .any(|p| path.starts_with(p))
        && req.cookie(session_cookie).is_none();
    if starts_session {
        limit.check(&req)?;
    }
    next.call(req).await
}

/// Drops idle keys now and then so the limiters' memory stays bounded.
pub fn spawn_pruner(limits: Vec<Limit>, shared: Vec<SharedLimit>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            for l in &limits {
                let limiter = l.limiter();
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
            for l in &shared {
                l.limiter.retain_recent();
                l.limiter.shrink_to_fit();
            }
        }
    });
}

/// The address a request is accounted to.
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let entries = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .collect::<Vec<_>>();
    for entry in entries.iter().rev() {
        match parse_entry(entry) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    return ip;
                }
            }
            // A malformed entry: nothing to its left can be believed.
            None => return client,
        }
    }
    client
}

/// The client address of a request (None without a peer address, as in some tests).
fn request_ip(req: &ServiceRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let headers: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect();
    Some(client_ip(peer, &headers, trusted))
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:443`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

impl KeyExtractor for ClientIp {
    type Key = IpAddr;
    type KeyExtractionError = SimpleKeyExtractionError<&'static str>;

    fn extract(&self, req: &ServiceRequest) -> Result<IpAddr, Self::KeyExtractionError> {
        request_ip(req, &self.trusted)
            .ok_or_else(|| SimpleKeyExtractionError::new("no peer address"))
    }

    fn exceed_rate_limit_response(
        &self,
        negative: &NotUntil<QuantaInstant>,
        _: HttpResponseBuilder,
    ) -> HttpResponse {
        let err = AppError::RateLimited {
            retry_after: seconds_to_wait(negative),
        };
        match self.face {
            Face::Page => err.error_response(),
            Face::Json => ApiError(err).error_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_header_is_ignored() {
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.1.1.1"], &[]),
            ip("203.0.113.9")
        );
        let proxies = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("203.0.113.9"), &["1.1.1.1"], &proxies),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_peer_gives_right_most_untrusted_entry() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // The client forged the left-most entry; the proxy appended the real one.
        let header = ["6.6.6.6, 198.51.100.7, 10.0.0.3"];
        assert_eq!(
            client_ip(ip("10.0.0.2"), &header, &proxies),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["6.6.6.6", "198.51.100.7:555"], &proxies),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["[2001:db8::1]:443"], &proxies),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn missing_or_malformed_header_falls_back_safely() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("10.0.0.2"), &[], &proxies), ip("10.0.0.2"));
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["6.6.6.6, garbage"], &proxies),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_ip(ip("10.0.0.2"), &["garbage, 10.0.0.5"], &proxies),
            ip("10.0.0.5")
        );
    }
}

//! Rate limits keyed by the real client address, and per-user limits for API calls and CSV
//! imports ([`UserLimits`]).
//!
//! The client is the TCP peer, unless the peer is a configured proxy (`TRUSTED_PROXIES`):
//! then it is the right-most `X-Forwarded-For` entry that is not itself a proxy. A header
//! from any other peer is ignored, so a client cannot pick its own bucket. (actix-web's
//! `realip_remote_addr()` takes the left-most entry, which the client controls.)
//!
//! Every limit is a [`Budget`]: counted in this process, or in Redis for all instances when
//! `REDIS_URL` is set (`shared.rs`).

pub mod shared;

use std::fmt::Display;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use governor::clock::{Clock, DefaultClock, QuantaInstant};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};
use ipnet::IpNet;

use crate::error::{ApiError, AppError};
use shared::{Redis, Verdict};

/// One limit: `burst` requests at once per key, one more every `every`. Counted in Redis when
/// one is configured (every instance draws on the same budget), else in this process; in
/// this process too while Redis does not answer (see `shared.rs`).
pub struct Budget<K: Hash + Eq + Clone> {
    /// Names the limit in Redis's keys.
    name: &'static str,
    every: Duration,
    burst: u32,
    local: DefaultKeyedRateLimiter<K>,
    redis: Option<Arc<Redis>>,
}

impl<K: Hash + Eq + Clone + Display> Budget<K> {
    pub fn new(
        name: &'static str,
        every: Duration,
        burst: u32,
        redis: Option<Arc<Redis>>,
    ) -> anyhow::Result<Self> {
        let burst_nz = NonZeroU32::new(burst).ok_or_else(|| anyhow::anyhow!("a zero burst"))?;
        let quota = Quota::with_period(every)
            .ok_or_else(|| anyhow::anyhow!("a zero period"))?
            .allow_burst(burst_nz);
        Ok(Budget {
            name,
            every,
            burst,
            local: RateLimiter::keyed(quota),
            redis,
        })
    }

    /// Takes one request of `key`'s budget, or says how many seconds to wait.
    pub async fn take(&self, key: &K) -> Result<(), u64> {
        if let Some(redis) = &self.redis {
            let verdict = redis
                .take(self.name, &key.to_string(), self.every, self.burst)
                .await;
            match verdict {
                Some(Verdict::Allowed) => return Ok(()),
                Some(Verdict::Refused { wait }) => return Err(whole_seconds(wait)),
                None => {}
            }
        }
        self.local
            .check_key(key)
            .map_err(|negative| seconds_to_wait(&negative))
    }

    /// Forgets keys idle long enough to be back at a full burst.
    pub fn prune(&self) {
        self.local.retain_recent();
        self.local.shrink_to_fit();
    }
}

/// One refill of the import limit.
pub const IMPORT_EVERY: Duration = Duration::from_secs(30);

/// Limits keyed by user id, shared by every worker (they live in `AppState`). The API limit is
/// checked by the `ApiUser` extractor, so it covers every authenticated API call; the import
/// limit by both CSV imports (page and API) before the file is parsed.
pub struct UserLimits {
    api: Budget<i64>,
    imports: Budget<i64>,
}

impl UserLimits {
    /// `api_per_second` calls a second in bursts of five seconds' worth; `import_burst`
    /// imports at once, then one per [`IMPORT_EVERY`].
    pub fn new(
        api_per_second: u32,
        import_burst: u32,
        redis: Option<Arc<Redis>>,
    ) -> anyhow::Result<Self> {
        let per_second = api_per_second.max(1);
        let api_every = Duration::from_secs(1) / per_second;
        Ok(UserLimits {
            api: Budget::new(
                "api",
                api_every.max(Duration::from_nanos(1)),
                per_second.saturating_mul(5),
                redis.clone(),
            )?,
            imports: Budget::new("import", IMPORT_EVERY, import_burst.max(1), redis)?,
        })
    }

    /// One API call by `user_id`, or `RateLimited`.
    pub async fn api_call(&self, user_id: i64) -> Result<(), AppError> {
        limited(self.api.take(&user_id).await)
    }

    /// One CSV import by `user_id`, or `RateLimited`.
    pub async fn import(&self, user_id: i64) -> Result<(), AppError> {
        limited(self.imports.take(&user_id).await)
    }

    /// Forgets users idle long enough to be back at a full burst.
    pub fn prune(&self) {
        self.api.prune();
        self.imports.prune();
    }
}

fn limited(taken: Result<(), u64>) -> Result<(), AppError> {
    taken.map_err(|retry_after| AppError::RateLimited { retry_after })
}

fn seconds_to_wait(negative: &NotUntil<QuantaInstant>) -> u64 {
    whole_seconds(negative.wait_time_from(DefaultClock::default().now()))
}

/// A wait in whole seconds for `Retry-After`, rounded up, at least one.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// A budget per client address, for the routes that wrap it ([`SharedLimit::guard`]) or a
/// middleware that consults it for some requests only. Several routes may draw on one (the
/// sign-in page and the API's). Refusals are JSON under `/api/` and a page elsewhere.
#[derive(Clone)]
pub struct SharedLimit {
    budget: Arc<Budget<IpAddr>>,
    trusted: Arc<Vec<IpNet>>,
}

impl SharedLimit {
    /// `burst` requests at once, refilled at one per `every`; `name` names it in Redis.
    pub fn new(
        name: &'static str,
        trusted: &[IpNet],
        every: Duration,
        burst: u32,
        redis: Option<Arc<Redis>>,
    ) -> anyhow::Result<Self> {
        Ok(SharedLimit {
            budget: Arc::new(Budget::new(name, every, burst, redis)?),
            trusted: Arc::new(trusted.to_vec()),
        })
    }

    /// Counts a request that failed to sign in (CardDAV's Basic credentials) against its
    /// client's budget; `RateLimited` once it is spent.
    pub async fn charge_failure(&self, req: &actix_web::HttpRequest) -> Result<(), AppError> {
        let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
            return Ok(());
        };
        let headers: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = client_ip(peer, &headers, &self.trusted);
        limited(self.budget.take(&ip).await)
    }

    /// Counts `req` against its client's budget; the error is the refusal to send.
    pub async fn check(&self, req: &ServiceRequest) -> Result<(), actix_web::Error> {
        let Some(ip) = request_ip(req, &self.trusted) else {
            return Ok(());
        };
        let Err(err) = limited(self.budget.take(&ip).await) else {
            return Ok(());
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
        self.check(&req).await?;
        next.call(req).await
    }

    pub fn prune(&self) {
        self.budget.prune();
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
        limit.check(&req).await?;
    }
    next.call(req).await
}

/// Drops idle keys now and then so the limiters' memory stays bounded.
pub fn spawn_pruner(limits: Vec<SharedLimit>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            for l in &limits {
                l.prune();
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

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

use actix_governor::governor::NotUntil;
use actix_governor::governor::clock::{Clock, DefaultClock, QuantaInstant};
use actix_governor::governor::middleware::NoOpMiddleware;
use actix_governor::governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use actix_governor::{
    GovernorConfig, GovernorConfigBuilder, KeyExtractor, SimpleKeyExtractionError,
};
use actix_web::dev::ServiceRequest;
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

/// Drops idle keys now and then so the limiter's memory stays bounded.
pub fn spawn_pruner(limits: Vec<Limit>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            for l in &limits {
                let limiter = l.limiter();
                limiter.retain_recent();
                limiter.shrink_to_fit();
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
        let peer = req
            .peer_addr()
            .map(|a| a.ip())
            .ok_or_else(|| SimpleKeyExtractionError::new("no peer address"))?;
        let headers: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(client_ip(peer, &headers, &self.trusted))
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

//! HTTP clients from chosen loopback addresses, the public form's fields, a small seeded
//! random number generator.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::Client;
use reqwest::redirect::Policy;

/// A phone number the form's offline check accepts.
pub const FORM_PHONE: &str = "+44 20 7946 0958";

/// A client sending from `from` with its own cookie jar, no redirects followed.
///
/// Idle connections are dropped after 2 s, before the server's keep-alive timeout (actix-web's
/// 5 s) closes them: otherwise a request sent on a connection at the moment the server closes
/// it fails with "connection closed before message completed" (the usual HTTP/1.1 keep-alive
/// race, which browsers and NGINX answer by retrying; a test would count it as an error).
pub fn client_from(from: Ipv4Addr, timeout: Duration) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(from))
        .cookie_store(true)
        .redirect(Policy::none())
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .build()
        .expect("HTTP client builds")
}

/// Source addresses 127.<octet>.1.1 – 127.<octet>.9.254 (2,286), each handed out once, so
/// that no address meets a per-address limit twice.
pub struct Addresses {
    octet: u8,
    next: AtomicU32,
}

impl Addresses {
    pub const fn new(octet: u8) -> Self {
        Addresses {
            octet,
            next: AtomicU32::new(0),
        }
    }

    pub fn take(&self) -> Ipv4Addr {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(n < 9 * 254, "ran out of source addresses");
        Ipv4Addr::new(127, self.octet, (n / 254 + 1) as u8, (n % 254 + 1) as u8)
    }
}

/// The value of the hidden `csrf_token` field of a page.
pub fn csrf_in(html: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// The `Location` header, or "".
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The public form as a visitor fills it in (the CSRF token goes on top).
pub fn form_fields(name: &str, email: &str, message: &str) -> Vec<(String, String)> {
    [
        ("name", name),
        ("email", email),
        ("phone", FORM_PHONE),
        ("preferred_time", "afternoon"),
        ("preferred_date", ""),
        ("message", message),
        ("website", ""),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// xorshift64*: enough for random delays, and repeatable from a printed seed.
pub struct Rng(u64);

impl Rng {
    /// From `CV_SEED`, or from the clock; prints the seed.
    pub fn from_env() -> Rng {
        let seed = std::env::var("CV_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock after 1970")
                    .as_nanos() as u64
            });
        println!("random seed: CV_SEED={seed}");
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A whole number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

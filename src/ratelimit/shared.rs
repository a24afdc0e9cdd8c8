//! Rate limits counted in Redis (`REDIS_URL`), so that several instances of the app allow
//! together what one allows alone.
//!
//! Each limit is the same GCRA as the in-process one (governor's): `burst` requests at once,
//! one more every `every`. Redis keeps one value per limit and client, the "theoretical
//! arrival time", and a small Lua script checks and moves it in one step, on Redis's own
//! clock (so the instances' clocks do not matter), with an expiry at which the budget is full
//! again. The key names hold no address or user id: they are an HMAC of it under a key
//! derived from `SECRET_KEY`.
//!
//! When Redis cannot answer within [`TIMEOUT`] the request is counted by the instance's own
//! limiter instead (see `Budget::take`), and Redis is left alone for [`REST`] so that an
//! outage costs one timeout, not one per request. Nothing fails open and nothing fails closed:
//! every limit stays, counted per instance, until Redis is back.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use hmac::{Hmac, KeyInit, Mac};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// The longest a request waits for Redis.
pub const TIMEOUT: Duration = Duration::from_millis(250);
/// After Redis failed to answer, how long requests are counted here before it is asked again.
pub const REST: Duration = Duration::from_secs(2);

/// GCRA on Redis's clock. KEYS[1]: the budget; ARGV[1]: the interval in microseconds;
/// ARGV[2]: the burst. Returns {1, 0} when allowed, {0, microseconds to wait} when not.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local every = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local allowed_from = tat - (burst - 1) * every
if now < allowed_from then
  return {0, allowed_from - now}
end
local next_tat = tat + every
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000))
return {1, 0}
";

/// Where key names start, so the app's keys are easy to tell apart in a shared Redis.
const PREFIX: &str = "contact-vault:limit:";

/// What Redis said about one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused { wait: Duration },
}

pub struct Redis {
    conn: ConnectionManager,
    script: redis::Script,
    names: Hmac<Sha256>,
    /// Until when Redis is left alone after it failed to answer.
    resting: Mutex<Option<Instant>>,
}

impl Redis {
    /// A client for `url`; it connects on first use and reconnects by itself, so a Redis that
    /// is down at start only means limits are counted here until it is up.
    pub fn new(url: &SecretString, secret_key: &[u8]) -> anyhow::Result<Redis> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL ({:?})", e.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(REST);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .context("the Redis client could not be set up")?;
        let mut derive = <Hmac<Sha256> as KeyInit>::new_from_slice(secret_key)
            .context("SECRET_KEY as an HMAC key")?;
        derive.update(b"contact-vault rate limit key names v1");
        let names = <Hmac<Sha256> as KeyInit>::new_from_slice(&derive.finalize().into_bytes())
            .context("the derived key as an HMAC key")?;
        Ok(Redis {
            conn,
            script: redis::Script::new(GCRA),
            names,
            resting: Mutex::new(None),
        })
    }

    /// Takes one request from `limit`'s budget for `key`; `None` when Redis did not answer
    /// (or is resting after it did not), and the caller counts it itself.
    pub async fn take(
        &self,
        limit: &str,
        key: &str,
        every: Duration,
        burst: u32,
    ) -> Option<Verdict> {
        if self.is_resting() {
            return None;
        }
        let name = self.name(limit, key);
        let every_us = u64::try_from(every.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn.clone();
        let mut call = self.script.key(name);
        call.arg(every_us).arg(burst.max(1));
        let answer = tokio::time::timeout(TIMEOUT, call.invoke_async::<(i64, i64)>(&mut conn));
        match answer.await {
            Ok(Ok((1, _))) => {
                self.answered();
                Some(Verdict::Allowed)
            }
            Ok(Ok((_, wait_us))) => {
                self.answered();
                let wait = Duration::from_micros(u64::try_from(wait_us).unwrap_or(0));
                Some(Verdict::Refused { wait })
            }
            Ok(Err(e)) => {
                self.failed(&format!("{:?}", e.kind()));
                None
            }
            Err(_) => {
                self.failed("no answer in time");
                None
            }
        }
    }

    /// Whether Redis answered the last time it was asked (or has not been asked yet).
    pub fn answered_last(&self) -> bool {
        self.resting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    fn name(&self, limit: &str, key: &str) -> String {
        let mut mac = self.names.clone();
        mac.update(limit.as_bytes());
        mac.update(b"\0");
        mac.update(key.as_bytes());
        let digest = mac.finalize().into_bytes();
        format!("{PREFIX}{limit}:{}", hex::encode(&digest[..16]))
    }

    fn is_resting(&self) -> bool {
        let resting = self.resting.lock().unwrap_or_else(|e| e.into_inner());
        resting.is_some_and(|until| Instant::now() < until)
    }

    fn answered(&self) {
        let mut resting = self.resting.lock().unwrap_or_else(|e| e.into_inner());
        if resting.take().is_some() {
            tracing::info!("Redis answers again: rate limits are shared between instances");
        }
    }

    fn failed(&self, why: &str) {
        let mut resting = self.resting.lock().unwrap_or_else(|e| e.into_inner());
        if resting.is_none() {
            tracing::warn!(
                error = why,
                "Redis does not answer: rate limits are counted by each instance until it does"
            );
        }
        *resting = Some(Instant::now() + REST);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn key_names_hide_the_client_and_differ_per_limit_and_secret() {
        let url = SecretString::from("redis://127.0.0.1:1/");
        let a = Redis::new(&url, &[7; 64]).unwrap();
        let b = Redis::new(&url, &[8; 64]).unwrap();
        let name = a.name("sign-in", "203.0.113.9");
        assert!(name.starts_with("contact-vault:limit:sign-in:"), "{name}");
        assert!(!name.contains("203.0.113"), "{name}");
        assert_eq!(name, a.name("sign-in", "203.0.113.9"));
        assert_ne!(name, a.name("form", "203.0.113.9"));
        assert_ne!(name, a.name("sign-in", "203.0.113.10"));
        assert_ne!(name, b.name("sign-in", "203.0.113.9"));
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_asked_once_then_rests() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let redis = Redis::new(&SecretString::from("redis://127.0.0.1:1/"), &[7; 64]).unwrap();
        let every = Duration::from_secs(1);
        assert_eq!(redis.take("form", "x", every, 5).await, None);
        assert!(redis.is_resting(), "not asked again for a while");
        assert_eq!(redis.take("form", "x", every, 5).await, None);
    }

    #[test]
    fn a_url_that_is_not_redis_is_refused_without_echoing_it() {
        let err = Redis::new(
            &SecretString::from("http://user:hunter2@example.org"),
            &[7; 64],
        )
        .err()
        .expect("refused")
        .to_string();
        assert!(
            err.contains("REDIS_URL") && !err.contains("hunter2"),
            "{err}"
        );
    }
}

//! The load generator of `overload`: open-loop floods from chosen loopback addresses, a
//! `/healthz` poller, an RSS sampler, and the tally of every answer per route.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, RequestBuilder};
use tokio::task::JoinSet;
use tokio::time::{MissedTickBehavior, interval};

use crate::net::{client_from, csrf_in};

/// How long any one load request may take before it counts as a timeout.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a `/healthz` poll may take.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// A route under load: its label, and its limit per address (burst, one more per `period`).
pub struct Route {
    pub label: &'static str,
    pub limit: Option<(u32, Duration)>,
    /// Statuses a correct server may answer (besides 429 on limited routes).
    pub expected: &'static [u16],
}

/// Answers per route: status (or "timeout" / "error") → count; and per address the
/// requests that were let through.
#[derive(Default)]
pub struct Tally {
    pub statuses: BTreeMap<&'static str, BTreeMap<String, usize>>,
    pub passed: BTreeMap<(&'static str, Ipv4Addr), u32>,
    pub failures: Vec<String>,
    pub missing_retry_after: usize,
}

pub type Shared = Arc<Mutex<Tally>>;

impl Tally {
    /// One line per route: requests sent and the answers by status.
    pub fn print(&self, routes: &[&Route]) {
        println!("{:<30} {:>6}  answers", "route", "sent");
        for route in routes {
            let statuses = self.statuses.get(route.label).cloned().unwrap_or_default();
            let sent: usize = statuses.values().sum();
            let answers: Vec<String> = statuses.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            println!("{:<30} {sent:>6}  {}", route.label, answers.join(", "));
        }
    }

    /// No failure, every 429 with `Retry-After`, and on each limited route: some 429s, and
    /// per address at least the burst but no more than the limit allows over `load`.
    pub fn check(&self, routes: &[&Route], load: Duration) {
        assert!(
            self.failures.is_empty(),
            "{} failed or unexpected answers, e.g. {:?}",
            self.failures.len(),
            &self.failures[..self.failures.len().min(10)]
        );
        assert_eq!(self.missing_retry_after, 0, "every 429 carries Retry-After");
        for route in routes {
            let Some((burst, period)) = route.limit else {
                continue;
            };
            let refused = self.statuses.get(route.label).and_then(|s| s.get("429"));
            assert!(
                refused.is_some(),
                "{}: no 429 at ten times the limit",
                route.label
            );
            // The burst, one more per period, one for rounding.
            let allowed = burst + (load.as_secs_f64() / period.as_secs_f64()).ceil() as u32 + 1;
            let mut addresses = 0;
            for ((label, from), passed) in &self.passed {
                if *label != route.label {
                    continue;
                }
                addresses += 1;
                assert!(
                    (burst..=allowed).contains(passed),
                    "{label}: {from} got {passed} through; the limit lets {burst}..={allowed}"
                );
            }
            assert!(addresses > 0, "{}: nothing got through", route.label);
        }
    }
}

/// A whole answer: status, whether it said when to retry, its body.
pub struct Answer {
    pub status: u16,
    pub retry_after: bool,
    pub body: Vec<u8>,
}

/// Sends and reads the whole body (a body cut short counts as an error too).
pub async fn call(req: RequestBuilder) -> Result<Answer, reqwest::Error> {
    let res = req.send().await?;
    let status = res.status().as_u16();
    let retry_after = res.headers().contains_key("retry-after");
    let body = res.bytes().await?.to_vec();
    Ok(Answer {
        status,
        retry_after,
        body,
    })
}

pub fn record(tally: &Shared, route: &Route, from: Ipv4Addr, res: &Result<Answer, reqwest::Error>) {
    let mut t = tally.lock().expect("tally lock");
    let key = match res {
        Ok(a) => {
            if a.status == 429 {
                t.missing_retry_after += usize::from(!a.retry_after);
            } else {
                *t.passed.entry((route.label, from)).or_default() += 1;
            }
            let limited = a.status == 429 && route.limit.is_some();
            if !(route.expected.contains(&a.status) || limited) {
                t.failures.push(format!(
                    "{} from {from}: unexpected {}",
                    route.label, a.status
                ));
            }
            a.status.to_string()
        }
        Err(e) => {
            t.failures
                .push(format!("{} from {from}: {}", route.label, causes(e)));
            if e.is_timeout() { "timeout" } else { "error" }.to_string()
        }
    };
    *t.statuses
        .entry(route.label)
        .or_default()
        .entry(key)
        .or_default() += 1;
}

/// An error with its causes ("error sending request" alone says little).
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// Loads a page (recorded under `route`) and returns its CSRF token.
pub async fn csrf_of(
    tally: &Shared,
    route: &Route,
    client: &Client,
    from: Ipv4Addr,
    url: String,
) -> Option<String> {
    let res = call(client.get(url)).await;
    record(tally, route, from, &res);
    csrf_in(&String::from_utf8_lossy(&res.ok()?.body))
}

/// Every `every` until `deadline`, spawns `one(client, address, n)` for each of `count`
/// addresses 127.<octet>.0.1…, without waiting for earlier answers (an open loop).
pub async fn flood<F, Fut>(octet: u8, count: u8, every: Duration, deadline: Instant, one: F)
where
    F: Fn(Client, Ipv4Addr, u32) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let addresses: Vec<Ipv4Addr> = (1..=count)
        .map(|d| Ipv4Addr::new(127, octet, 0, d))
        .collect();
    let clients: Vec<Client> = addresses.iter().map(|a| client_from(*a, TIMEOUT)).collect();
    let mut tick = interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut running = JoinSet::new();
    let mut n = 0;
    while Instant::now() < deadline {
        tick.tick().await;
        n += 1;
        for (client, from) in clients.iter().zip(&addresses) {
            running.spawn(one(client.clone(), *from, n));
        }
    }
    while let Some(done) = running.join_next().await {
        done.expect("a load request task finished");
    }
}

/// `count` clients from 127.<octet>.0.1…, each calling `one(client, address, n)` every
/// `every` until `deadline`, or as soon as its previous answer is in when that takes longer:
/// a closed loop, like a load tool's connections (the load waits when the server slows).
pub async fn steady<F, Fut>(octet: u8, count: u8, every: Duration, deadline: Instant, one: F)
where
    F: Fn(Client, Ipv4Addr, u32) -> Fut,
    Fut: Future<Output = ()>,
{
    let one = &one;
    let loops = (1..=count).map(|d| async move {
        let from = Ipv4Addr::new(127, octet, 0, d);
        let client = client_from(from, TIMEOUT);
        let mut tick = interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut n = 0;
        while Instant::now() < deadline {
            tick.tick().await;
            n += 1;
            one(client.clone(), from, n).await;
        }
    });
    futures_util::future::join_all(loops).await;
}

/// Ten times a limit of `per_minute` requests per minute: one request every 6/per_minute s.
pub fn ten_times(per_minute: u64) -> Duration {
    Duration::from_millis(60_000 / per_minute / 10)
}

/// Polls `/healthz` every 200 ms until `deadline`; returns the answer times, sorted.
pub async fn poll_health(
    tally: Shared,
    route: &'static Route,
    base: String,
    deadline: Instant,
) -> Vec<Duration> {
    let local = Ipv4Addr::new(127, 0, 0, 1);
    let client = client_from(local, HEALTH_TIMEOUT);
    let mut tick = interval(Duration::from_millis(200));
    let mut times = Vec::new();
    while Instant::now() < deadline {
        tick.tick().await;
        let sent = Instant::now();
        let res = call(client.get(format!("{base}/healthz"))).await;
        times.push(sent.elapsed());
        record(&tally, route, local, &res);
    }
    times.sort();
    times
}

/// Samples `VmRSS` every 100 ms until `deadline`; returns the largest sample in KiB.
pub async fn sample_rss(pid: u32, deadline: Instant) -> u64 {
    let mut tick = interval(Duration::from_millis(100));
    let mut peak = 0;
    while Instant::now() < deadline {
        tick.tick().await;
        if let Some((rss, _)) = crate::server::memory_kib(pid) {
            peak = peak.max(rss);
        }
    }
    peak
}

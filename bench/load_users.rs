//! Many users on one instance (issue 14), for `bench/users.sh`. Users are named
//! `<prefix><n>` (made by the script with `contact-vault user add`), all with one password.
//!
//! - `users-setup`: signs in users `from..to`, each from its own source address, and imports
//!   the same CSV file into each book.
//! - `users-cold`: after a restart, signs in users `0..count` one after the other and times
//!   each one's first list page (its directory is cold: built by that request), then one
//!   search right after it (warm). Writes the tokens to `--tokens-out`.
//! - `users-active`: `--users` of those tokens (spread over all of them) active at once:
//!   `--concurrency` connections for `--seconds`, each request a list page or a search of
//!   another of those users in turn.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::{client, loopback, source, summary};

/// What a user searches for and lists, in turn (URL-encoded; they fit the generated book).
const REQUESTS: [&str; 6] = [
    "/api/contacts?page=1",
    "/api/contacts?q=globex",
    "/api/contacts?q=anna+berg",
    "/api/contacts?q=walker",
    "/api/contacts?q=555+012",
    "/api/contacts?sort=created&order=desc&page=2",
];

async fn sign_in(
    c: &reqwest::Client,
    base: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<String> {
    let body = serde_json::json!({ "username": name, "password": password });
    let resp = c
        .post(format!("{base}/api/login"))
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 200, "sign-in of {name}: {}", resp.status());
    let json: serde_json::Value = resp.json().await?;
    json["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("sign-in of {name}: no token"))
}

/// GET with a token; the time in ms. Anything but 200 is an error.
async fn timed_get(c: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<f64> {
    let sent = Instant::now();
    let resp = c.get(url).bearer_auth(token).send().await?;
    let status = resp.status();
    let _ = resp.bytes().await?;
    anyhow::ensure!(status == 200, "{url}: {status}");
    Ok(sent.elapsed().as_secs_f64() * 1000.0)
}

pub async fn setup(
    base: String,
    prefix: String,
    password: String,
    range: (u32, u32),
    csv: std::path::PathBuf,
    concurrency: usize,
) -> anyhow::Result<()> {
    loopback(&base)?;
    let body = Arc::new(std::fs::read(&csv)?);
    let next = Arc::new(AtomicUsize::new(range.0 as usize));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (base, prefix, password, body, next) = (
            base.clone(),
            prefix.clone(),
            password.clone(),
            body.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= range.1 as usize {
                    return anyhow::Ok(());
                }
                let c = client(source(3, n as u32))?;
                let token = sign_in(&c, &base, &format!("{prefix}{n}"), &password).await?;
                let resp = c
                    .post(format!("{base}/api/contacts/import/csv"))
                    .bearer_auth(&token)
                    .header("Content-Type", "text/csv")
                    .body(body.as_ref().clone())
                    .send()
                    .await?;
                anyhow::ensure!(
                    resp.status() == 200,
                    "import for {prefix}{n}: {}",
                    resp.status()
                );
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    println!(
        "users-setup users={} seconds={:.1}",
        range.1.saturating_sub(range.0),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn cold(
    base: String,
    prefix: String,
    password: String,
    count: u32,
    octet: u8,
    tokens_out: std::path::PathBuf,
) -> anyhow::Result<()> {
    loopback(&base)?;
    let (mut cold, mut warm, mut tokens) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..count {
        let c = client(source(octet, n))?;
        let token = sign_in(&c, &base, &format!("{prefix}{n}"), &password).await?;
        cold.push(timed_get(&c, &format!("{base}/api/contacts?page=1"), &token).await?);
        let search = REQUESTS[1 + n as usize % 4];
        warm.push(timed_get(&c, &format!("{base}{search}"), &token).await?);
        tokens.push(token);
    }
    std::fs::write(&tokens_out, tokens.join("\n"))?;
    let (n, c50, c95, _, cmax) = summary(cold);
    let (_, w50, w95, _, _) = summary(warm);
    println!(
        "users-cold users={n} cold_p50_ms={c50:.2} cold_p95_ms={c95:.2} cold_max_ms={cmax:.2} \
         warm_p50_ms={w50:.2} warm_p95_ms={w95:.2}"
    );
    Ok(())
}

pub async fn active(
    base: String,
    tokens: std::path::PathBuf,
    users: usize,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    loopback(&base)?;
    let all: Vec<String> = std::fs::read_to_string(&tokens)?
        .lines()
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!all.is_empty(), "no tokens in {}", tokens.display());
    // Spread over every signed-in user, not only the most recent (whose books are cached).
    let stride = (all.len() / users.max(1)).max(1);
    let chosen: Arc<Vec<String>> =
        Arc::new(all.iter().step_by(stride).take(users).cloned().collect());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (base, chosen, next, latencies, errors) = (
            base.clone(),
            chosen.clone(),
            next.clone(),
            latencies.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let c = client(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))?;
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let token = &chosen[n % chosen.len()];
                let path = REQUESTS[(n / chosen.len()) % REQUESTS.len()];
                match timed_get(&c, &format!("{base}{path}"), token).await {
                    Ok(ms) => mine.push(ms),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies.lock().await.extend(mine);
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = t0.elapsed().as_secs_f64();
    let (n, p50, p95, p99, max) = summary(std::mem::take(&mut *latencies.lock().await));
    println!(
        "users-active users={} requests={n} per_second={:.0} errors={} p50_ms={p50:.2} \
         p95_ms={p95:.2} p99_ms={p99:.2} max_ms={max:.2}",
        chosen.len(),
        n as f64 / secs,
        errors.load(Ordering::Relaxed),
    );
    Ok(())
}

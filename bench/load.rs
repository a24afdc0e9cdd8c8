//! The load client of `bench/run.sh` for what a plain load tool (wrk, oha) cannot do: requests
//! from many loopback source addresses (127.x.y.z), because the public form and the sign-in
//! are rate-limited per client address, and a steady latency probe running beside a load.
//!
//! - `form`: public form submissions per second. Prepares one visitor session per submission
//!   (`GET /` for the cookie and CSRF token), waits out the minimum fill time, then posts
//!   every form as fast as `--concurrency` connections allow. Each source address posts at
//!   most `--per-ip` forms, within the limiter's burst, so the limiter stays on and is never
//!   hit: the figure is the handler's throughput, not a way around the limit.
//! - `logins`: `--concurrency` API sign-ins in a loop for `--seconds`, each from a new source
//!   address, while a probe sends `GET /healthz` every `--probe-ms` from 127.0.0.1 and records
//!   its latency; `--concurrency 0` runs the probe alone (the baseline).
//! - `crypto-limit`: times opening (decrypting) a contact as a list page does and prints the
//!   crypto-bound ceiling of a page of `--rows` contacts on this machine's cores (the fastest
//!   of `--seconds` one-second rounds).
//!
//! - `users-setup`, `users-cold`, `users-active`: many users on one instance (`load_users.rs`).
//!
//! Every loop is bounded by a count or a deadline. Only loopback addresses are accepted.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

#[path = "load_users.rs"]
mod users;
use reqwest::header::{COOKIE, SET_COOKIE};
use tokio::sync::Mutex;

/// The server's allocator (src/main.rs), so `crypto-limit` times decryption as the server runs it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Form {
        #[arg(long)]
        base: String,
        /// Distinct source addresses.
        #[arg(long, default_value_t = 1000)]
        ips: u32,
        /// Submissions per source address (the limiter's burst is 5).
        #[arg(long, default_value_t = 5)]
        per_ip: u32,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Second octet of the source addresses: 127.<octet>.x.y.
        #[arg(long, default_value_t = 1)]
        octet: u8,
    },
    Logins {
        #[arg(long)]
        base: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 20)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 10)]
        probe_ms: u64,
        #[arg(long, default_value_t = 2)]
        octet: u8,
    },
    CryptoLimit {
        #[arg(long, default_value_t = 50)]
        rows: usize,
        #[arg(long, default_value_t = 2)]
        seconds: u64,
    },
    UsersSetup {
        #[arg(long)]
        base: String,
        #[arg(long, default_value = "user")]
        prefix: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        from: u32,
        #[arg(long)]
        to: u32,
        /// The CSV file imported into each book.
        #[arg(long)]
        csv: std::path::PathBuf,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
    UsersCold {
        #[arg(long)]
        base: String,
        #[arg(long, default_value = "user")]
        prefix: String,
        #[arg(long)]
        password: String,
        #[arg(long)]
        count: u32,
        /// Second octet of the source addresses (one per run: the sign-in limit is per address).
        #[arg(long, default_value_t = 4)]
        octet: u8,
        #[arg(long)]
        tokens_out: std::path::PathBuf,
    },
    UsersActive {
        #[arg(long)]
        base: String,
        #[arg(long)]
        tokens: std::path::PathBuf,
        #[arg(long, default_value_t = 200)]
        users: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
    },
}

fn loopback(base: &str) -> anyhow::Result<()> {
    let host = base
        .strip_prefix("http://")
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("");
    let ok = host == "localhost" || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(ok, "only http://127.x.y.z or localhost targets: {base}");
    Ok(())
}

/// The `n`-th source address: 127.<octet>.<n / 254 % 256>.<n % 254 + 1> (65,024 of them).
fn source(octet: u8, n: u32) -> IpAddr {
    let third = ((n / 254) % 256) as u8;
    let fourth = (n % 254 + 1) as u8;
    IpAddr::V4(Ipv4Addr::new(127, octet, third, fourth))
}

fn client(from: IpAddr) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        // The server closes a connection idle for 5 s; reusing one that it is closing fails
        // on the client's side, so idle connections are dropped well before that.
        .pool_idle_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()?)
}

fn percentile(sorted_ms: &[f64], p: f64) -> f64 {
    if sorted_ms.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted_ms.len() as f64).ceil() as usize;
    sorted_ms[rank.clamp(1, sorted_ms.len()) - 1]
}

fn summary(mut ms: Vec<f64>) -> (usize, f64, f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    (
        ms.len(),
        percentile(&ms, 50.0),
        percentile(&ms, 95.0),
        percentile(&ms, 99.0),
        ms.last().copied().unwrap_or(f64::NAN),
    )
}

/// A visitor ready to post: its session cookie and CSRF token.
struct Visitor {
    client: reqwest::Client,
    cookie: String,
    csrf: String,
    n: u32,
}

async fn prepare(client: reqwest::Client, base: &str, n: u32) -> anyhow::Result<Visitor> {
    let resp = client.get(format!("{base}/")).send().await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "GET / answered {}",
        resp.status()
    );
    let cookie = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    let body = resp.text().await?;
    let marker = "name=\"csrf_token\" value=\"";
    let csrf = body
        .split_once(marker)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(token, _)| token.to_string())
        .ok_or_else(|| anyhow::anyhow!("no CSRF token in the form"))?;
    Ok(Visitor {
        client,
        cookie,
        csrf,
        n,
    })
}

async fn form(
    base: String,
    ips: u32,
    per_ip: u32,
    concurrency: usize,
    octet: u8,
) -> anyhow::Result<()> {
    loopback(&base)?;
    let total = ips * per_ip;
    let started = Instant::now();
    let mut visitors = Vec::with_capacity(total as usize);
    for ip in 0..ips {
        let c = client(source(octet, ip))?;
        for k in 0..per_ip {
            visitors.push((c.clone(), ip * per_ip + k));
        }
    }
    // Sessions first, `concurrency` at a time.
    let queue = Arc::new(Mutex::new(visitors));
    let ready = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (queue, ready, base) = (queue.clone(), ready.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((c, n)) = queue.lock().await.pop() else {
                    return Ok::<(), anyhow::Error>(());
                };
                let v = prepare(c, &base, n).await?;
                ready.lock().await.push(v);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let prepare_s = started.elapsed().as_secs_f64();
    // The server counts whole seconds since `GET /`: 3 s clears the 2 s minimum.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let visitors = std::mem::take(&mut *ready.lock().await);
    let queue = Arc::new(Mutex::new(visitors));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let (ok, limited, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (queue, latencies, base) = (queue.clone(), latencies.clone(), base.clone());
        let (ok, limited, other) = (ok.clone(), limited.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(v) = queue.lock().await.pop() else {
                    return;
                };
                let n = v.n;
                let fields = [
                    ("csrf_token", v.csrf.clone()),
                    ("name", format!("Visitor {n}")),
                    ("email", format!("visitor{n}@example.com")),
                    ("phone", format!("+1 202 555 {:04}", n % 10_000)),
                    ("preferred_time", "morning".to_string()),
                    ("preferred_date", String::new()),
                    ("message", format!("Please call me back about order {n}.")),
                    ("website", String::new()),
                ];
                let sent = Instant::now();
                let resp = v
                    .client
                    .post(format!("{base}/"))
                    .header(COOKIE, &v.cookie)
                    .form(&fields)
                    .send()
                    .await;
                let ms = sent.elapsed().as_secs_f64() * 1000.0;
                latencies.lock().await.push(ms);
                match resp {
                    Ok(r) if r.status().as_u16() == 303 => ok.fetch_add(1, Ordering::Relaxed),
                    Ok(r) if r.status().as_u16() == 429 => limited.fetch_add(1, Ordering::Relaxed),
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        // The first field marked invalid, if the form came back.
                        let why = body
                            .split_once("aria-invalid")
                            .map_or("", |(before, _)| &before[before.len().saturating_sub(60)..]);
                        eprintln!("form {n}: {status} {why}");
                        other.fetch_add(1, Ordering::Relaxed)
                    }
                    Err(e) => {
                        eprintln!("form {n}: {e}");
                        other.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let (n, p50, p95, p99, max) = summary(std::mem::take(&mut *latencies.lock().await));
    println!(
        "form posts={n} redirected={} limited={} other={} seconds={secs:.2} per_second={:.0} \
         p50_ms={p50:.1} p95_ms={p95:.1} p99_ms={p99:.1} max_ms={max:.1} sources={ips} \
         prepare_seconds={prepare_s:.2}",
        ok.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        n as f64 / secs,
    );
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn logins(
    base: String,
    username: String,
    password: String,
    concurrency: usize,
    seconds: u64,
    probe_ms: u64,
    octet: u8,
) -> anyhow::Result<()> {
    loopback(&base)?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let next_ip = Arc::new(AtomicU32::new(0));
    let body = serde_json::json!({ "username": username, "password": password });
    let login_ms = Arc::new(Mutex::new(Vec::new()));
    let (ok, limited, other) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (base, body, next_ip, login_ms) = (
            base.clone(),
            body.clone(),
            next_ip.clone(),
            login_ms.clone(),
        );
        let (ok, limited, other) = (ok.clone(), limited.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let from = source(octet, next_ip.fetch_add(1, Ordering::Relaxed));
                let Ok(c) = client(from) else {
                    other.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let sent = Instant::now();
                let resp = c.post(format!("{base}/api/login")).json(&body).send().await;
                login_ms
                    .lock()
                    .await
                    .push(sent.elapsed().as_secs_f64() * 1000.0);
                match resp.map(|r| r.status().as_u16()) {
                    Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                    Ok(429) => limited.fetch_add(1, Ordering::Relaxed),
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // The probe: one request at a time, every `probe_ms`, from 127.0.0.1.
    let probe = client(IpAddr::V4(Ipv4Addr::LOCALHOST))?;
    let mut probe_lat = Vec::new();
    let mut probe_errors = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(probe_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let t0 = Instant::now();
    while Instant::now() < deadline {
        tick.tick().await;
        let sent = Instant::now();
        match probe.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                probe_lat.push(sent.elapsed().as_secs_f64() * 1000.0)
            }
            _ => probe_errors += 1,
        }
    }
    for t in tasks {
        t.await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let (pn, p50, p95, p99, max) = summary(probe_lat);
    let (ln, l50, _, l99, _) = summary(std::mem::take(&mut *login_ms.lock().await));
    println!(
        "logins concurrency={concurrency} seconds={secs:.1} attempts={ln} ok={} limited={} \
         other={} per_second={:.1} login_p50_ms={l50:.0} login_p99_ms={l99:.0} \
         healthz_n={pn} healthz_errors={probe_errors} healthz_p50_ms={p50:.2} \
         healthz_p95_ms={p95:.2} healthz_p99_ms={p99:.2} healthz_max_ms={max:.2}",
        ok.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        ok.load(Ordering::Relaxed) as f64 / secs,
    );
    Ok(())
}

fn crypto_limit(rows: usize, seconds: u64) -> anyhow::Result<()> {
    use contact_vault::book::{open, seal};
    use contact_vault::crypto::FieldCipher;
    use contact_vault::crypto::user_keys::BookKeys;
    use contact_vault::domain::contact::Contact;

    let key = fernet::Fernet::generate_key();
    let keys = BookKeys {
        cipher: FieldCipher::from_keys(&[&key]).ok_or_else(|| anyhow::anyhow!("bad key"))?,
        blind_index_key: [7u8; 32],
    };
    let sealed: Vec<_> = (0..rows)
        .map(|i| {
            let c = Contact {
                name: format!("Katarzyna Kowalski {i}"),
                phone: format!("+1 555 001 {i:04}"),
                email: format!("katarzyna.kowalski{i}@example.com"),
                address: format!("{} Main Street, Springfield", i + 1),
                company: "Stark Industries".into(),
                notes: if i.is_multiple_of(4) {
                    "Met at the 2024 conference".into()
                } else {
                    String::new()
                },
                tags: vec!["work".into()],
                favorite: false,
            };
            seal(&keys, 1, &format!("{i:032x}"), &c, 0, 0).map(|row| row.sealed)
        })
        .collect::<anyhow::Result<_>>()?;
    // The fastest of one-second rounds: the machine is shared, and a slow round (another
    // process on the core) would lower the limit the list page is compared with.
    let mut per_page = f64::INFINITY;
    for _ in 0..seconds.max(1) {
        let deadline = Instant::now() + Duration::from_secs(1);
        let t0 = Instant::now();
        let mut pages = 0u64;
        while Instant::now() < deadline {
            for row in &sealed {
                std::hint::black_box(open(&keys, row)?);
            }
            pages += 1;
        }
        per_page = per_page.min(t0.elapsed().as_secs_f64() / pages as f64);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "crypto rows={rows} fields_per_row=7 page_us={:.1} field_decrypt_us={:.2} \
         limit_per_core={:.0} cores={cores} limit={:.0}",
        per_page * 1e6,
        per_page * 1e6 / (rows as f64 * 7.0),
        1.0 / per_page,
        cores as f64 / per_page,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::CryptoLimit { rows, seconds } = cli.command {
        return crypto_limit(rows, seconds);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match cli.command {
            Command::Form {
                base,
                ips,
                per_ip,
                concurrency,
                octet,
            } => form(base, ips, per_ip, concurrency, octet).await,
            Command::Logins {
                base,
                username,
                password,
                concurrency,
                seconds,
                probe_ms,
                octet,
            } => {
                logins(
                    base,
                    username,
                    password,
                    concurrency,
                    seconds,
                    probe_ms,
                    octet,
                )
                .await
            }
            Command::UsersSetup {
                base,
                prefix,
                password,
                from,
                to,
                csv,
                concurrency,
            } => users::setup(base, prefix, password, (from, to), csv, concurrency).await,
            Command::UsersCold {
                base,
                prefix,
                password,
                count,
                octet,
                tokens_out,
            } => users::cold(base, prefix, password, count, octet, tokens_out).await,
            Command::UsersActive {
                base,
                tokens,
                users,
                concurrency,
                seconds,
            } => users::active(base, tokens, users, concurrency, seconds).await,
            Command::CryptoLimit { .. } => Ok(()),
        }
    })
}

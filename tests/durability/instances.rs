//! Two release binaries on one PostgreSQL database and one Redis, behind Debian's NGINX with
//! both as upstreams, rendered from nginx/templates/ (issue 16): the sign-in limit counted
//! once across both, a session and its sign-out across them, a write through one read
//! through the other, concurrent writers on both with `audit verify` clean afterwards, and
//! one instance killed with SIGKILL mid-traffic with nothing acknowledged lost.
//!
//! Needs `CV_TEST_POSTGRES` (deploy/postgres.sh), `redis-server` and `nginx` (Debian's).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode, redirect::Policy};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::net::csrf_in;
use crate::server::{Server, cli_with, free_port};

const PASSWORD: &str = "instances-Long-passphrase";

/// A child process stopped when dropped: SIGTERM first (NGINX's master then stops its
/// workers; a SIGKILL would leave them running), SIGKILL after 5 s.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn fresh_database(server: &str) -> String {
    sqlx::any::install_default_drivers();
    let name = format!("cv_instances_{}", std::process::id());
    let mut admin = sqlx::AnyConnection::connect(server)
        .await
        .expect("CV_TEST_POSTGRES answers");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .await
        .expect("old test database dropped");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("test database created");
    let (base, _) = server.rsplit_once('/').expect("URL ends in /database");
    format!("{base}/{name}")
}

fn redis(port: u16, dir: &Path) -> Daemon {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server runs (Debian's redis-server package)");
    Daemon(child)
}

/// NGINX with the project's template, both instances as upstreams, TLS on `https_port`.
fn nginx(dir: &Path, upstreams: &[u16], http_port: u16, https_port: u16) -> Daemon {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    std::fs::write(dir.join("cert.pem"), cert.cert.pem()).expect("cert written");
    std::fs::write(dir.join("key.pem"), cert.signing_key.serialize_pem()).expect("key written");
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("nginx/templates/contact-vault.conf.template"),
    )
    .expect("template");
    // What nginx/upstreams.envsh makes of APP_UPSTREAM="127.0.0.1:A 127.0.0.1:B".
    let servers: Vec<String> = upstreams
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;"))
        .collect();
    let mut conf = template
        .replace("${APP_UPSTREAM_SERVERS}", &servers.join(" "))
        .replace("${SERVER_NAME}", "localhost")
        .replace("${TLS_CERT}", &dir.join("cert.pem").display().to_string())
        .replace("${TLS_KEY}", &dir.join("key.pem").display().to_string())
        .replace("${HTTP_PORT}", &http_port.to_string())
        .replace("${HTTPS_PORT}", &https_port.to_string())
        .replace("root /var/www/acme;", &format!("root {};", dir.display()));
    assert!(
        !conf.contains("${"),
        "every variable of the template rendered"
    );
    // Debian 12's NGINX is 1.22: no `http2 on;`, the older `listen … ssl http2` instead.
    conf = conf
        .lines()
        .filter(|l| l.trim() != "http2 on;")
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with(&format!("listen {https_port} ssl")) && !t.contains("http2") {
                l.replacen(" ssl", " ssl http2", 1)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(dir.join("contact-vault.conf"), conf).expect("site written");
    let d = dir.display();
    let main = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log {d}/nginx-access.log;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
         scgi_temp_path {d}/scgi;\n  include {d}/contact-vault.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), main).expect("nginx.conf written");
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|n| Command::new(n).arg("-v").output().is_ok())
        .expect("nginx (Debian's package)");
    let child = Command::new(nginx)
        .args(["-g", "daemon off;", "-p"])
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx starts");
    Daemon(child)
}

/// A client of the front (https://localhost:PORT) from its own loopback address.
fn front_client(https_port: u16, from: std::net::Ipv4Addr, cookies: bool) -> Client {
    Client::builder()
        .redirect(Policy::none())
        .cookie_store(cookies)
        .danger_accept_invalid_certs(true)
        .resolve("localhost", ([127, 0, 0, 1], https_port).into())
        .local_address(std::net::IpAddr::V4(from))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

async fn api_token(client: &Client, base: &str, user: &str) -> String {
    let res = client
        .post(format!("{base}/api/login"))
        .json(&json!({ "username": user, "password": PASSWORD }))
        .send()
        .await
        .expect("login answers");
    assert_eq!(res.status(), 200, "API sign-in of {user}");
    let body: Value = res.json().await.expect("json");
    body["token"].as_str().expect("token").to_string()
}

async fn add_contact(
    client: &Client,
    base: &str,
    token: &str,
    name: &str,
) -> reqwest::Result<StatusCode> {
    Ok(client
        .post(format!("{base}/api/contacts"))
        .bearer_auth(token)
        .json(&json!({ "name": name, "phone": format!("+1 555 01{:05}", name.len() * 7919 % 100_000) }))
        .send()
        .await?
        .status())
}

async fn names(client: &Client, base: &str, token: &str) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for page in 1.. {
        let res = client
            .get(format!("{base}/api/contacts?per_page=100&page={page}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("list answers");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.expect("json");
        let list = body["contacts"].as_array().cloned().unwrap_or_default();
        if list.is_empty() {
            break;
        }
        for c in list {
            all.insert(c["name"].as_str().unwrap_or_default().to_string());
        }
    }
    all
}

#[tokio::test]
#[ignore = "needs CV_TEST_POSTGRES, redis-server and nginx"]
async fn two_instances_behind_nginx_on_postgres_and_redis() {
    let server = std::env::var("CV_TEST_POSTGRES").expect("CV_TEST_POSTGRES (deploy/postgres.sh)");
    let database = fresh_database(&server).await;
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let front = tmp.path().join("nginx");
    std::fs::create_dir(&front).expect("nginx dir");
    let redis_port = free_port();
    let _redis = redis(redis_port, tmp.path());
    let redis_url = format!("redis://127.0.0.1:{redis_port}/");
    let (http_port, https_port) = (free_port(), free_port());
    let public_url = format!("https://localhost:{https_port}");
    let env: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", &database),
        ("REDIS_URL", &redis_url),
        ("TRUSTED_PROXIES", "127.0.0.1/32"),
        ("PUBLIC_URL", &public_url),
    ];

    // The first instance makes the keys and the tables; the second shares both.
    let (port_a, port_b) = (free_port(), free_port());
    let a = Server::start_with(&data, port_a, &env)
        .await
        .expect("A starts");
    let b = Server::start_with(&data, port_b, &env)
        .await
        .expect("B starts");
    for user in ["ann", "writer"] {
        let out = cli_with(
            &data,
            &["user", "add", user, "--role", "user", "--password-stdin"],
            &format!("{PASSWORD}\n"),
            &env,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _nginx = nginx(&front, &[port_a, port_b], http_port, https_port);
    let base = public_url.clone();
    let probe = front_client(https_port, [127, 3, 0, 1].into(), false);
    let started = Instant::now();
    while probe.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "NGINX answers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 1. The sign-in limit (5 at once per address) is counted once across both: attempts
    //    from one address through the front and straight to A and to B share one budget.
    let from: std::net::Ipv4Addr = [127, 3, 0, 2].into();
    let client = front_client(https_port, from, false);
    let mut statuses = Vec::new();
    for i in 0..8 {
        let target = [base.clone(), a.base(), b.base()][i % 3].clone();
        let res = client
            .post(format!("{target}/api/login"))
            .json(&json!({ "username": format!("ghost{i}"), "password": "wrong-password-1" }))
            .send()
            .await
            .expect("an answer");
        statuses.push(res.status().as_u16());
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429, 429, 429],
        "one budget for the front, A and B"
    );

    // 2. A web session made through the front works on A and on B directly, and a sign-out
    //    through the front ends it on both at once.
    let browser = front_client(https_port, [127, 3, 0, 3].into(), true);
    let page = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page");
    let csrf = csrf_in(&page.text().await.expect("html")).expect("csrf token");
    let res = browser
        .post(format!("{base}/login"))
        .form(&[
            ("username", "ann"),
            ("password", PASSWORD),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .expect("sign-in");
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ");
    assert!(!cookie.is_empty(), "a session cookie");
    let direct = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let contacts_on = |s: &Server| {
        direct
            .get(format!("{}/contacts", s.base()))
            .header("cookie", cookie.clone())
            .send()
    };
    assert_eq!(
        contacts_on(&a).await.expect("A").status(),
        200,
        "the session on A"
    );
    assert_eq!(
        contacts_on(&b).await.expect("B").status(),
        200,
        "the session on B"
    );
    let page = browser
        .get(format!("{base}/contacts"))
        .send()
        .await
        .expect("contacts");
    let csrf = csrf_in(&page.text().await.expect("html")).expect("csrf token");
    let res = browser
        .post(format!("{base}/logout"))
        .form(&[("csrf_token", &csrf)])
        .send()
        .await
        .expect("sign-out");
    assert_eq!(res.status(), 303);
    assert_eq!(
        contacts_on(&a).await.expect("A").status(),
        303,
        "signed out on A"
    );
    assert_eq!(
        contacts_on(&b).await.expect("B").status(),
        303,
        "signed out on B"
    );

    // 3. A write through A is in the next read through B.
    let token = api_token(&direct, &a.base(), "ann").await;
    assert_eq!(
        add_contact(&direct, &a.base(), &token, "Written On A")
            .await
            .expect("A"),
        201
    );
    assert!(
        names(&direct, &b.base(), &token)
            .await
            .contains("Written On A")
    );

    // 4. Concurrent writers on both, then one instance killed with SIGKILL mid-traffic: every
    //    contact acknowledged (201) is stored, through whichever instance is left.
    let writer = api_token(&direct, &b.base(), "writer").await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let failed = Arc::new(Mutex::new(0u32));
    let stop_at = Instant::now() + Duration::from_secs(6);
    let mut tasks = Vec::new();
    for w in 0..8u8 {
        let (acknowledged, failed, writer) = (acknowledged.clone(), failed.clone(), writer.clone());
        let (base, a_base, b_base) = (base.clone(), a.base(), b.base());
        let client = front_client(https_port, [127, 3, 1, w + 1].into(), false);
        tasks.push(tokio::spawn(async move {
            let mut n = 0u32;
            while Instant::now() < stop_at {
                n += 1;
                let name = format!("Writer {w} Contact {n}");
                // Half through the front, a quarter straight to each instance.
                let target = match n % 4 {
                    0 | 1 => &base,
                    2 => &a_base,
                    _ => &b_base,
                };
                match add_contact(&client, target, &writer, &name).await {
                    Ok(s) if s == StatusCode::CREATED => {
                        acknowledged.lock().expect("lock").push(name)
                    }
                    Ok(s) if s.is_server_error() && target == &base => {
                        *failed.lock().expect("lock") += 1
                    }
                    Ok(s) => panic!("{name} through {target}: {s}"),
                    // The killed instance refuses connections; NGINX's answer is a status.
                    Err(_) if target == &a_base => {}
                    Err(e) => panic!("{name} through {target}: {e}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    a.kill();
    for t in tasks {
        t.await.expect("writer task");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    let failed = *failed.lock().expect("lock");
    eprintln!(
        "{} contacts acknowledged, {failed} refused by the front around the kill",
        acknowledged.len()
    );
    assert!(acknowledged.len() > 50, "the writers got through");
    let stored = names(&direct, &b.base(), &writer).await;
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|n| !stored.contains(*n))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    // Through the front, B alone answers now.
    assert_eq!(
        add_contact(&probe, &base, &writer, "After The Kill")
            .await
            .expect("front"),
        201
    );

    // 5. One audit chain for both writers, unbroken.
    let out = cli_with(&data, &["audit", "verify"], "", &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("ok"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    b.stop();
}

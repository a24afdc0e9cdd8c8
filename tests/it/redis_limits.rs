//! Rate limits shared through Redis (issue 16): two instances of the app on one database and
//! one `REDIS_URL` allow together what one allows alone, for the per-address limits (sign-in,
//! the public form, the CAPTCHA) and the per-user API limit. With Redis stopped mid-run both
//! keep answering, never with a 5xx, and each keeps every limit, counted by itself; once Redis
//! is back they share again.
//!
//! They need `redis-server` (Debian's package) and start their own on a free loopback port,
//! with nothing saved. `#[ignore]`d so that a plain `cargo test` needs no Redis; `.ci/run`
//! runs them: `cargo test --test it redis_limits -- --ignored`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use secrecy::SecretString;
use serde_json::json;

use contact_vault::startup::SIGN_IN_BURST;

use crate::helpers::{TestApp, browser_from, next_address, spawn_app_beside, spawn_app_with};

struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    async fn start(port: u16) -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if server.connection().await.is_some() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn url(&self) -> SecretString {
        SecretString::from(format!("redis://127.0.0.1:{}/", self.port))
    }

    async fn connection(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await.ok()?;
        (pong == "PONG").then_some(conn)
    }

    async fn keys(&self) -> Vec<String> {
        let mut conn = self.connection().await.expect("Redis answers");
        redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut conn)
            .await
            .expect("KEYS")
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Two instances on one data directory, both counting in `redis`.
async fn two_instances(
    redis: &RedisServer,
    configure: fn(&mut contact_vault::config::Settings),
) -> (TestApp, TestApp) {
    let url = redis.url();
    let first_url = url.clone();
    let a = spawn_app_with(move |s| {
        s.redis_url = Some(first_url);
        configure(s);
    })
    .await;
    let b = spawn_app_beside(&a, move |s| {
        s.redis_url = Some(url);
        configure(s);
    })
    .await;
    (a, b)
}

/// A failed sign-in through the API of `app` (a new unknown name each time, so that the
/// per-account lock stays out of the way).
async fn sign_in(client: &Client, app: &TestApp) -> StatusCode {
    let name = format!("ghost-{}", vault_core::crypto::token::new_id());
    client
        .post(app.url("/api/login"))
        .json(&json!({"username": name, "password": "wrong-password"}))
        .send()
        .await
        .expect("an answer")
        .status()
}

/// The first and second instance in turn.
fn turn<'a>(i: u32, a: &'a TestApp, b: &'a TestApp) -> &'a TestApp {
    if i.is_multiple_of(2) { a } else { b }
}

#[tokio::test]
#[ignore = "needs redis-server; .ci/run runs it"]
async fn two_instances_draw_on_one_sign_in_budget() {
    let redis = RedisServer::start(free_port()).await;
    let (a, b) = two_instances(&redis, |_| {}).await;
    let client = browser_from(next_address());
    for i in 0..SIGN_IN_BURST {
        assert_eq!(sign_in(&client, turn(i, &a, &b)).await, 401, "attempt {i}");
    }
    assert_eq!(sign_in(&client, &a).await, 429, "the budget is spent on A");
    assert_eq!(sign_in(&client, &b).await, 429, "and on B");
    // Another address has its own budget.
    assert_eq!(sign_in(&browser_from(next_address()), &b).await, 401);
    // What Redis holds names the limit, not the client.
    let keys = redis.keys().await;
    assert!(
        keys.iter()
            .any(|k| k.starts_with("contact-vault:limit:sign-in:")),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| !k.contains("127.")), "{keys:?}");
}

#[tokio::test]
#[ignore = "needs redis-server; .ci/run runs it"]
async fn two_instances_share_the_form_and_captcha_limits() {
    let redis = RedisServer::start(free_port()).await;
    let (a, b) = two_instances(&redis, |_| {}).await;
    let client = browser_from(next_address());
    // The public form: 5 posts per address at once, each with the page's CSRF token (the
    // session made on one instance works on the other: it is in the shared database).
    for i in 0..5 {
        let res = turn(i, &a, &b)
            .post_form(&client, "/", "/", &[("name", "x")])
            .await;
        assert_ne!(res.status(), 429, "post {i}");
        assert!(res.status().as_u16() < 500, "post {i}: {}", res.status());
    }
    for app in [&a, &b] {
        let res = app.post_form(&client, "/", "/", &[("name", "x")]).await;
        assert_eq!(res.status(), 429);
    }
    // The CAPTCHA image: 10 at once.
    for i in 0..10 {
        let res = client.get(turn(i, &a, &b).url("/captcha")).send().await;
        assert_ne!(res.expect("an answer").status(), 429, "image {i}");
    }
    let res = client.get(a.url("/captcha")).send().await;
    assert_eq!(res.expect("an answer").status(), 429);
}

#[tokio::test]
#[ignore = "needs redis-server; .ci/run runs it"]
async fn two_instances_share_a_users_api_budget() {
    let redis = RedisServer::start(free_port()).await;
    // One call a second, in bursts of five.
    let (a, b) = two_instances(&redis, |s| s.api_rate_per_second = 1).await;
    let user = a.create_user("shared", "user").await;
    let token = a.api_token(&user).await;
    for i in 0..5 {
        let res = turn(i, &a, &b)
            .api(reqwest::Method::GET, "/api/contacts", &token, None)
            .await;
        assert_eq!(res.status(), 200, "call {i}, a token made on A works on B");
    }
    for app in [&a, &b] {
        let res = app
            .api(reqwest::Method::GET, "/api/contacts", &token, None)
            .await;
        assert_eq!(res.status(), 429);
        assert!(res.headers().contains_key("retry-after"));
    }
    assert!(
        redis
            .keys()
            .await
            .iter()
            .any(|k| k.starts_with("contact-vault:limit:api:"))
    );
}

#[tokio::test]
#[ignore = "needs redis-server; .ci/run runs it"]
async fn with_redis_stopped_each_instance_keeps_every_limit_and_answers() {
    let port = free_port();
    let redis = RedisServer::start(port).await;
    let (a, b) = two_instances(&redis, |_| {}).await;
    let shared = |app: &TestApp| {
        app.state
            .redis
            .as_ref()
            .expect("REDIS_URL is set")
            .answered_last()
    };
    assert_eq!(sign_in(&browser_from(next_address()), &a).await, 401);
    redis.stop();

    // Redis is gone: each instance counts the sign-in budget itself, a whole one each.
    let client = browser_from(next_address());
    for app in [&a, &b] {
        for i in 0..SIGN_IN_BURST {
            assert_eq!(sign_in(&client, app).await, 401, "attempt {i}");
        }
        assert_eq!(sign_in(&client, app).await, 429, "its own budget is spent");
        assert!(!shared(app));
        let health = client.get(app.url("/healthz")).send().await;
        assert_eq!(health.expect("an answer").status(), 200);
        let page = browser_from(next_address()).get(app.url("/")).send().await;
        assert_eq!(page.expect("an answer").status(), 200);
    }

    // Redis is back (empty, on the same port): once each instance has asked it again, they
    // share once more.
    let redis = RedisServer::start(port).await;
    for _ in 0..100 {
        let probe = browser_from(next_address());
        sign_in(&probe, &a).await;
        sign_in(&probe, &b).await;
        if shared(&a) && shared(&b) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(shared(&a) && shared(&b), "both instances use Redis again");
    let client = browser_from(next_address());
    for i in 0..SIGN_IN_BURST {
        assert_eq!(sign_in(&client, turn(i, &a, &b)).await, 401, "attempt {i}");
    }
    assert_eq!(sign_in(&client, &b).await, 429);
    assert!(!redis.keys().await.is_empty());
}

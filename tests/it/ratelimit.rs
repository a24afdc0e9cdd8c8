//! The per-address sign-in budget: 5 at once, one more every 12 s, so never more than 10 in a
//! minute, shared by the page and the API. Each attempt uses its own unknown name so that the
//! per-account lock (tests/it/lockout.rs) stays out of the way.

use reqwest::StatusCode;
use serde_json::json;

use contact_vault::startup::{SIGN_IN_BURST, SIGN_IN_EVERY};

use crate::helpers::{TestApp, browser_from, csrf_in, next_address, spawn_app, spawn_app_with};

/// Sign-in attempts from 127.0.0.1 (the default peer of a plain client).
async fn api_login_as(app: &TestApp, forwarded_for: Option<&str>, name: &str) -> StatusCode {
    api_login_from(&reqwest::Client::new(), app, forwarded_for, name).await
}

async fn api_login_from(
    client: &reqwest::Client,
    app: &TestApp,
    forwarded_for: Option<&str>,
    name: &str,
) -> StatusCode {
    let mut req = client
        .post(app.url("/api/login"))
        .json(&json!({"username": name, "password": "wrong-password"}));
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.unwrap().status()
}

#[tokio::test]
async fn api_login_allows_the_burst_then_429_with_retry_after() {
    let app = spawn_app().await;
    for i in 0..SIGN_IN_BURST {
        assert_eq!(api_login_as(&app, None, &format!("ghost{i}")).await, 401);
    }
    let res = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({"username": "ghost-last", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=SIGN_IN_EVERY.as_secs()).contains(&retry));
    assert!(res.json::<serde_json::Value>().await.unwrap()["error"].is_string());
}

/// API.md: "10 attempts per minute per client IP". Over a minute of the app's real limiter
/// the budget lets through the burst and one more per period: 5 + 5 = 10 at most.
#[test]
fn the_budget_never_allows_more_than_ten_a_minute() {
    let per_minute = SIGN_IN_BURST as u64 + 60 / SIGN_IN_EVERY.as_secs();
    assert!(per_minute <= 10, "{per_minute} a minute");
}

#[tokio::test]
async fn the_page_and_the_api_draw_on_one_budget() {
    let app = spawn_app().await;
    let address = next_address();
    let client = browser_from(address);
    let api = reqwest::Client::builder()
        .local_address(address)
        .build()
        .unwrap();
    let token = csrf_in(&app.get_html(&client, "/login").await);
    for i in 0..SIGN_IN_BURST - 2 {
        let name = format!("web{i}");
        let form = [
            ("username", name.as_str()),
            ("password", "wrong-password"),
            ("csrf_token", token.as_str()),
        ];
        let res = client
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    assert_eq!(api_login_from(&api, &app, None, "api0").await, 401);
    assert_eq!(api_login_from(&api, &app, None, "api1").await, 401);
    // The budget is spent, by the page and the API together.
    assert_eq!(api_login_from(&api, &app, None, "api2").await, 429);
    let form = [
        ("username", "web-last"),
        ("password", "wrong-password"),
        ("csrf_token", token.as_str()),
    ];
    let res = client
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Too many attempts"));
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit() {
    let app = spawn_app().await;
    for i in 0..SIGN_IN_BURST {
        let xff = format!("203.0.113.{i}");
        assert_eq!(
            api_login_as(&app, Some(&xff), &format!("ghost{i}")).await,
            401
        );
    }
    assert_eq!(
        api_login_as(&app, Some("198.51.100.99"), "ghost-x").await,
        429
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_gets_its_own_bucket() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    for i in 0..SIGN_IN_BURST {
        let name = format!("ghost{i}");
        assert_eq!(api_login_as(&app, Some("203.0.113.7"), &name).await, 401);
    }
    assert_eq!(api_login_as(&app, Some("203.0.113.7"), "g1").await, 429);
    // A client that forges a left-most entry is still known by what the proxy appended.
    assert_eq!(
        api_login_as(&app, Some("198.51.100.1, 203.0.113.7"), "g2").await,
        429
    );
    assert_eq!(
        api_login_as(&app, Some("198.51.100.8"), "g3").await,
        401,
        "another client, another bucket"
    );
}

/// 3,000 cookie-less page loads used to leave 3,000 session rows: a client without a session
/// cookie may start only so many sessions.
#[tokio::test]
async fn cookie_less_page_loads_cannot_fill_the_sessions_table() {
    let app = spawn_app().await;
    let address = next_address();
    let client = browser_from(address);
    assert_eq!(app.get(&client, "/login").await.status(), 200);
    let plain = reqwest::Client::builder()
        .local_address(address)
        .build()
        .unwrap();
    let mut refused = 0;
    for i in 0..80 {
        let path = if i % 2 == 0 { "/" } else { "/login" };
        let res = plain.get(app.url(path)).send().await.unwrap();
        match res.status().as_u16() {
            200 => {}
            429 => {
                assert!(res.headers().contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("GET {path}: {other}"),
        }
    }
    assert!(refused >= 40, "only {refused} of 80 refused");
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(rows <= 36, "{rows} session rows");
    // A browser that has its session goes on as before, from the same address, and so does
    // the health check.
    assert_eq!(app.get(&client, "/").await.status(), 200);
    assert_eq!(app.get(&client, "/login").await.status(), 200);
    assert_eq!(
        plain
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

use serde_json::json;

use crate::helpers::{browser, csrf_in, spawn_app, spawn_app_with};

async fn api_login_as(
    app: &crate::helpers::TestApp,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(app.url("/api/login"))
        .json(&json!({"username": "ghost", "password": "wrong-password"}));
    if let Some(xff) = forwarded_for {
        req = req.header("X-Forwarded-For", xff);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn api_login_allows_ten_a_minute_then_429_with_retry_after() {
    let app = spawn_app().await;
    for _ in 0..10 {
        assert_eq!(api_login_as(&app, None).await.status(), 401);
    }
    let res = api_login_as(&app, None).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert!(res.json::<serde_json::Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn a_forged_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_limit() {
    let app = spawn_app().await;
    for i in 0..10 {
        let res = api_login_as(&app, Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        api_login_as(&app, Some("198.51.100.99")).await.status(),
        429
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_gets_its_own_bucket() {
    let app = spawn_app_with(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    for _ in 0..10 {
        assert_eq!(api_login_as(&app, Some("203.0.113.7")).await.status(), 401);
    }
    assert_eq!(api_login_as(&app, Some("203.0.113.7")).await.status(), 429);
    // A client that forges a left-most entry is still known by what the proxy appended.
    assert_eq!(
        api_login_as(&app, Some("198.51.100.1, 203.0.113.7"))
            .await
            .status(),
        429
    );
    assert_eq!(
        api_login_as(&app, Some("198.51.100.8")).await.status(),
        401,
        "another client, another bucket"
    );
}

#[tokio::test]
async fn the_login_page_is_limited_too() {
    let app = spawn_app().await;
    let client = browser();
    let token = csrf_in(&app.get_html(&client, "/login").await);
    let form = [
        ("username", "ghost"),
        ("password", "wrong-password"),
        ("csrf_token", token.as_str()),
    ];
    for _ in 0..10 {
        let res = client
            .post(app.url("/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
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

use crate::helpers::{browser, spawn_app, spawn_app_with};

#[tokio::test]
async fn health_check_answers_ok() {
    let app = spawn_app().await;
    let res = app.get(&browser(), "/healthz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/login", "/nowhere", "/api/nowhere", "/healthz"] {
        let res = app.get(&browser(), path).await;
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for directive in [
            "script-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "same-origin");
        assert!(h.contains_key("permissions-policy"));
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert!(h.contains_key("x-request-id"));
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS over plain http"
        );
    }
}

#[tokio::test]
async fn static_files_are_cacheable_and_hashed() {
    let app = spawn_app().await;
    let html = app.get_html(&browser(), "/login").await;
    let start = html.find("/static/app.css?v=").expect("hashed css link");
    let href = &html[start..start + html[start..].find('"').unwrap()];
    let res = app.get(&browser(), href).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(
        app.get(&browser(), "/static/../Cargo.toml").await.status(),
        404
    );
}

#[tokio::test]
async fn https_public_url_turns_on_hsts_and_host_cookies() {
    let app = spawn_app_with(|s| s.public_url = Some("https://contacts.example.org".into())).await;
    let res = app.get(&browser(), "/login").await;
    let hsts = res.headers()["strict-transport-security"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(hsts.contains("max-age=63072000"), "{hsts}");
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Host-cv_session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        cookie.contains("Path=/") && !cookie.contains("Domain="),
        "{cookie}"
    );
}

#[tokio::test]
async fn unknown_paths_get_a_styled_page_or_json() {
    let app = spawn_app().await;
    let res = app.get(&browser(), "/no/such/page").await;
    assert_eq!(res.status(), 404);
    let body = res.text().await.unwrap();
    assert!(body.contains("<html") && body.contains("Page not found"));

    let res = app.get(&browser(), "/api/no-such-endpoint").await;
    assert_eq!(res.status(), 404);
    let json: serde_json::Value = res.json().await.unwrap();
    assert!(json["error"].is_string());
}

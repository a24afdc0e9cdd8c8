//! Oversized and malformed input: bodies over the caps, invalid UTF-8, deeply nested JSON,
//! header floods, a 100 KB name, NUL bytes. Each gets a clear 4xx (JSON `{"error"}` on the
//! API, a page elsewhere), never a 5xx, and nothing is stored.

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, browser, csrf_in, spawn_app};
use crate::public_form::{self, PHONE};

async fn contacts_stored(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .expect("count")
}

/// A 4xx with a JSON `{"error": "..."}` body.
async fn assert_json_error(res: Response, status: u16, what: &str) {
    assert_eq!(res.status(), status, "{what}");
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "{what}: {content_type}"
    );
    let body: Value = res.json().await.expect("json error body");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {body}");
}

async fn post_raw_json(app: &TestApp, token: &str, body: Vec<u8>) -> Response {
    Client::new()
        .post(app.url("/api/contacts"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn user_token(app: &TestApp) -> String {
    let user = app.create_user("mallory", "user").await;
    app.api_token(&user).await
}

#[tokio::test]
async fn the_api_refuses_oversized_malformed_and_nested_bodies_and_stores_nothing() {
    let app = spawn_app().await;
    let token = user_token(&app).await;

    let huge_name = json!({"name": "a".repeat(100 * 1024), "phone": "5550100123"});
    let res = post_raw_json(&app, &token, huge_name.to_string().into_bytes()).await;
    assert_json_error(res, 413, "100 KB name").await;

    // Under the body cap but over the field's: a field message, not a 413.
    let long_name = json!({"name": "a".repeat(30 * 1024), "phone": "5550100123"});
    let res = post_raw_json(&app, &token, long_name.to_string().into_bytes()).await;
    assert_json_error(res, 400, "30 KB name").await;

    let mut invalid_utf8 = br#"{"name": "Ann "#.to_vec();
    invalid_utf8.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    invalid_utf8.extend_from_slice(br#"", "phone": "5550100123"}"#);
    assert_json_error(
        post_raw_json(&app, &token, invalid_utf8).await,
        400,
        "invalid UTF-8",
    )
    .await;

    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_json_error(
        post_raw_json(&app, &token, nested.into_bytes()).await,
        413,
        "200 KB of nesting",
    )
    .await;
    let nested = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    assert_json_error(
        post_raw_json(&app, &token, nested.into_bytes()).await,
        400,
        "20,000 levels of nesting under the cap",
    )
    .await;
    let nested_object = format!(
        r#"{{"name": "Ann", "phone": "5550100123", "notes": {}1{}}}"#,
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert_json_error(
        post_raw_json(&app, &token, nested_object.into_bytes()).await,
        400,
        "a nested value in a field",
    )
    .await;

    for (name, what) in [
        ("Ann\u{0}Smith", "NUL in the name"),
        ("Ann\u{7}", "BEL in the name"),
    ] {
        let res = app
            .api(
                Method::POST,
                "/api/contacts",
                &token,
                Some(json!({"name": name, "phone": "5550100123"})),
            )
            .await;
        assert_json_error(res, 400, what).await;
    }
    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({"name": "Ann", "phone": "555\u{0}0100123", "tags": ["a\u{0}b"]})),
        )
        .await;
    assert_json_error(res, 400, "NUL in the phone and a tag").await;

    let res = Client::new()
        .post(app.url("/api/contacts"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(r#"{"name": "Ann", "phone": "5550100123"}"#)
        .send()
        .await
        .expect("request");
    assert_json_error(res, 400, "wrong content type").await;

    assert_eq!(contacts_stored(&app).await, 0);
}

#[tokio::test]
async fn the_api_refuses_malformed_queries_paths_and_logins() {
    let app = spawn_app().await;
    let token = user_token(&app).await;
    for query in [
        "?q=%FF%FE",
        "?tag=a%00b",
        "?page=-1",
        "?page=99999999999999999999999",
        "?sort=name%00",
        "?order=up",
    ] {
        let res = app
            .api(Method::GET, &format!("/api/contacts{query}"), &token, None)
            .await;
        assert_json_error(res, 400, query).await;
    }
    let res = app
        .api(Method::GET, "/api/contacts/%FF%00", &token, None)
        .await;
    assert_json_error(res, 404, "invalid UTF-8 in an id").await;

    for body in [
        json!({"username": "mallory\u{0}", "password": "whatever-password"}),
        json!({"username": "m".repeat(10_000), "password": "p".repeat(10_000)}),
        json!({"username": ["mallory"], "password": {"x": 1}}),
    ] {
        let res = app.api_login_raw(body.clone()).await;
        let status = res.status().as_u16();
        assert!(matches!(status, 400 | 401), "{status} for {body}");
        assert_json_error(res, status, "a malformed login").await;
    }
}

#[tokio::test]
async fn pages_refuse_oversized_and_malformed_forms_and_store_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("mallory", "user").await;
    let client = browser();
    app.login_web(&client, &user).await;
    let token = csrf_in(&app.get_html(&client, "/contacts/new").await);

    let huge = "a".repeat(100 * 1024);
    let res = client
        .post(app.url("/contacts/new"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", huge.as_str()),
            ("phone", "5550100123"),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 413, "100 KB name on the contact form");
    assert!(res.text().await.expect("body").contains("<html"));

    // Percent-encoded invalid UTF-8 and a NUL byte: a 400 page or the form with a message.
    for body in [
        format!("csrf_token={token}&name=Ann%FF%FE&phone=5550100123"),
        format!("csrf_token={token}&name=Ann%00Smith&phone=5550100123"),
    ] {
        let res = client
            .post(app.url("/contacts/new"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        assert!(matches!(status, 400 | 422), "{status} for {body}");
    }
    let res = client
        .post(app.url("/contacts/new"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body([b"csrf_token=x&name=Ann".as_slice(), &[0xff, 0xfe]].concat())
        .send()
        .await
        .expect("request");
    let status = res.status();
    assert!(
        status.is_client_error(),
        "raw invalid UTF-8: {status} {}",
        res.text().await.unwrap_or_default()
    );

    let res = app
        .get(&client, "/contacts?q=%FF%FE&page=-4&sort=%00")
        .await;
    assert_eq!(res.status(), 400, "a list query that cannot be read");

    assert_eq!(contacts_stored(&app).await, 0);
}

#[tokio::test]
async fn the_public_form_refuses_a_100_kb_name_and_nul_bytes() {
    let app = spawn_app().await;
    let client = browser();
    let huge = "a".repeat(100 * 1024);
    let res = public_form::send_form(
        &app,
        &client,
        &public_form::fields(&huge, "ann@example.com", PHONE),
        None,
    )
    .await;
    assert_eq!(res.status(), 413);

    let client = browser();
    let res = public_form::send_form(
        &app,
        &client,
        &public_form::fields("Ann\u{0}Smith", "ann\u{0}@example.com", PHONE),
        None,
    )
    .await;
    assert_eq!(res.status(), 400, "the form re-renders with messages");
    let html = res.text().await.expect("body");
    assert!(html.contains("aria-describedby"), "field messages shown");
    assert_eq!(public_form::stored(&app).await, 0);
}

/// Sends raw bytes and returns the status line's code, or `None` when the server closed the
/// connection without an answer.
async fn raw_status(app: &TestApp, request: &[u8]) -> Option<u16> {
    let address = app.address.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).await.expect("connect");
    // The server may stop reading and answer early: a failed write is fine.
    let _ = stream.write_all(request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers or closes within 10 s");
    let text = String::from_utf8_lossy(&answer);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
}

#[tokio::test]
async fn header_floods_and_broken_requests_get_4xx_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let mut flood = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        flood.push_str(&format!("X-Flood-{i}: {}\r\n", "v".repeat(20)));
    }
    flood.push_str("Connection: close\r\n\r\n");
    let huge_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {}\r\nConnection: close\r\n\r\n",
        "c".repeat(256 * 1024)
    );
    let lying_length = "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                        Content-Length: 99999999999\r\nConnection: close\r\n\r\n{}";
    let garbage = "\u{0}\u{1}GARBAGE / HTTP/9.9\r\n\r\n";
    let bad_utf8_path = b"GET /contacts/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    for (request, what) in [
        (flood.as_bytes(), "500 headers"),
        (huge_header.as_bytes(), "a 256 KB header"),
        (lying_length.as_bytes(), "a Content-Length of 100 GB"),
        (garbage.as_bytes(), "garbage"),
        (bad_utf8_path.as_slice(), "invalid UTF-8 in the path"),
    ] {
        if let Some(status) = raw_status(&app, request).await {
            assert!((400..500).contains(&status), "{what}: {status}");
        }
    }

    let res = Client::new()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("still serving");
    assert_eq!(res.status(), 200);
}

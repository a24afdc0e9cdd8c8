use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn login_returns_a_token_with_its_lifetime() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let res = app
        .api_login_raw(json!({"username": "bob", "password": bob.password}))
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["username"], "bob");
    assert_eq!(body["role"], "user");
    assert_eq!(body["expires"], 3600);
    let token = body["token"].as_str().unwrap();
    assert!(token.len() >= 43);
    let expires_at = body["expires_at"].as_str().unwrap();
    assert!(
        expires_at.ends_with('Z') && expires_at.contains('T'),
        "{expires_at}"
    );

    // Stored only as a hash.
    let stored: String = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_ne!(stored, token);
    assert_eq!(stored, contact_vault::crypto::token::sha256_hex(token));
}

#[tokio::test]
async fn bad_credentials_are_the_same_for_unknown_users() {
    let app = spawn_app().await;
    app.create_user("bob", "user").await;
    for body in [
        json!({"username": "bob", "password": "wrong-password"}),
        json!({"username": "ghost", "password": "wrong-password"}),
    ] {
        let res = app.api_login_raw(body).await;
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body, json!({"error": "invalid credentials"}));
    }
}

#[tokio::test]
async fn malformed_bodies_get_json_errors() {
    let app = spawn_app().await;
    let res = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["error"].is_string());
    let res = reqwest::Client::new()
        .post(app.url("/api/login"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"username\":\"{}\",\"password\":\"x\"}}",
            "a".repeat(100_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn totp_users_need_a_fresh_code() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let secret = alice.secret.clone().unwrap();
    let base = json!({"username": "alice", "password": alice.password});

    let res = app.api_login_raw(base.clone()).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "otp_required");

    let mut wrong = base.clone();
    wrong["otp"] = json!("000000");
    let res = app.api_login_raw(wrong).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid otp");

    let mut good = base.clone();
    good["otp"] = json!(app.next_code(&secret));
    let res = app.api_login_raw(good.clone()).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["role"], "admin");

    let res = app.api_login_raw(good).await;
    assert_eq!(res.status(), 401, "replayed code");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid otp");
}

#[tokio::test]
async fn an_admin_created_over_the_api_must_enrol_first() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let token = app.api_token(&alice).await;
    let res = app
        .api(
            Method::POST,
            "/api/admin/users",
            &token,
            Some(json!({"username": "dave", "password": "dave-Long-password", "role": "admin"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .api_login_raw(json!({"username": "dave", "password": "dave-Long-password"}))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "totp_enrollment_required"
    );
}

#[tokio::test]
async fn logout_revokes_the_token_at_once() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let token = app.api_token(&bob).await;
    assert_eq!(
        app.api(Method::GET, "/api/audit", &token, None)
            .await
            .status(),
        200
    );
    let res = app.api(Method::POST, "/api/logout", &token, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"ok": true}));
    let res = app.api(Method::GET, "/api/audit", &token, None).await;
    assert_eq!(res.status(), 401);
    assert!(res.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn missing_malformed_and_expired_tokens_are_401() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let res = reqwest::Client::new()
        .get(app.url("/api/audit"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = reqwest::Client::new()
        .get(app.url("/api/audit"))
        .header("Authorization", "Basic Ym9iOng=")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.api(Method::GET, "/api/audit", "made-up", None)
            .await
            .status(),
        401
    );
    let token = app.api_token(&bob).await;
    app.clock.advance(3601);
    assert_eq!(
        app.api(Method::GET, "/api/audit", &token, None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn change_password_over_the_api() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let token = app.api_token(&bob).await;
    let other = app.api_token(&bob).await;

    let res = app
        .api(
            Method::POST,
            "/api/change-password",
            &token,
            Some(json!({"old_password": "wrong-one-here", "new_password": "a-New-passphrase"})),
        )
        .await;
    assert_eq!(res.status(), 401);

    let res = app
        .api(
            Method::POST,
            "/api/change-password",
            &token,
            Some(json!({"old_password": bob.password, "new_password": "short"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["fields"]["new_password"].is_string(), "{body}");

    let res = app
        .api(
            Method::POST,
            "/api/change-password",
            &token,
            Some(json!({"old_password": bob.password, "new_password": "a-New-passphrase"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.api(Method::GET, "/api/audit", &token, None)
            .await
            .status(),
        200,
        "the caller's token lives"
    );
    assert_eq!(
        app.api(Method::GET, "/api/audit", &other, None)
            .await
            .status(),
        401,
        "other tokens die"
    );
    let res = app
        .api_login_raw(json!({"username": "bob", "password": "a-New-passphrase"}))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn users_read_only_their_own_audit_events_and_admins_read_all() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let bob = app.create_user("bob", "user").await;
    let carol = app.create_user("carol", "user").await;
    let bob_token = app.api_token(&bob).await;
    let _ = app.api_token(&carol).await;
    let admin_token = app.api_token(&alice).await;

    let res = app
        .api(Method::GET, "/api/audit?per_page=500", &bob_token, None)
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["per_page"], 200);
    let events = body["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["username"] == "bob"), "{events:?}");

    let body: Value = app
        .api(Method::GET, "/api/audit", &admin_token, None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["username"].as_str())
        .collect();
    assert!(names.contains(&"carol") && names.contains(&"bob"));
    let ids: Vec<i64> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    let first = &body["events"][0];
    for field in ["id", "timestamp", "username", "action", "detail"] {
        assert!(first.get(field).is_some(), "{field}");
    }

    for bad in ["page=0", "per_page=0", "page=abc"] {
        let res = app
            .api(Method::GET, &format!("/api/audit?{bad}"), &bob_token, None)
            .await;
        assert_eq!(res.status(), 400, "{bad}");
    }
    let body: Value = app
        .api(Method::GET, "/api/audit?page=999", &bob_token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["events"], json!([]));
}

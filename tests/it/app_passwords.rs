//! App passwords (API.md, "App passwords"): made only with the account password, shown once,
//! listed without the password, revocable, scoped to their owner, and never a way into the
//! web pages or the JSON API.

use reqwest::Method;
use serde_json::{Value, json};

use contact_vault::crypto::keys::{KeySources, load_or_generate};

use crate::helpers::{browser, location, spawn_app};

#[tokio::test]
async fn the_api_makes_lists_and_revokes_app_passwords() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;

    let res = app
        .api(
            Method::POST,
            "/api/app-passwords",
            &token,
            Some(json!({"name": "Ann's phone", "current_password": "not the password"})),
        )
        .await;
    assert_eq!(res.status(), 401, "a token alone cannot mint a credential");
    let res = app
        .api(
            Method::POST,
            "/api/app-passwords",
            &token,
            Some(json!({"name": "", "current_password": ann.password})),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.json::<Value>().await.unwrap()["fields"]["name"].is_string());

    let res = app
        .api(
            Method::POST,
            "/api/app-passwords",
            &token,
            Some(json!({"name": "Ann's phone", "current_password": ann.password})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let password = made["password"].as_str().unwrap().to_string();
    assert_eq!(password.len(), 29, "{made}");
    assert_eq!(made["name"], "Ann's phone");
    let id = made["id"].as_str().unwrap().to_string();

    let res = app
        .api(Method::GET, "/api/app-passwords", &token, None)
        .await;
    let listed: Value = res.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["last_used"], Value::Null);
    assert!(!listed.to_string().contains(&password), "never shown again");

    // Not a way into the API or the pages.
    let res = app
        .api_login_raw(json!({"username": "ann", "password": password}))
        .await;
    assert_eq!(res.status(), 401);
    let client = browser();
    let res = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[("username", "ann"), ("password", &password)],
        )
        .await;
    assert_ne!(location(&res), "/contacts");

    // Another user cannot see or revoke it.
    let bob = app.create_user("bob", "user").await;
    let bob_token = app.api_token(&bob).await;
    let res = app
        .api(Method::GET, "/api/app-passwords", &bob_token, None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    let res = app
        .api(
            Method::DELETE,
            &format!("/api/app-passwords/{id}"),
            &bob_token,
            None,
        )
        .await;
    assert_eq!(res.status(), 404);

    let res = app
        .api(
            Method::DELETE,
            &format!("/api/app-passwords/{id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"deleted": id}));
    let res = app
        .api(Method::GET, "/api/app-passwords", &token, None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"APP_PASSWORD_CREATED".to_string()));
    assert!(actions.contains(&"APP_PASSWORD_REVOKED".to_string()));
    assert!(actions.contains(&"REAUTH_FAIL".to_string()));

    // Revoked means the row is gone (the page test checks that the name is sealed).
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, secret_hash FROM app_passwords")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(rows.is_empty(), "revoked means gone");
}

#[tokio::test]
async fn the_account_page_makes_an_app_password_once_and_revokes_it() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let client = browser();
    app.login_web(&client, &ann).await;
    let account = app.get_html(&client, "/account").await;
    assert!(account.contains("/account/app-passwords"));

    let res = app
        .post_form(
            &client,
            "/account/app-passwords",
            "/account/app-passwords",
            &[("name", "Work laptop"), ("current_password", "wrong one")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("The password is wrong."));

    let res = app
        .post_form(
            &client,
            "/account/app-passwords",
            "/account/app-passwords",
            &[("name", "Work laptop"), ("current_password", &ann.password)],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    let start = html.find("id=\"app-password\">").expect("shown") + 18;
    let password = &html[start..start + 29];
    assert_eq!(password.split('-').count(), 6, "{password}");

    let list = app.get_html(&client, "/account/app-passwords").await;
    assert!(list.contains("Work laptop") && !list.contains(password));
    let stored: String = sqlx::query_scalar("SELECT name FROM app_passwords")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!stored.contains("Work laptop"), "the name is sealed");
    let (server_keys, _) =
        load_or_generate(&KeySources::default(), app.dir.path()).expect("keys.env");
    assert!(
        server_keys.cipher.decrypt(&stored).is_err(),
        "under the owner's keys: the server keys do not open the device's name"
    );

    let id: String = sqlx::query_scalar("SELECT id FROM app_passwords")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let res = app
        .post_form(
            &client,
            "/account/app-passwords",
            &format!("/account/app-passwords/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(location(&res), "/account/app-passwords");
    let list = app.get_html(&client, "/account/app-passwords").await;
    assert!(list.contains("was revoked") && !list.contains("Work laptop"));
}

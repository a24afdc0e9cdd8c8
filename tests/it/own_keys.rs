//! Issue 18: a user's book is under keys of their own, which only their password or a live
//! credential of theirs opens. The server's keys (`keys.env`) open none of it.

use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::{Value, json};

use contact_vault::crypto::keys::{KeySources, load_or_generate};

use crate::helpers::{TestApp, browser, csrf_in, holds, location, spawn_app};
use crate::sessions::set_cookie;

const SEALED_COLUMNS: [&str; 8] = [
    "name", "phone", "email", "address", "company", "notes", "tags", "summary",
];

async fn add(app: &TestApp, token: &str, name: &str) {
    let body = json!({
        "name": name,
        "phone": "+44 7700 900123",
        "email": format!("{}@example.org", name.to_lowercase().replace(' ', ".")),
        "notes": "knows where the spare key is",
    });
    let res = app
        .api(Method::POST, "/api/contacts", token, Some(body))
        .await;
    assert!(res.status().is_success(), "{name} added: {}", res.status());
}

async fn names(app: &TestApp, token: &str) -> Vec<String> {
    let res = app.api(Method::GET, "/api/contacts", token, None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let mut names: Vec<String> = body["contacts"]
        .as_array()
        .expect("contacts")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

/// How many stored contact fields the server's own keys (every one in `keys.env`) decrypt.
async fn open_with_server_keys(app: &TestApp) -> usize {
    let (keys, _) = load_or_generate(&KeySources::default(), app.dir.path()).expect("keys.env");
    let mut opened = 0;
    for column in SEALED_COLUMNS {
        let values: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {column} FROM contacts"
        )))
        .fetch_all(&app.db)
        .await
        .expect("column");
        assert!(!values.is_empty(), "contacts are stored");
        opened += values
            .iter()
            .filter(|v| keys.cipher.decrypt(v).is_ok())
            .count();
    }
    opened
}

#[tokio::test]
async fn the_server_keys_open_no_contact_and_the_owners_password_opens_them_all() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;
    add(&app, &token, "Zelda Quartermain").await;
    add(&app, &token, "Yusuf Brightwater").await;

    assert_eq!(
        open_with_server_keys(&app).await,
        0,
        "keys.env opens nothing"
    );
    for (path, bytes) in app.at_rest().await {
        for plain in ["Zelda Quartermain", "Brightwater", "spare key"] {
            assert!(!holds(&bytes, plain.as_bytes()), "{plain:?} in {path}");
        }
    }
    // A new sign-in (the password) opens the whole book again.
    let again = app.api_token(&ann).await;
    assert_eq!(
        names(&app, &again).await,
        ["Yusuf Brightwater", "Zelda Quartermain"]
    );
}

#[tokio::test]
async fn a_session_needs_its_unlock_cookie_and_neither_opens_anything_after_logout() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = plain
        .get(app.url("/login"))
        .send()
        .await
        .expect("login form");
    let anon = set_cookie(&res, "cv_session").expect("a session cookie");
    let csrf = csrf_in(&res.text().await.expect("html"));
    let res = plain
        .post(app.url("/login"))
        .header(COOKIE, &anon)
        .form(&[
            ("username", "bob"),
            ("password", bob.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303);
    let session = set_cookie(&res, "cv_session").expect("session");
    let unlock = set_cookie(&res, "cv_unlock").expect("unlock");
    let get = |cookies: String| {
        plain
            .get(app.url("/contacts"))
            .header(COOKIE, cookies)
            .send()
    };

    // The session cookie alone, or with another secret, does not reach the book.
    let res = get(session.clone()).await.expect("page");
    assert_eq!(location(&res), "/login", "no unlock cookie");
    let forged = format!("{session}; cv_unlock=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_eq!(location(&get(forged).await.expect("page")), "/login");
    let both = format!("{session}; {unlock}");
    let res = get(both.clone()).await.expect("page");
    assert_eq!(res.status(), 200, "the pair opens the book");
    let csrf = csrf_in(&res.text().await.expect("html"));

    let res = plain
        .post(app.url("/logout"))
        .header(COOKIE, &both)
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 303);
    let cleared = set_cookie(&res, "cv_unlock").expect("the unlock cookie is cleared");
    assert_eq!(cleared, "cv_unlock=");
    // The wrap went with the session's row: the secret alone opens nothing now.
    assert_eq!(location(&get(both).await.expect("page")), "/login");
    let wraps: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE state LIKE '%\"kw\"%'")
            .fetch_one(&app.db)
            .await
            .expect("count");
    assert_eq!(wraps, 0, "no session keeps a wrap after logout");
}

#[tokio::test]
async fn a_password_change_rewraps_the_keys_and_keeps_the_book() {
    let app = spawn_app().await;
    let mut cyd = app.create_user("cyd", "user").await;
    let token = app.api_token(&cyd).await;
    add(&app, &token, "Wanda Kestrel").await;
    let client = browser();
    app.login_web(&client, &cyd).await;
    let new_password = "another-Long-passphrase-7";
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/password",
            &[
                ("old_password", &cyd.password),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get(&client, "/contacts").await.status(), 200);
    cyd.password = new_password.into();
    let token = app.api_token(&cyd).await;
    assert_eq!(names(&app, &token).await, ["Wanda Kestrel"]);
    assert_eq!(open_with_server_keys(&app).await, 0);
}

#[tokio::test]
async fn a_book_under_the_server_keys_moves_at_the_next_sign_in_and_old_tokens_go() {
    let app = spawn_app().await;
    let dee = app.create_user("dee", "user").await;
    let old_token = app.api_token(&dee).await;
    let id = app.user_row("dee").await.id;
    // As a database from before users had keys: the book is under the server's keys.
    app.forget_keys(id).await;
    add(&app, &old_token, "Victor Lindqvist").await;
    add(&app, &old_token, "Ursula Okonkwo").await;
    assert!(open_with_server_keys(&app).await > 0);

    let token = app.api_token(&dee).await;
    assert_eq!(
        names(&app, &token).await,
        ["Ursula Okonkwo", "Victor Lindqvist"]
    );
    assert_eq!(open_with_server_keys(&app).await, 0, "every row moved");
    let actions = app.audit_actions().await;
    for action in ["USER_KEYS_CREATED", "USER_KEYS_CONVERTED"] {
        assert!(actions.contains(&action.to_string()), "{action} audited");
    }
    // The token from before could not open the new keys: it was dropped.
    let res = app
        .api(Method::GET, "/api/contacts", &old_token, None)
        .await;
    assert_eq!(res.status(), 401);
    let state: Option<String> = sqlx::query_scalar("SELECT key_state FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .expect("state");
    assert_eq!(state.as_deref(), Some("ready"));
}

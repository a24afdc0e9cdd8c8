//! Issue 18: a TOTP secret is sealed with its owner's keys. The server's keys (`keys.env`)
//! do not open it; the password step opens the keys, and the TOTP step needs the unlock
//! cookie that step left in the browser. Secrets from before users had keys move at the
//! owner's next sign-in.

use reqwest::header::COOKIE;
use serde_json::json;

use contact_vault::crypto::keys::{KeySources, load_or_generate};
use contact_vault::crypto::totp;

use crate::helpers::{TestApp, browser, cli, csrf_in, location, spawn_app, spawn_app_in};
use crate::sessions::set_cookie;

/// Does any key in `keys.env` open `username`'s stored TOTP secret?
async fn server_keys_open_totp(app: &TestApp, username: &str) -> bool {
    let (keys, _) = load_or_generate(&KeySources::default(), app.dir.path()).expect("keys.env");
    let stored = app
        .user_row(username)
        .await
        .totp_secret
        .expect("a TOTP secret is stored");
    keys.cipher.decrypt_bytes(&stored).is_ok()
}

#[tokio::test]
async fn the_server_keys_do_not_open_a_totp_secret_and_the_sign_in_still_works() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    assert!(!server_keys_open_totp(&app, "alice").await);

    app.login_web(&browser(), &alice).await;
    let token = app.api_token(&alice).await;
    assert!(!token.is_empty());
    // A wrong code is still refused with the secret under her keys.
    let res = app
        .api_login_raw(json!({"username": "alice", "password": alice.password, "otp": "000000"}))
        .await;
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_secret_from_before_own_keys_moves_at_the_next_sign_in() {
    let app = spawn_app().await;
    let old = app.create_user("oldhand", "admin").await;
    let id = app.user_row("oldhand").await.id;
    app.forget_keys(id).await;
    assert!(server_keys_open_totp(&app, "oldhand").await, "as before");

    app.login_web(&browser(), &old).await;
    assert!(
        !server_keys_open_totp(&app, "oldhand").await,
        "moved to her keys at the sign-in"
    );
    let moved = |actions: &[String]| actions.iter().filter(|a| *a == "TOTP_SECRET_MOVED").count();
    assert_eq!(moved(&app.audit_actions().await), 1);

    // The same secret keeps working, through the pages and the API, and moves only once.
    app.login_web(&browser(), &old).await;
    app.api_token(&old).await;
    assert_eq!(moved(&app.audit_actions().await), 1);
}

#[tokio::test]
async fn the_totp_step_needs_the_unlock_cookie_of_the_password_step() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let res = plain.get(app.url("/login")).send().await.expect("form");
    let anon = set_cookie(&res, "cv_session").expect("a session cookie");
    let csrf = csrf_in(&res.text().await.expect("html"));
    let res = plain
        .post(app.url("/login"))
        .header(COOKIE, &anon)
        .form(&[
            ("username", "alice"),
            ("password", alice.password.as_str()),
            ("csrf_token", csrf.as_str()),
        ])
        .send()
        .await
        .expect("password step");
    assert_eq!(location(&res), "/login/totp");
    let session = set_cookie(&res, "cv_session").expect("session");
    assert!(
        set_cookie(&res, "cv_unlock").is_some(),
        "the keys ride along"
    );

    // Without the unlock cookie, the right code does not sign in.
    let page = plain
        .get(app.url("/login/totp"))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("totp form");
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.expect("html"));
    let code = app.next_code(alice.secret.as_ref().expect("secret"));
    let res = plain
        .post(app.url("/login/totp"))
        .header(COOKIE, &session)
        .form(&[("code", code.as_str()), ("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("totp step");
    assert_eq!(location(&res), "/login");
    let session = set_cookie(&res, "cv_session").unwrap_or(session);
    let res = plain
        .get(app.url("/contacts"))
        .header(COOKIE, &session)
        .send()
        .await
        .expect("contacts");
    assert_eq!(location(&res), "/login", "not signed in");
    assert!(!app.audit_actions().await.contains(&"LOGIN_OK".to_string()));
}

#[tokio::test]
async fn an_admin_made_with_the_cli_signs_in_with_the_printed_secret() {
    let dir = tempfile::tempdir().expect("dir");
    let out = cli(
        dir.path(),
        &["user", "add", "ops", "--role", "admin", "--password-stdin"],
        "ops-Long-passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let base32 = stdout
        .split("secret=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("the otpauth URI has the secret");
    let secret = totp_rs::Secret::try_from_base32(base32)
        .expect("base32")
        .as_bytes()
        .to_vec();

    let app = spawn_app_in(dir).await;
    assert!(!server_keys_open_totp(&app, "ops").await);
    app.clock.advance(30);
    let code = totp::code_at(&secret, app.clock.now() as u64);
    let res = app
        .api_login_raw(json!({"username": "ops", "password": "ops-Long-passphrase", "otp": code}))
        .await;
    assert_eq!(res.status(), 200);
}

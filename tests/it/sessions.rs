use reqwest::header::{COOKIE, SET_COOKIE};

use crate::helpers::{browser, csrf_in, location, spawn_app, spawn_app_with};

/// The session cookie a response sets, as `name=value`.
fn session_cookie(res: &reqwest::Response) -> Option<String> {
    set_cookie(res, "cv_session")
}

/// The cookie `name` a response sets, as `name=value`.
pub(crate) fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_logout_kills_the_old_cookie() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Anonymous session with a CSRF token.
    let res = plain.get(app.url("/login")).send().await.unwrap();
    let anon = session_cookie(&res).expect("a session for the login form");
    let token = csrf_in(&res.text().await.unwrap());

    let res = plain
        .post(app.url("/login"))
        .header(COOKIE, &anon)
        .form(&[
            ("username", "bob"),
            ("password", bob.password.as_str()),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = session_cookie(&res).expect("a renewed session cookie");
    assert_ne!(session, anon, "the session id is renewed at sign-in");
    // The secret that opens the session's wrap of bob's keys comes in a cookie of its own.
    let unlock = set_cookie(&res, "cv_unlock").expect("an unlock cookie");
    let signed_in = format!("{session}; {unlock}");

    // The pre-login cookie opens nothing.
    let res = plain
        .get(app.url("/account"))
        .header(COOKIE, &anon)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/login");

    let res = plain
        .get(app.url("/account"))
        .header(COOKIE, &signed_in)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let token = csrf_in(&res.text().await.unwrap());

    // Only a hash of the cookie's key is stored.
    let stored: Vec<String> = sqlx::query_scalar("SELECT key_hash FROM sessions")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(stored.iter().all(|h| h.len() == 64));

    let res = plain
        .post(app.url("/logout"))
        .header(COOKIE, &signed_in)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    // Replaying the logged-out cookie opens nothing.
    let res = plain
        .get(app.url("/account"))
        .header(COOKIE, &signed_in)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    assert!(app.audit_actions().await.contains(&"LOGOUT".to_string()));
}

#[tokio::test]
async fn idle_sessions_expire_and_activity_keeps_them_alive() {
    let app = spawn_app_with(|s| s.session_idle_minutes = 30).await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    app.login_web(&client, &bob).await;

    app.clock.advance(25 * 60);
    assert_eq!(
        app.get(&client, "/account").await.status(),
        200,
        "25 minutes idle is fine"
    );
    app.clock.advance(25 * 60);
    assert_eq!(
        app.get(&client, "/account").await.status(),
        200,
        "activity moved the deadline"
    );
    app.clock.advance(31 * 60);
    let res = app.get(&client, "/account").await;
    assert_eq!(location(&res), "/login", "31 minutes idle ends the session");
}

#[tokio::test]
async fn sessions_end_after_their_absolute_lifetime_however_active() {
    let app = spawn_app_with(|s| s.session_absolute_hours = 1).await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    app.login_web(&client, &bob).await;
    for _ in 0..3 {
        app.clock.advance(19 * 60);
        assert_eq!(app.get(&client, "/account").await.status(), 200);
    }
    app.clock.advance(5 * 60);
    assert_eq!(location(&app.get(&client, "/account").await), "/login");
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions_and_tokens_but_not_this_one() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let here = browser();
    let elsewhere = browser();
    app.login_web(&here, &bob).await;
    app.login_web(&elsewhere, &bob).await;
    let token = app.api_token(&bob).await;

    let new_password = "a-brand-new-Passphrase";
    let res = app
        .post_form(
            &here,
            "/account",
            "/account/password",
            &[
                ("old_password", &bob.password),
                ("new_password", new_password),
                ("new_password_confirm", new_password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    assert_eq!(
        app.get(&here, "/account").await.status(),
        200,
        "this session carries on"
    );
    assert_eq!(
        location(&app.get(&elsewhere, "/account").await),
        "/login",
        "the other session ended"
    );
    let res = app
        .api(reqwest::Method::GET, "/api/audit", &token, None)
        .await;
    assert_eq!(res.status(), 401, "API tokens were revoked");
    assert!(
        app.audit_actions()
            .await
            .contains(&"PASSWORD_CHANGED".to_string())
    );
}

#[tokio::test]
async fn wrong_current_password_or_weak_new_one_changes_nothing() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    app.login_web(&client, &bob).await;
    let before = app.user_row("bob").await.password_hash;
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/password",
            &[
                ("old_password", "wrong-password-here"),
                ("new_password", "another-Good-phrase"),
                ("new_password_confirm", "another-Good-phrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"old_password-error\"")
    );
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/password",
            &[
                ("old_password", &bob.password),
                ("new_password", "12345678"),
                ("new_password_confirm", "12345678"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("id=\"new_password-error\"")
    );
    assert_eq!(app.user_row("bob").await.password_hash, before);
}

#[tokio::test]
async fn deleting_or_resetting_a_user_ends_their_sessions_at_once() {
    let app = spawn_app().await;
    let admin = app.create_user("alice", "admin").await;
    let carol = app.create_user("carol", "admin").await;
    let bob = app.create_user("bob", "user").await;
    let admin_browser = browser();
    let bob_browser = browser();
    let carol_browser = browser();
    app.login_web(&admin_browser, &admin).await;
    app.login_web(&bob_browser, &bob).await;
    app.login_web(&carol_browser, &carol).await;

    // Reset Carol's TOTP: her session ends and she must enrol again.
    let res = app
        .post_form(
            &admin_browser,
            "/admin/users",
            "/admin/users/carol/reset-totp",
            &[("current_password", &admin.password)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        location(&app.get(&carol_browser, "/admin/users").await),
        "/login"
    );
    assert!(!app.user_row("carol").await.totp_enabled);

    // Delete Bob, with the confirmation step.
    assert_eq!(
        app.get(&admin_browser, "/admin/users/bob/delete")
            .await
            .status(),
        200
    );
    let res = app
        .post_form(
            &admin_browser,
            "/admin/users",
            "/admin/users/bob/delete",
            &[("current_password", &admin.password)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&app.get(&bob_browser, "/account").await), "/login");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users)")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"DELETE_USER".to_string()) && actions.contains(&"TOTP_RESET".to_string())
    );
}

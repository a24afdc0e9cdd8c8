use contact_vault::crypto::totp;

use crate::helpers::{browser, csrf_in, location, spawn_app};

fn secret_on(html: &str) -> String {
    let marker = "id=\"totp-secret\">";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..start + html[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn a_user_may_turn_totp_on_and_off() {
    let app = spawn_app().await;
    let mut bob = app.create_user("bob", "user").await;
    let client = browser();
    app.login_web(&client, &bob).await;

    let page = app.get_html(&client, "/account/totp").await;
    let shown = secret_on(&page);
    // The pending secret is kept across reloads until confirmed, and only encrypted on disk.
    assert_eq!(
        secret_on(&app.get_html(&client, "/account/totp").await),
        shown
    );
    let row = app.user_row("bob").await;
    let stored = row.totp_secret.unwrap();
    assert!(stored.starts_with("gAAAAA") && !stored.contains(&shown));
    // Under bob's own keys: the server's do not open it, his password does.
    assert!(app.state.keys.cipher.decrypt_bytes(&stored).is_err());
    let keys = app.unlocked_row("bob").await.keys.unwrap();
    let secret = keys.book().cipher.decrypt_bytes(&stored).unwrap();
    assert_eq!(totp::secret_base32(&secret), shown);

    let code = totp::code_at(&secret, app.clock.now() as u64);
    let res = app
        .post_form(
            &client,
            "/account/totp",
            "/account/totp",
            &[("code", &code)],
        )
        .await;
    assert_eq!(res.status(), 200);
    bob.secret = Some(secret);

    // Next sign-in asks for a code.
    let other = browser();
    app.login_web(&other, &bob).await;

    // New recovery codes replace the old ones.
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/recovery-codes",
            &[("current_password", &bob.password)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let unused: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(unused, 10);

    // Turning it off needs the password.
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/totp/disable",
            &[("password", "wrong-password")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(app.user_row("bob").await.totp_enabled);
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/totp/disable",
            &[("password", &bob.password)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(!app.user_row("bob").await.totp_enabled);
    let actions = app.audit_actions().await;
    for a in [
        "TOTP_ENABLED",
        "RECOVERY_CODES_REGENERATED",
        "TOTP_DISABLED",
    ] {
        assert!(actions.contains(&a.to_string()), "{a}");
    }
}

#[tokio::test]
async fn admins_cannot_turn_totp_off() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let client = browser();
    app.login_web(&client, &alice).await;
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/totp/disable",
            &[("password", &alice.password)],
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(app.user_row("alice").await.totp_enabled);
}

#[tokio::test]
async fn admins_create_users_on_the_users_page() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let client = browser();
    app.login_web(&client, &alice).await;
    let res = app
        .post_form(
            &client,
            "/admin/users",
            "/admin/users",
            &[
                ("username", "Frank"),
                ("password", "frank-Long-pass"),
                ("role", "user"),
                ("current_password", &alice.password),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = app.get_html(&client, "/admin/users").await;
    assert!(
        html.contains("User frank created.") && html.contains(">frank"),
        "{html}"
    );

    let res = app
        .post_form(
            &client,
            "/admin/users",
            "/admin/users",
            &[
                ("username", "frank"),
                ("password", "frank-Long-pass"),
                ("role", "user"),
                ("current_password", &alice.password),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("That username is taken.")
    );

    let res = app
        .post_form(
            &client,
            "/admin/users",
            "/admin/users",
            &[
                ("username", "<b>x</b>"),
                ("password", "frank-Long-pass"),
                ("role", "user"),
                ("current_password", &alice.password),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("&#60;b&#62;x") && !html.contains("<b>x</b>"),
        "input is escaped when shown again: {html}"
    );
}

#[tokio::test]
async fn the_audit_pages_show_your_own_or_everything() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let bob = app.create_user("bob", "user").await;
    let bob_browser = browser();
    let alice_browser = browser();
    app.login_web(&bob_browser, &bob).await;
    app.login_web(&alice_browser, &alice).await;

    let mine = app.get_html(&bob_browser, "/audit").await;
    assert!(mine.contains("LOGIN_OK"));
    assert!(!mine.contains("alice"), "bob sees none of alice's events");
    assert_eq!(app.get(&bob_browser, "/admin/audit").await.status(), 403);

    let all = app.get_html(&alice_browser, "/admin/audit").await;
    assert!(all.contains("bob") && all.contains("alice"));
}

#[tokio::test]
async fn an_internal_error_shows_a_reference_and_no_detail() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    // Corrupt the stored secret: decryption fails inside the request.
    sqlx::query("UPDATE users SET totp_secret = 'gAAAAAcorrupted' WHERE username = 'alice'")
        .execute(&app.db)
        .await
        .unwrap();
    let client = browser();
    let res = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[("username", "alice"), ("password", &alice.password)],
        )
        .await;
    assert_eq!(location(&res), "/login/totp");
    let token = csrf_in(&app.get_html(&client, "/login/totp").await);
    let res = client
        .post(app.url("/login/totp"))
        .form(&[("code", "123456"), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let html = res.text().await.unwrap();
    assert!(html.contains("Something went wrong"));
    assert!(html.contains(&request_id), "the page quotes the request id");
    assert!(
        !html.to_lowercase().contains("decrypt"),
        "no internal detail leaks"
    );
}

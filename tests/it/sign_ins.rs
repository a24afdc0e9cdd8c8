//! The account page's list of sign-ins (sessions and API tokens, each revocable, and "sign out
//! everywhere"), the new session id and CSRF token at the password step, re-authentication
//! before sensitive changes, and the password rules (issue 12 items 4, 8, 9, 10).

use reqwest::Method;
use serde_json::json;

use contact_vault::accounts;
use contact_vault::crypto::password::hash_password_blocking;

use crate::helpers::{TestApp, browser, csrf_in, location, spawn_app};

async fn session_hashes(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT key_hash FROM sessions ORDER BY key_hash")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_password_step_renews_the_session_id_and_the_csrf_token() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    let client = browser();
    let before = csrf_in(&app.get_html(&client, "/login").await);
    let old_sessions = session_hashes(&app).await;
    assert_eq!(old_sessions.len(), 1);
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("username", root.username.as_str()),
            ("password", &root.password),
            ("csrf_token", &before),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/login/totp");
    let pending = session_hashes(&app).await;
    assert_eq!(pending.len(), 1);
    assert_ne!(pending, old_sessions, "the pre-login session id lives on");

    // The token of the sign-in page is worth nothing at the second step.
    let code = app.next_code(root.secret.as_ref().unwrap());
    let res = client
        .post(app.url("/login/totp"))
        .form(&[("code", code.as_str()), ("csrf_token", &before)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let middle = csrf_in(&app.get_html(&client, "/login/totp").await);
    assert_ne!(middle, before);
    let res = client
        .post(app.url("/login/totp"))
        .form(&[("code", code.as_str()), ("csrf_token", &middle)])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res), "/contacts");
    let after = csrf_in(&app.get_html(&client, "/account").await);
    assert_ne!(after, middle);
    assert_ne!(session_hashes(&app).await, pending);
}

#[tokio::test]
async fn the_account_page_lists_sessions_and_tokens_and_revokes_each() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let (laptop, phone) = (browser(), browser());
    app.login_web(&laptop, &ann).await;
    app.login_web(&phone, &ann).await;
    let token = app.api_token(&ann).await;

    let page = app.get_html(&laptop, "/account").await;
    assert_eq!(page.matches("/account/sessions/").count(), 2, "{page}");
    assert_eq!(page.matches(">this one</span>").count(), 1);
    assert_eq!(page.matches("/account/tokens/").count(), 1);

    // Sign the phone out from the laptop: the revoke button that is not "this one".
    let rows: Vec<&str> = page.split("<tr>").collect();
    let other = rows
        .iter()
        .find(|r| r.contains("/account/sessions/") && !r.contains(">this one</span>"))
        .unwrap();
    let start = other.find("/account/sessions/").unwrap();
    let action = &other[start..start + other[start..].find('"').unwrap()];
    let res = app.post_form(&laptop, "/account", action, &[]).await;
    assert_eq!(location(&res), "/account#sign-ins");
    let res = app.get(&phone, "/contacts").await;
    assert_eq!(res.status(), 303, "the phone is signed out");
    assert_eq!(app.get(&laptop, "/contacts").await.status(), 200);

    // Revoke the API token.
    let page = app.get_html(&laptop, "/account").await;
    let start = page.find("/account/tokens/").unwrap();
    let action = page[start..start + page[start..].find('"').unwrap()].to_string();
    app.post_form(&laptop, "/account", &action, &[]).await;
    let res = app.api(Method::GET, "/api/contacts", &token, None).await;
    assert_eq!(res.status(), 401);

    let actions = app.audit_actions().await;
    assert!(actions.contains(&"SESSION_REVOKED".to_string()));
    assert!(actions.contains(&"TOKEN_REVOKED".to_string()));
}

#[tokio::test]
async fn another_users_sessions_and_tokens_cannot_be_revoked() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let bob = app.create_user("bob", "user").await;
    let (ann_b, bob_b) = (browser(), browser());
    app.login_web(&ann_b, &ann).await;
    app.login_web(&bob_b, &bob).await;
    app.api_token(&bob).await;
    let bob_page = app.get_html(&bob_b, "/account").await;
    for prefix in ["/account/sessions/", "/account/tokens/"] {
        let start = bob_page.find(prefix).unwrap();
        let action = &bob_page[start..start + bob_page[start..].find('"').unwrap()];
        let res = app.post_form(&ann_b, "/account", action, &[]).await;
        assert_eq!(res.status(), 404, "{action}");
    }
    assert_eq!(app.get(&bob_b, "/contacts").await.status(), 200);
    let page = app.get_html(&bob_b, "/account").await;
    assert_eq!(page.matches("/account/tokens/").count(), 1);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_and_token() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let (laptop, phone) = (browser(), browser());
    app.login_web(&laptop, &ann).await;
    app.login_web(&phone, &ann).await;
    let token = app.api_token(&ann).await;
    let res = app
        .post_form(&laptop, "/account", "/account/sign-out-everywhere", &[])
        .await;
    assert_eq!(location(&res), "/login?signed_out=1");
    for client in [&laptop, &phone] {
        assert_eq!(app.get(client, "/contacts").await.status(), 303);
    }
    let res = app.api(Method::GET, "/api/contacts", &token, None).await;
    assert_eq!(res.status(), 401);
    assert!(
        app.audit_actions()
            .await
            .contains(&"SIGNED_OUT_EVERYWHERE".to_string())
    );
}

#[tokio::test]
async fn new_recovery_codes_need_the_password() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    let client = browser();
    app.login_web(&client, &root).await;
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/recovery-codes",
            &[("current_password", "not-my-password")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("The password is wrong."));
    let res = app
        .post_form(
            &client,
            "/account",
            "/account/recovery-codes",
            &[("current_password", &root.password)],
        )
        .await;
    assert_eq!(res.status(), 200);
    let actions = app.audit_actions().await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "RECOVERY_CODES_REGENERATED")
            .count(),
        1
    );
    assert!(actions.contains(&"REAUTH_FAIL".to_string()));
}

#[tokio::test]
async fn user_administration_needs_the_admins_password() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    app.create_user("bob", "user").await;
    app.create_user("carol", "admin").await;
    let client = browser();
    app.login_web(&client, &root).await;

    let new_user = [
        ("username", "dave"),
        ("password", "dave's long passphrase 9"),
        ("role", "user"),
    ];
    let mut wrong = new_user.to_vec();
    wrong.push(("current_password", "not-my-password"));
    let res = app
        .post_form(&client, "/admin/users", "/admin/users", &wrong)
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Your password is wrong.")
    );
    let mut right = new_user.to_vec();
    right.push(("current_password", &root.password));
    let res = app
        .post_form(&client, "/admin/users", "/admin/users", &right)
        .await;
    assert_eq!(location(&res), "/admin/users");

    for (page, action) in [
        ("/admin/users/bob/delete", "/admin/users/bob/delete"),
        (
            "/admin/users/carol/reset-totp",
            "/admin/users/carol/reset-totp",
        ),
    ] {
        let html = app.get_html(&client, page).await;
        assert!(html.contains("name=\"current_password\""), "{page}");
        let res = app
            .post_form(&client, page, action, &[("current_password", "nope-nope")])
            .await;
        assert_eq!(res.status(), 400, "{action}");
        let res = app
            .post_form(
                &client,
                page,
                action,
                &[("current_password", &root.password)],
            )
            .await;
        assert_eq!(location(&res), "/admin/users", "{action}");
    }
    assert!(
        accounts::user_by_name(&app.state, "bob")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        accounts::user_by_name(&app.state, "dave")
            .await
            .unwrap()
            .is_some()
    );
    let carol = accounts::user_by_name(&app.state, "carol")
        .await
        .unwrap()
        .unwrap();
    assert!(!carol.totp_enabled);
}

/// Issue 12, item 4: what the review signed in with under the old 8-character rule.
#[tokio::test]
async fn weak_new_passwords_are_refused_everywhere() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;
    for weak in [
        "        ",
        "\t\t\t\t\t\t\t\t",
        "\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}\u{200B}",
        "aaaaaaaa",
        "abcdefgh",
        "contactvault",
        "ann-ann-ann!",
        "password2026!",
    ] {
        let res = app
            .api(
                Method::POST,
                "/api/change-password",
                &token,
                Some(json!({"old_password": ann.password, "new_password": weak})),
            )
            .await;
        assert_eq!(res.status(), 400, "{weak:?}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["fields"]["new_password"].is_string(), "{body}");
    }
    let admin = app.create_user("root", "admin").await;
    let admin_token = app.api_token(&admin).await;
    let res = app
        .api(
            Method::POST,
            "/api/admin/users",
            &admin_token,
            Some(json!({"username": "eve", "password": "        ", "role": "user"})),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn an_old_weak_password_still_works_and_its_owner_is_asked_to_change_it() {
    let app = spawn_app().await;
    app.create_user("ann", "user").await;
    let row = app.user_row("ann").await;
    let weak = "abcdefgh1";
    let hash = hash_password_blocking(weak.to_string()).await.unwrap();
    app.set_password_hash(row.id, &hash).await;

    let res = app
        .api_login_raw(json!({"username": "ann", "password": weak}))
        .await;
    assert_eq!(res.status(), 200);
    let client = browser();
    let res = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[("username", "ann"), ("password", weak)],
        )
        .await;
    assert_eq!(location(&res), "/account");
    let page = app.get_html(&client, "/account").await;
    assert!(page.contains("Please choose a new one"), "{page}");
}

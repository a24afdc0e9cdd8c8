use contact_vault::crypto::password::legacy_pbkdf2_stored;

use crate::helpers::{browser, location, spawn_app};

#[tokio::test]
async fn a_user_without_totp_signs_in_with_a_password() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    assert_eq!(location(&app.get(&client, "/account").await), "/login");
    app.login_web(&client, &bob).await;
    let page = app.get(&client, "/account").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("bob") && html.contains("session-countdown"));
    assert_eq!(
        app.get(&client, "/admin/users").await.status(),
        403,
        "users are not admins"
    );
    assert!(app.audit_actions().await.contains(&"LOGIN_OK".to_string()));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    app.create_user("bob", "user").await;
    let client = browser();
    let wrong = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[("username", "bob"), ("password", "not-his-password")],
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let wrong = wrong.text().await.unwrap();
    let unknown = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[("username", "nobody"), ("password", "not-his-password")],
        )
        .await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    assert!(
        wrong.contains("Invalid username or password.")
            && unknown.contains("Invalid username or password.")
    );
    assert_eq!(location(&app.get(&client, "/account").await), "/login");
    let fails = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "LOGIN_FAIL")
        .count();
    assert_eq!(fails, 2);
}

#[tokio::test]
async fn totp_codes_work_once_and_recovery_codes_work_once() {
    let app = spawn_app().await;
    let admin = app.create_user("alice", "admin").await;
    let secret = admin.secret.clone().unwrap();

    // First sign-in with a fresh code.
    let first = browser();
    app.login_web(&first, &admin).await;

    // The same code (same time step) in another browser is a replay.
    let code = contact_vault::crypto::totp::code_at(&secret, app.clock.now() as u64);
    let second = browser();
    let res = app
        .post_form(
            &second,
            "/login",
            "/login",
            &[("username", "alice"), ("password", &admin.password)],
        )
        .await;
    assert_eq!(location(&res), "/login/totp");
    let res = app
        .post_form(&second, "/login/totp", "/login/totp", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 401, "a used code never works twice");
    assert_eq!(location(&app.get(&second, "/account").await), "/login");

    // A recovery code works in place of a code, once.
    let recovery = admin.recovery_codes[0].clone();
    let res = app
        .post_form(
            &second,
            "/login/totp",
            "/login/totp",
            &[("code", &recovery)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get(&second, "/account").await.status(), 200);

    let third = browser();
    app.post_form(
        &third,
        "/login",
        "/login",
        &[("username", "alice"), ("password", &admin.password)],
    )
    .await;
    let res = app
        .post_form(&third, "/login/totp", "/login/totp", &[("code", &recovery)])
        .await;
    assert_eq!(res.status(), 401, "a recovery code works once");
    let used: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE used_at IS NOT NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(used, 1);
}

#[tokio::test]
async fn five_wrong_codes_lock_the_second_step_for_fifteen_minutes() {
    let app = spawn_app().await;
    let admin = app.create_user("alice", "admin").await;
    let secret = admin.secret.clone().unwrap();
    let client = browser();
    app.post_form(
        &client,
        "/login",
        "/login",
        &[("username", "alice"), ("password", &admin.password)],
    )
    .await;
    for _ in 0..4 {
        let res = app
            .post_form(&client, "/login/totp", "/login/totp", &[("code", "000000")])
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app
        .post_form(&client, "/login/totp", "/login/totp", &[("code", "000000")])
        .await;
    assert_eq!(res.status(), 429, "the fifth wrong code locks");

    // Even the right code is refused while locked.
    let code = app.next_code(&secret);
    let res = app
        .post_form(&client, "/login/totp", "/login/totp", &[("code", &code)])
        .await;
    assert_eq!(res.status(), 429);

    // After 15 minutes the step opens again (a fresh password step, since that one expired).
    app.clock.advance(15 * 60);
    app.login_web(&client, &admin).await;
    assert_eq!(app.get(&client, "/account").await.status(), 200);
    assert!(
        app.audit_actions()
            .await
            .contains(&"TOTP_LOCKED".to_string())
    );
}

#[tokio::test]
async fn a_legacy_hash_verifies_and_is_replaced_by_argon2id() {
    let app = spawn_app().await;
    app.create_user("admin", "user").await;
    // The seed app's fixture: PBKDF2-SHA256, 260k iterations, salt = ASCII of the hex.
    let stored = legacy_pbkdf2_stored(
        "d907e4551f4d6d4b9eea034d510dd020349bfafd2a8efa5df6ee21953fcf5b34",
        "b6de95256eba1c2b5071cafb74ebcd1b2575ba66cb9a7132317a7384a84cb32d",
    )
    .unwrap();
    let id = app.user_row("admin").await.id;
    app.set_password_hash(id, &stored).await;

    let client = browser();
    let res = app
        .post_form(
            &client,
            "/login",
            "/login",
            &[("username", "admin"), ("password", "admin-legacy-pass")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let row = app.user_row("admin").await;
    assert!(
        row.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        row.password_hash
    );

    // The new hash still takes the same password.
    let again = browser();
    let res = app
        .post_form(
            &again,
            "/login",
            "/login",
            &[("username", "admin"), ("password", "admin-legacy-pass")],
        )
        .await;
    assert_eq!(res.status(), 303);
}

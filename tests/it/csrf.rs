use crate::helpers::{browser, csrf_in, location, spawn_app};

#[tokio::test]
async fn a_form_post_without_the_token_is_refused_and_does_nothing() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    app.login_web(&client, &bob).await;
    let before = app.user_row("bob").await.password_hash;
    let fields = [
        ("old_password", bob.password.as_str()),
        ("new_password", "a-brand-new-Passphrase"),
        ("new_password_confirm", "a-brand-new-Passphrase"),
    ];

    // Missing token.
    let res = client
        .post(app.url("/account/password"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Form expired"));

    // Wrong token.
    let mut with_wrong = fields.to_vec();
    with_wrong.push(("csrf_token", "forged"));
    let res = client
        .post(app.url("/account/password"))
        .form(&with_wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Another session's token.
    let other = browser();
    let foreign = csrf_in(&app.get_html(&other, "/login").await);
    let mut with_foreign = fields.to_vec();
    with_foreign.push(("csrf_token", &foreign));
    let res = client
        .post(app.url("/account/password"))
        .form(&with_foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    assert_eq!(
        app.user_row("bob").await.password_hash,
        before,
        "nothing changed"
    );
    assert_eq!(
        app.get(&client, "/account").await.status(),
        200,
        "still signed in"
    );
}

#[tokio::test]
async fn a_cross_origin_post_is_refused_even_with_the_token() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    app.login_web(&client, &bob).await;
    let token = csrf_in(&app.get_html(&client, "/account").await);
    let res = client
        .post(app.url("/logout"))
        .header("Origin", "https://evil.example")
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get(&client, "/account").await.status(),
        200,
        "logout did not happen"
    );

    // The same request from this origin works.
    let res = client
        .post(app.url("/logout"))
        .header("Origin", app.address.as_str())
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&app.get(&client, "/account").await), "/login");
}

#[tokio::test]
async fn the_login_form_itself_needs_the_token() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let client = browser();
    let res = client
        .post(app.url("/login"))
        .form(&[("username", "bob"), ("password", bob.password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn bearer_api_calls_need_no_csrf_token() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let token = app.api_token(&bob).await;
    let res = app
        .api(reqwest::Method::POST, "/api/logout", &token, None)
        .await;
    assert_eq!(res.status(), 200);
}

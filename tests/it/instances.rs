//! Several instances of the app on one database (issue 16): what a deployment behind one
//! proxy relies on. Sessions, API tokens and TOTP steps live in the shared database, so a
//! sign-in on one instance works on the other and a sign-out on one ends it on the other at
//! once; each instance keeps its own decrypted directory, and a write through one is in the
//! next read through the other; writers on both keep one audit chain.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{browser, cli, location, spawn_app, spawn_app_beside};

fn contact(name: &str, phone: &str) -> Value {
    json!({"name": name, "phone": phone, "email": "", "tags": ["shared"]})
}

async fn names(app: &crate::helpers::TestApp, token: &str) -> Vec<String> {
    let res = app
        .api(Method::GET, "/api/contacts?per_page=200", token, None)
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("JSON");
    body["contacts"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("a name").to_string())
        .collect()
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_the_other_and_ends_on_both() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let client = browser();
    a.login_web(&client, &ida).await;
    // The cookie jar sends the session cookie to both (cookies do not care for ports).
    let page = b.get(&client, "/contacts").await;
    assert_eq!(page.status(), 200, "signed in on B by a sign-in on A");
    let res = b.post_form(&client, "/contacts", "/logout", &[]).await;
    assert_eq!(res.status(), 303);
    let page = a.get(&client, "/contacts").await;
    assert_eq!(
        (
            page.status().as_u16(),
            location(&page).starts_with("/login")
        ),
        (303, true),
        "signed out on A by the sign-out on B"
    );
}

#[tokio::test]
async fn an_api_token_made_on_one_instance_works_on_the_other_until_logout_there() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    let res = b.api(Method::GET, "/api/contacts", &token, None).await;
    assert_eq!(res.status(), 200);
    let res = a.api(Method::POST, "/api/logout", &token, None).await;
    assert_eq!(res.status(), 200);
    let res = b.api(Method::GET, "/api/contacts", &token, None).await;
    assert_eq!(res.status(), 401, "revoked on B at once");
}

#[tokio::test]
async fn a_totp_code_works_once_across_instances() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let boss = a.create_user("boss", "admin").await;
    let secret = boss.secret.clone().expect("an admin has TOTP");
    let code = a.next_code(&secret);
    b.clock.advance(30); // the two instances' clocks agree, as real ones would
    let login =
        |code: &str| json!({"username": boss.username, "password": boss.password, "otp": code});
    let first = a.api_login_raw(login(&code)).await;
    assert_eq!(first.status(), 200);
    let again = b.api_login_raw(login(&code)).await;
    assert_eq!(again.status(), 401, "the step was used on A");
}

#[tokio::test]
async fn a_write_through_one_instance_is_in_the_next_read_through_the_other() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    let res = a
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(contact("Ann Archer", "+1 202 555 0101")),
        )
        .await;
    assert_eq!(res.status(), 201);
    // B builds its directory of the book now, then A writes behind its back.
    assert_eq!(names(&b, &token).await, ["Ann Archer"]);
    let res = a
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(contact("Bea Baker", "+1 202 555 0102")),
        )
        .await;
    assert_eq!(res.status(), 201);
    let bea: Value = res.json().await.expect("JSON");
    let bea_id = bea["id"].as_str().expect("an id").to_string();
    assert_eq!(names(&b, &token).await, ["Ann Archer", "Bea Baker"]);
    let res = a
        .api(
            Method::PUT,
            &format!("/api/contacts/{bea_id}"),
            &token,
            Some(json!({"name": "Beatrice Baker"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(names(&b, &token).await, ["Ann Archer", "Beatrice Baker"]);
    let res = a
        .api(
            Method::DELETE,
            &format!("/api/contacts/{bea_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(names(&b, &token).await, ["Ann Archer"]);
    // And the other way round.
    let res = b
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(contact("Cy Cooper", "+1 202 555 0103")),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(names(&a, &token).await, ["Ann Archer", "Cy Cooper"]);
}

#[tokio::test]
async fn writers_on_two_instances_keep_one_audit_chain_and_one_duplicate_check() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    // Forty contacts written at once, half through each instance.
    let writes = (0..40u32).map(|i| {
        let app = if i.is_multiple_of(2) { &a } else { &b };
        let body = contact(&format!("Writer Nº{i:02}"), &format!("+1 202 555 {i:04}"));
        let token = token.clone();
        async move {
            app.api(Method::POST, "/api/contacts", &token, Some(body))
                .await
                .status()
        }
    });
    let statuses = join_all(writes).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    // The same contact sent to both at once is stored once.
    let twin = contact("Twin Taylor", "+1 202 555 0999");
    let (one, other) = tokio::join!(
        a.api(Method::POST, "/api/contacts", &token, Some(twin.clone())),
        b.api(Method::POST, "/api/contacts", &token, Some(twin)),
    );
    let mut got = [one.status().as_u16(), other.status().as_u16()];
    got.sort_unstable();
    assert_eq!(got, [201, 409]);
    assert_eq!(names(&b, &token).await.len(), 41);
    let out = cli(a.dir.path(), &["audit", "verify"], "");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("ok ("), "{said}");
}

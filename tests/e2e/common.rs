//! What several journeys share: data put in place over HTTP (not through the browser, so each
//! journey only drives the part it is about), signing in through the pages, the page checks.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Browser, Scripts, Theme};
use crate::helpers::{TestApp, TestUser, browser as http_client, csrf_in};

/// A phone number the offline check accepts (UK drama range).
pub const PHONE: &str = "+44 20 7946 0958";

/// Sends the public form over plain HTTP, as a visitor would (CAPTCHA off).
pub async fn seed_submission(app: &TestApp, name: &str, email: &str, phone: &str, message: &str) {
    let client = http_client();
    let token = csrf_in(&app.get_html(&client, "/").await);
    app.clock.advance(3);
    let res = client
        .post(app.url("/"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", name),
            ("email", email),
            ("phone", phone),
            ("preferred_time", "afternoon"),
            ("preferred_date", ""),
            ("message", message),
        ])
        .send()
        .await
        .expect("form sent");
    assert_eq!(res.status(), 303, "the seeded submission was accepted");
}

/// A few contacts through the JSON API.
pub async fn seed_contacts(app: &TestApp, user: &TestUser, contacts: &[Value]) {
    let token = app.api_token(user).await;
    for contact in contacts {
        let res = app
            .api(Method::POST, "/api/contacts", &token, Some(contact.clone()))
            .await;
        assert_eq!(res.status(), 201, "seeded {contact}");
    }
}

/// The contacts the screenshots show.
pub fn sample_contacts() -> Vec<Value> {
    vec![
        json!({"name": "Ada Lovelace", "phone": "+44 20 7946 0001", "email": "ada@example.org",
               "company": "Analytical Engines Ltd", "address": "12 St James's Square, London",
               "notes": "Prefers e-mail.\nAsk about the Bernoulli numbers.",
               "tags": ["work", "maths"], "favorite": true}),
        json!({"name": "Grace Hopper", "phone": "+1 202 555 0143", "email": "grace@example.com",
               "company": "US Navy", "tags": ["work"], "favorite": true}),
        json!({"name": "Alan Turing", "phone": "+44 161 496 0017", "email": "alan@example.org",
               "company": "University of Manchester", "tags": ["maths", "friend"]}),
        json!({"name": "Katherine Johnson", "phone": "+1 757 555 0110",
               "email": "katherine@example.com", "company": "NASA Langley", "tags": ["maths"]}),
        json!({"name": "Tim Berners-Lee", "phone": "+41 22 555 0199", "company": "CERN",
               "tags": ["web"]}),
        json!({"name": "Margaret Hamilton", "phone": "+1 617 555 0175",
               "email": "margaret@example.com", "company": "MIT Instrumentation Lab",
               "tags": ["work", "space"], "favorite": true}),
        json!({"name": "Edsger Dijkstra", "phone": "+31 40 555 0123", "tags": ["friend"]}),
    ]
}

/// Signs in through the login page (and the TOTP page when the user has TOTP); ends on the
/// contact book.
pub async fn sign_in(b: &Browser, app: &TestApp, user: &TestUser) {
    b.open("/login").await;
    b.fill("#username", &user.username).await;
    b.fill("#password", &user.password).await;
    b.click_to_next_page("main button[type=submit]").await;
    if let Some(secret) = &user.secret {
        assert_eq!(b.path_now().await, "/login/totp");
        let code = app.next_code(secret);
        b.fill("#code", &code).await;
        b.click_to_next_page("main button[type=submit]").await;
    }
    assert_eq!(b.path_now().await, "/contacts", "signed in");
}

/// The checks of a page as it is: no console error or CSP violation, error messages tied to
/// their fields, and (with scripts on) axe in both themes and no sideways scrolling at 375 px.
pub async fn check_page(b: &Browser, name: &str) {
    b.assert_clean(name).await;
    b.assert_errors_tied(name).await;
    if b.scripts == Scripts::On {
        b.assert_accessible(&format!("{name} (light)")).await;
        b.set_theme(Theme::Dark).await;
        b.assert_accessible(&format!("{name} (dark)")).await;
        b.set_theme(Theme::Light).await;
        b.assert_fits_narrow(name).await;
        b.assert_clean(name).await;
    }
}

/// A `SELECT COUNT(*) ...` on the app's database.
pub async fn count(app: &TestApp, query: &'static str) -> i64 {
    sqlx::query_scalar(query)
        .fetch_one(&app.db)
        .await
        .expect("count")
}

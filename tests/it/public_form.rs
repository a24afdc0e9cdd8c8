use reqwest::Client;
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, browser, csrf_in, location, spawn_app, spawn_app_with};

pub const PHONE: &str = "+44 20 7946 0958";

pub fn fields<'a>(name: &'a str, email: &'a str, phone: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("name", name),
        ("email", email),
        ("phone", phone),
        ("preferred_time", "afternoon"),
        ("preferred_date", ""),
        ("message", "Please call me about the offer."),
    ]
}

/// The answer of the CAPTCHA most recently shown and not yet used, read from the form tickets
/// (the test's side of the database; the app has no way to reveal it).
pub async fn captcha_answer(app: &TestApp) -> Option<String> {
    sqlx::query_scalar(
        "SELECT answer FROM form_tickets WHERE answer IS NOT NULL
         ORDER BY answer_expires DESC, rowid DESC LIMIT 1",
    )
    .fetch_optional(&app.db)
    .await
    .unwrap()
}

/// Loads the form like a browser (page + CAPTCHA image), waits like a person, posts it.
pub async fn send_form(
    app: &TestApp,
    client: &Client,
    fields: &[(&str, &str)],
    captcha: Option<&str>,
) -> reqwest::Response {
    let token = csrf_in(&app.get_html(client, "/").await);
    if app.state.settings.captcha {
        let image = app.get(client, "/captcha").await;
        assert_eq!(image.status(), 200);
    }
    app.clock.advance(3);
    let answer = match captcha {
        Some(given) => given.to_string(),
        None => captcha_answer(app).await.unwrap_or_default().to_lowercase(),
    };
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("csrf_token", &token));
    all.push(("captcha", &answer));
    client.post(app.url("/")).form(&all).send().await.unwrap()
}

pub async fn stored(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM submissions")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_visitor_sends_the_form_and_sees_the_thank_you_page() {
    let app = spawn_app().await;
    let client = browser();
    let page = app.get_html(&client, "/").await;
    assert!(
        page.contains("name=\"website\"") && page.contains("aria-hidden=\"true\""),
        "honeypot present"
    );
    let res = send_form(
        &app,
        &client,
        &fields("Zoë Ñúñez", "zoe@example.com", PHONE),
        None,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/thanks");
    assert!(app.get_html(&client, "/thanks").await.contains("Thank you"));
    assert_eq!(stored(&app).await, 1);
    let (name, verification): (String, String) =
        sqlx::query_as("SELECT name, verification FROM submissions")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(
        name.starts_with("cvs1:") && !name.contains("Zoë"),
        "sealed to the inbox key at rest"
    );
    assert_eq!(verification, "offline", "no NumVerify key configured");
    assert!(
        app.audit_actions()
            .await
            .contains(&"RECEIVE_SUBMISSION".to_string())
    );
}

#[tokio::test]
async fn bad_fields_re_render_with_messages_and_the_input_kept() {
    let app = spawn_app().await;
    let client = browser();
    let mut bad = fields("", "not-an-email", "12");
    bad.retain(|(k, _)| *k != "preferred_time");
    bad.push(("preferred_time", "midnight"));
    bad.retain(|(k, _)| *k != "preferred_date");
    bad.push(("preferred_date", "2000-01-01"));
    let res = send_form(&app, &client, &bad, None).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    for id in [
        "name-error",
        "email-error",
        "phone-error",
        "preferred_time-error",
        "preferred_date-error",
    ] {
        let at = html
            .find(&format!("id=\"{id}\">"))
            .unwrap_or_else(|| panic!("{id}"));
        assert!(
            !html[at..].starts_with(&format!("id=\"{id}\"></p>")),
            "{id} has a message"
        );
    }
    assert!(html.contains("value=\"not-an-email\""), "input kept");
    assert_eq!(stored(&app).await, 0);

    let res = send_form(
        &app,
        &client,
        &fields("Ann", "ann@example.com", "+1 000 000 0000"),
        None,
    )
    .await;
    assert_eq!(res.status(), 400, "an impossible number is refused offline");
    assert!(res.text().await.unwrap().contains("does not exist"));
}

#[tokio::test]
async fn the_captcha_works_once_case_insensitively_and_expires() {
    let app = spawn_app_with(|s| s.captcha = true).await;
    let client = browser();
    let good = fields("Ann", "ann@example.com", PHONE);

    // Wrong answer: refused, and the right one for that image no longer works either.
    let token = csrf_in(&app.get_html(&client, "/").await);
    app.get(&client, "/captcha").await;
    let answer = captcha_answer(&app).await.unwrap();
    app.clock.advance(3);
    let mut wrong = good.clone();
    wrong.push(("csrf_token", &token));
    wrong.push(("captcha", "WRONG"));
    let res = client.post(app.url("/")).form(&wrong).send().await.unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("did not match"));
    let mut reused = good.clone();
    let token = csrf_in(&html);
    reused.push(("csrf_token", &token));
    reused.push(("captcha", &answer));
    app.clock.advance(3);
    let res = client
        .post(app.url("/"))
        .form(&reused)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        400,
        "a CAPTCHA answer works for one attempt only"
    );

    // Expired after ten minutes.
    let token = csrf_in(&app.get_html(&client, "/").await);
    app.get(&client, "/captcha").await;
    let answer = captcha_answer(&app).await.unwrap();
    app.clock.advance(11 * 60);
    let mut late = good.clone();
    late.push(("csrf_token", &token));
    late.push(("captcha", &answer));
    let res = client.post(app.url("/")).form(&late).send().await.unwrap();
    assert_eq!(res.status(), 400, "expired");
    assert_eq!(stored(&app).await, 0);

    // A fresh one typed in lower case passes.
    let res = send_form(&app, &client, &good, None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(stored(&app).await, 1);

    // A used answer replayed from another tab fails: it left the store.
    assert!(captcha_answer(&app).await.is_none());
}

#[tokio::test]
async fn captcha_images_are_fresh_png_and_rate_limited() {
    let app = spawn_app_with(|s| s.captcha = true).await;
    let client = browser();
    app.get(&client, "/").await;
    let first = app.get(&client, "/captcha").await;
    assert_eq!(first.headers()["content-type"], "image/png");
    assert_eq!(first.headers()["cache-control"], "no-store");
    assert!(first.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let a = captcha_answer(&app).await.unwrap();
    assert!(
        a.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    );
    for _ in 0..9 {
        assert_eq!(app.get(&client, "/captcha").await.status(), 200);
    }
    let res = app.get(&client, "/captcha").await;
    assert_eq!(res.status(), 429, "refresh is limited on the server");
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn bots_get_the_thank_you_page_and_nothing_is_stored() {
    let app = spawn_app().await;
    let client = browser();
    let mut with_honey = fields("Bot", "bot@example.com", PHONE);
    with_honey.push(("website", "http://spam.example"));
    let res = send_form(&app, &client, &with_honey, None).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/thanks");

    // Too fast: posted within two seconds of loading the form.
    let token = csrf_in(&app.get_html(&client, "/").await);
    let mut quick = fields("Bot", "bot@example.com", PHONE);
    quick.push(("csrf_token", &token));
    let res = client.post(app.url("/")).form(&quick).send().await.unwrap();
    assert_eq!(location(&res), "/thanks");
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn the_form_needs_its_csrf_token() {
    let app = spawn_app().await;
    let client = browser();
    app.get(&client, "/").await;
    app.clock.advance(3);
    let res = client
        .post(app.url("/"))
        .form(&fields("Ann", "ann@example.com", PHONE))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn submissions_are_limited_per_client_even_with_a_forged_forwarded_for() {
    let app = spawn_app().await;
    let client = browser();
    let token = csrf_in(&app.get_html(&client, "/").await);
    let mut form = fields("", "x", PHONE);
    form.push(("csrf_token", &token));
    for i in 0..5 {
        let res = client
            .post(app.url("/"))
            .header("X-Forwarded-For", format!("198.51.100.{i}"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), 429, "attempt {i}");
    }
    let res = client
        .post(app.url("/"))
        .header("X-Forwarded-For", "203.0.113.50")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.text().await.unwrap().contains("Too many attempts"));
}

async fn numverify_app(server: &MockServer) -> TestApp {
    let url = format!("{}/api/validate", server.uri());
    spawn_app_with(move |s| {
        s.numverify_api_key = Some(secrecy::SecretString::from("test-key".to_string()));
        s.numverify_url = url;
    })
    .await
}

async fn verification_of_last(
    app: &TestApp,
) -> (String, Option<String>, Option<String>, Option<String>) {
    sqlx::query_as("SELECT verification, line_type, carrier, country FROM submissions ORDER BY rowid DESC LIMIT 1")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn numverify_valid_marks_the_submission_verified_with_its_details() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/validate"))
        .and(query_param("access_key", "test-key"))
        .and(query_param("number", "442079460958"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "valid": true, "number": "442079460958", "country_code": "GB", "carrier": "BT", "line_type": "landline"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let app = numverify_app(&server).await;
    let res = send_form(
        &app,
        &browser(),
        &fields("Ann", "ann@example.com", PHONE),
        None,
    )
    .await;
    assert_eq!(res.status(), 303);
    let (v, line, carrier, country) = verification_of_last(&app).await;
    assert_eq!(v, "online");
    assert_eq!(line.as_deref(), Some("landline"));
    assert_eq!(carrier.as_deref(), Some("BT"));
    assert_eq!(country.as_deref(), Some("GB"));
}

#[tokio::test]
async fn numverify_invalid_is_shown_on_the_form() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"valid": false, "number": "442079460958"})),
        )
        .mount(&server)
        .await;
    let app = numverify_app(&server).await;
    let res = send_form(
        &app,
        &browser(),
        &fields("Ann", "ann@example.com", PHONE),
        None,
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This phone number is not valid.")
    );
    assert_eq!(stored(&app).await, 0);
}

#[tokio::test]
async fn numverify_failures_fall_back_to_the_offline_check() {
    for (label, response) in [
        (
            "error body",
            ResponseTemplate::new(200).set_body_json(
                json!({"success": false, "error": {"code": 104, "type": "usage_limit_reached"}}),
            ),
        ),
        ("server error", ResponseTemplate::new(500)),
        (
            "not json",
            ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"),
        ),
        (
            "too slow",
            ResponseTemplate::new(200)
                .set_body_json(json!({"valid": true}))
                .set_delay(std::time::Duration::from_secs(6)),
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(response)
            .mount(&server)
            .await;
        let app = numverify_app(&server).await;
        let res = send_form(
            &app,
            &browser(),
            &fields("Ann", "ann@example.com", PHONE),
            None,
        )
        .await;
        assert_eq!(res.status(), 303, "{label}");
        assert_eq!(verification_of_last(&app).await.0, "offline", "{label}");
    }
}

#[tokio::test]
async fn impossible_numbers_and_missing_keys_make_no_network_call() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let app = numverify_app(&server).await;
    let res = send_form(
        &app,
        &browser(),
        &fields("Ann", "ann@example.com", "+1 000 000 0000"),
        None,
    )
    .await;
    assert_eq!(res.status(), 400);

    let url = format!("{}/api/validate", server.uri());
    let keyless = spawn_app_with(move |s| s.numverify_url = url).await;
    let res = send_form(
        &keyless,
        &browser(),
        &fields("Ann", "ann@example.com", PHONE),
        None,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(verification_of_last(&keyless).await.0, "offline");
}

#[tokio::test]
async fn no_submission_field_is_stored_in_plaintext() {
    let app = spawn_app().await;
    let client = browser();
    let secret_name = "Wilhelmina Quackenbush";
    let secret_mail = "wq@very-unique.example";
    let mut f = fields(secret_name, secret_mail, PHONE);
    f.retain(|(k, _)| *k != "message");
    f.push(("message", "my secret message text"));
    assert_eq!(send_form(&app, &client, &f, None).await.status(), 303);
    for (path, bytes) in app.at_rest().await {
        let text = String::from_utf8_lossy(&bytes).to_string();
        for s in [
            secret_name,
            secret_mail,
            "my secret message text",
            "7946 0958",
            "79460958",
        ] {
            assert!(!text.contains(s), "{s} in {path}");
        }
    }
}

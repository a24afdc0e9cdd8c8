//! Journey 2 (and 7 without scripts): a visitor fills the public contact form.

use serde_json::json;
use thirtyfour::prelude::*;

use crate::common::{PHONE, check_page, count};
use crate::harness::{Browser, Scripts};
use crate::helpers::spawn_app_with;

const STORED: &str = "SELECT COUNT(*) FROM submissions";

/// The name assistive technology announces for the element `css` (Chromium's accessibility
/// tree, through DevTools).
async fn accessible_name(b: &Browser, css: &str) -> String {
    let doc = b.cdp("DOM.getDocument", json!({})).await;
    let node = b
        .cdp(
            "DOM.querySelector",
            json!({ "nodeId": doc["root"]["nodeId"], "selector": css }),
        )
        .await;
    let tree = b
        .cdp(
            "Accessibility.getPartialAXTree",
            json!({ "nodeId": node["nodeId"], "fetchRelatives": false }),
        )
        .await;
    tree["nodes"][0]["name"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The CAPTCHA's recording: reached with Tab, named for screen readers, and a sound the
/// browser can play (loading it does not change the challenge).
async fn check_recording(b: &Browser) {
    b.el("#message").await.click().await.expect("focus");
    b.tab_to("captcha-audio").await;
    assert_eq!(
        accessible_name(b, "#captcha-audio").await,
        "Listen to the characters"
    );
    b.js(
        "var a = document.getElementById('captcha-audio'); a.preload = 'auto'; a.load(); return true;",
        vec![],
    )
    .await;
    let deadline = std::time::Instant::now() + crate::harness::WAIT;
    loop {
        let state = b
            .js(
                "var a = document.getElementById('captcha-audio'); \
                 return [a.readyState, a.duration || 0, a.error ? a.error.code : 0];",
                vec![],
            )
            .await;
        assert_eq!(state[2], 0, "the recording decodes");
        if state[0].as_i64().unwrap_or(0) >= 1 {
            let seconds = state[1].as_f64().unwrap_or(0.0);
            assert!(seconds > 5.0, "five characters take a while ({seconds} s)");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the recording never loaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Fills every field of the form with valid values (the CAPTCHA aside).
async fn fill_valid(b: &Browser) {
    b.fill("#name", "Nadia Haddad").await;
    b.fill("#email", "nadia@example.com").await;
    b.fill("#phone", PHONE).await;
    b.el("label[for=time-afternoon]")
        .await
        .click()
        .await
        .expect("radio");
    b.fill("#message", "Please call me about the winter offer.")
        .await;
}

pub async fn visitor_journey(scripts: Scripts) {
    // CAPTCHA on: the refresh button and the refused answer.
    let app = spawn_app_with(|s| s.captcha = true).await;
    let b = Browser::start(&app.address, scripts).await;
    b.open("/").await;
    assert_eq!(b.text("h1").await, "Get in touch");
    let refresh = b.el("#captcha-refresh").await;
    assert_eq!(
        refresh.is_displayed().await.expect("displayed"),
        scripts == Scripts::On,
        "the refresh button needs scripts"
    );
    check_page(&b, "contact form").await;
    check_recording(&b).await;

    if scripts == Scripts::On {
        // Live validation: a message appears when a field is left wrong, and clears as the
        // visitor corrects it.
        b.el("#name").await.click().await.expect("focus");
        b.keys(Key::Tab).await;
        b.wait_text("#name-error", |t| t.contains("required")).await;
        assert_eq!(
            b.attr("#name", "aria-invalid").await.as_deref(),
            Some("true")
        );
        b.fill("#name", "Nadia").await;
        b.wait_text("#name-error", str::is_empty).await;
        assert_eq!(b.attr("#name", "aria-invalid").await, None);

        b.fill("#email", "nadia@").await;
        b.keys(Key::Tab).await;
        b.wait_text("#email-error", |t| t.contains("valid e-mail"))
            .await;
        b.assert_errors_tied("live validation").await;
        b.fill("#email", "nadia@example.com").await;
        b.wait_text("#email-error", str::is_empty).await;

        b.fill("#phone", "call me").await;
        b.keys(Key::Tab).await;
        b.wait_text("#phone-error", |t| t.contains("Use digits"))
            .await;
        b.fill("#phone", PHONE).await;
        b.wait_text("#phone-error", str::is_empty).await;

        // A new CAPTCHA image replaces the old one and the answer box is emptied.
        b.fill("#captcha", "ABC").await;
        let before = b.attr("#captcha-image", "src").await.unwrap_or_default();
        refresh.click().await.expect("refresh");
        let deadline = std::time::Instant::now() + crate::harness::WAIT;
        loop {
            let state = b
                .js(
                    "var i = document.getElementById('captcha-image'); \
                     return [i.getAttribute('src'), i.complete && i.naturalWidth > 0];",
                    vec![],
                )
                .await;
            if state[0].as_str() != Some(before.as_str()) && state[1] == true {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the image never changed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(b.value("#captcha").await, "");
        assert_eq!(b.focused().await, "captcha");
    } else {
        // Without scripts the server checks the fields: a bad address comes back marked.
        fill_valid(&b).await;
        b.fill("#email", "nadia@").await;
        b.fill("#captcha", "NOPE42").await;
        app.clock.advance(3);
        b.click_to_next_page("form button[type=submit]").await;
        assert!(!b.text("#email-error").await.is_empty());
        assert_eq!(
            b.attr("#email", "aria-invalid").await.as_deref(),
            Some("true")
        );
        check_page(&b, "contact form, server-side errors").await;
    }

    // A wrong CAPTCHA answer: the form comes back with the error under the CAPTCHA and the
    // visitor's text kept; nothing is stored.
    fill_valid(&b).await;
    b.fill("#captcha", "NOPE42").await;
    app.clock.advance(3); // the minimum fill time
    b.click_to_next_page("form button[type=submit]").await;
    assert_eq!(b.path_now().await, "/");
    assert!(b.text("#captcha-error").await.contains("did not match"));
    assert_eq!(
        b.attr("#captcha", "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(b.value("#name").await, "Nadia Haddad");
    check_page(&b, "contact form with a wrong CAPTCHA").await;
    assert_eq!(count(&app, STORED).await, 0);
    b.quit().await;

    // CAPTCHA off: the happy path ends on the thank-you page.
    let app = spawn_app_with(|s| s.captcha = false).await;
    let b = Browser::start(&app.address, scripts).await;
    b.open("/").await;
    assert!(!b.exists("#captcha").await);
    fill_valid(&b).await;
    app.clock.advance(3);
    b.click_to_next_page("form button[type=submit]").await;
    assert_eq!(b.path_now().await, "/thanks");
    assert_eq!(b.text("h1").await, "Thank you");
    check_page(&b, "thank-you page").await;
    assert_eq!(count(&app, STORED).await, 1);
    b.quit().await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j2_visitor_sends_the_contact_form() {
    visitor_journey(Scripts::On).await;
}

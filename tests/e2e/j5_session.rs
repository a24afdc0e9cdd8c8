//! Journey 5: an idle session ends. With a one-minute idle timeout the countdown in the top bar
//! runs out, the page moves to the login page with a message, and no contact is shown any more,
//! not even through the back button (pages are `Cache-Control: no-store`).

use std::time::Duration;

use serde_json::json;

use crate::common::{check_page, seed_contacts, sign_in};
use crate::harness::{Browser, Scripts};
use crate::helpers::spawn_app_with;

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j5_an_idle_session_ends_and_shows_no_data() {
    let app = spawn_app_with(|s| s.session_idle_minutes = 1).await;
    let user = app.create_user("casey", "user").await;
    seed_contacts(
        &app,
        &user,
        &[json!({"name": "Grace Hopper", "phone": "+1 202 555 0143", "company": "US Navy"})],
    )
    .await;
    let b = Browser::start(&app.address, Scripts::On).await;
    sign_in(&b, &app, &user).await;
    assert!(b.text("main").await.contains("Grace Hopper"));

    // The countdown runs, and warns at once (less than two minutes are left).
    let first = b
        .wait_text("#session-countdown", |t| t.ends_with(" left"))
        .await;
    assert!(
        first.starts_with("01:00") || first.starts_with("00:5"),
        "{first}"
    );
    b.wait_text("#session-countdown", |t| t.starts_with("00:5"))
        .await;
    assert!(
        b.attr("#session-countdown", "class")
            .await
            .unwrap_or_default()
            .contains("countdown-warn")
    );
    let announced = b
        .js(
            "return document.getElementById('session-announcer').textContent;",
            vec![],
        )
        .await;
    assert!(
        announced
            .as_str()
            .unwrap_or_default()
            .contains("Your session ends in 1 minute."),
        "{announced}"
    );

    // A real minute of idleness (plus the script's grace): the page leaves by itself.
    let path = b
        .wait_path_for("the login page", Duration::from_secs(90), |p| {
            p.starts_with("/login")
        })
        .await;
    assert_eq!(path, "/login?expired=1");
    b.wait_loaded().await;
    assert!(
        b.text(".flash-info")
            .await
            .contains("Your session ended. Please sign in again.")
    );
    assert!(!b.page_text().await.contains("Grace Hopper"));
    check_page(&b, "login after expiry").await;

    // The back button asks the server again, which sends the browser to sign in.
    b.leave_page_by(|| async { b.driver().back().await.expect("back") })
        .await;
    assert!(
        b.path_now().await.starts_with("/login"),
        "{}",
        b.path_now().await
    );
    assert!(!b.page_text().await.contains("Grace Hopper"));

    // So does the next thing the person does.
    b.open("/contacts/new").await;
    assert!(b.path_now().await.starts_with("/login"));
    b.open("/contacts").await;
    assert!(b.path_now().await.starts_with("/login"));
    assert!(!b.page_text().await.contains("Grace Hopper"));
    b.quit().await;
}

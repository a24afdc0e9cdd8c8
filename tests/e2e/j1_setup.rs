//! Journey 1: the first run. The setup link creates the first admin, who enrols TOTP with a
//! code computed from the key on the page and is shown the recovery codes once.

use contact_vault::crypto::totp;

use crate::common::check_page;
use crate::harness::{Browser, Scripts};
use crate::helpers::spawn_app;

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j1_first_run_creates_the_admin_with_totp_and_recovery_codes() {
    let app = spawn_app().await;
    let setup_url = app
        .setup_url
        .clone()
        .expect("no admin yet, so a setup link");
    let setup_path = setup_url.trim_start_matches(&app.address).to_string();
    let b = Browser::start(&app.address, Scripts::On).await;

    b.open(&setup_path).await;
    assert!(b.text("h1").await.contains("Welcome"));
    check_page(&b, "setup").await;

    // A mismatch first: the page says so under the field, and keeps the username.
    b.fill("#username", "vault-admin").await;
    b.fill("#password", "Harbour-Lantern-42").await;
    b.fill("#password_confirm", "Harbour-Lantern-43").await;
    b.click_to_next_page("main button[type=submit]").await;
    assert!(b.text("#password_confirm-error").await.contains("differ"));
    assert_eq!(
        b.attr("#password_confirm", "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(b.value("#username").await, "vault-admin");
    check_page(&b, "setup with an error").await;

    b.fill("#password", "Harbour-Lantern-42").await;
    b.fill("#password_confirm", "Harbour-Lantern-42").await;
    b.click_to_next_page("main button[type=submit]").await;

    // TOTP enrolment: the key is on the page, in base32.
    assert_eq!(b.path_now().await, "/account/totp");
    assert!(
        b.text(".flash-success")
            .await
            .contains("Admin account created")
    );
    assert!(b.exists(".qr svg").await, "a QR code to scan");
    let shown = b.text("#totp-secret").await;
    let secret = totp_rs::Secret::try_from_base32(shown.replace(' ', ""))
        .expect("the key is base32")
        .as_bytes()
        .to_vec();
    check_page(&b, "TOTP enrolment").await;

    // A wrong code is refused under the field.
    let good = totp::code_at(&secret, app.clock.now() as u64);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    b.fill("#code", wrong).await;
    b.click_to_next_page("main button[type=submit]").await;
    assert!(!b.text("#code-error").await.is_empty());
    b.assert_errors_tied("TOTP enrolment with an error").await;

    b.fill("#code", &good).await;
    b.click_to_next_page("main button[type=submit]").await;

    // The recovery codes, once.
    assert!(b.text("h1").await.contains("recovery codes"));
    let codes: Vec<String> = {
        let mut out = Vec::new();
        for li in b.all("#recovery-codes li").await {
            out.push(li.text().await.expect("code"));
        }
        out
    };
    assert_eq!(codes.len(), 10, "ten recovery codes: {codes:?}");
    assert!(codes.iter().all(|c| c.len() >= 8), "{codes:?}");
    check_page(&b, "recovery codes").await;

    b.click_to_next_page("main a.btn-primary").await;
    assert_eq!(b.path_now().await, "/account");
    let account = b.page_text().await;
    assert!(
        account.contains("10 unused recovery codes left"),
        "{account}"
    );
    assert!(
        codes.iter().all(|c| !account.contains(c.as_str())),
        "the codes are not shown again"
    );
    check_page(&b, "account").await;

    // The admin exists: the setup link is spent.
    b.open(&setup_path).await;
    assert!(b.text(".error-code").await.contains("404"));
    let admin = app.user_row("vault-admin").await;
    assert!(admin.is_admin() && admin.totp_enabled);

    b.quit().await;
}

//! Journey 6: every page, in both themes. No console error, no CSP violation, no serious or
//! critical axe finding, nothing scrolling sideways at 375 px, and the book using the width at
//! 1280 px. The main pages are saved as screenshots (light and dark) for the README.

use crate::common::{PHONE, check_page, sample_contacts, seed_contacts, seed_submission};
use crate::harness::{Browser, Scripts, Theme};

/// Checks the current page, then saves it as `<name>-light.png` and `<name>-dark.png`.
async fn check_and_shoot(b: &Browser, name: &str) {
    check_page(b, name).await;
    b.screenshot(name, Theme::Light).await;
    b.set_theme(Theme::Dark).await;
    b.screenshot(name, Theme::Dark).await;
    b.set_theme(Theme::Light).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j6_every_page_is_clean_accessible_and_fits_in_both_themes() {
    let app = crate::helpers::spawn_app().await;
    let admin = app.create_user("morgan", "admin").await;
    let user = app.create_user("casey", "user").await;
    seed_contacts(&app, &admin, &sample_contacts()).await;
    seed_submission(
        &app,
        "Nadia Haddad",
        "nadia@example.com",
        PHONE,
        "Hello! Could you call me about the winter offer? Afternoons suit me best.",
    )
    .await;
    seed_submission(
        &app,
        "Nadia H.",
        "nadia@example.com",
        PHONE,
        "Sorry, me again: any afternoon this week.",
    )
    .await;
    seed_submission(
        &app,
        "Tomás Ortega",
        "tomas@example.es",
        "+34 912 345 678",
        "",
    )
    .await;

    let b = Browser::start(&app.address, Scripts::On).await;

    // Public pages.
    b.open("/").await;
    check_and_shoot(&b, "form").await;
    b.screenshot_narrow("form-phone", Theme::Light).await;
    b.open("/thanks").await;
    check_page(&b, "thank-you page").await;
    b.open("/no/such/page").await;
    assert!(b.text(".error-code").await.contains("404"));
    check_page(&b, "not found").await;

    // Sign-in pages.
    b.open("/login").await;
    check_and_shoot(&b, "login").await;
    b.fill("#username", &admin.username).await;
    b.fill("#password", &admin.password).await;
    b.click_to_next_page("main button[type=submit]").await;
    assert_eq!(b.path_now().await, "/login/totp");
    check_and_shoot(&b, "totp").await;
    b.fill(
        "#code",
        &app.next_code(admin.secret.as_ref().expect("secret")),
    )
    .await;
    b.click_to_next_page("main button[type=submit]").await;

    // The book, and what it shows at 1280 px: the table takes most of the width.
    assert_eq!(b.path_now().await, "/contacts");
    let widths = b
        .js(
            "return [document.querySelector('.book-table').getBoundingClientRect().width, \
                     window.innerWidth];",
            vec![],
        )
        .await;
    let (table, window) = (
        widths[0].as_f64().unwrap_or(0.0),
        widths[1].as_f64().unwrap_or(1.0),
    );
    assert!(window >= 1200.0, "the window is {window} px wide");
    assert!(
        table >= 0.8 * window.min(1152.0),
        "the book table is only {table} px wide at {window} px"
    );
    let wrapped = b
        .js(
            r#"
            var out = [];
            document.querySelectorAll('.book-table td.mono').forEach(function (td) {
              var range = document.createRange();
              range.selectNodeContents(td);
              var lines = new Set(Array.from(range.getClientRects()).map(function (r) {
                return Math.round(r.top);
              }));
              if (lines.size > 1) out.push(td.textContent.trim());
            });
            return out;
            "#,
            vec![],
        )
        .await;
    assert_eq!(
        wrapped,
        serde_json::json!([]),
        "phone numbers and dates stay on one line at 1280 px"
    );
    check_and_shoot(&b, "book").await;
    b.set_theme(Theme::Dark).await;
    b.screenshot_narrow("book-phone", Theme::Dark).await;
    b.set_theme(Theme::Light).await;

    b.click_text_to_next_page("a.contact-link", "Ada Lovelace")
        .await;
    let ada = b.path_now().await;
    check_and_shoot(&b, "contact").await;
    b.open(&format!("{ada}/edit")).await;
    check_page(&b, "edit contact").await;
    b.open(&format!("{ada}/delete")).await;
    check_page(&b, "delete contact").await;
    b.open("/contacts/new").await;
    check_page(&b, "new contact").await;
    b.open("/contacts/import").await;
    check_page(&b, "import").await;
    b.open("/contacts?tag=maths&sort=created&order=desc").await;
    check_page(&b, "book, filtered").await;
    b.open("/contacts?q=nobody").await;
    check_page(&b, "book, no match").await;

    // Account and own activity.
    b.open("/account").await;
    check_page(&b, "account").await;
    b.open("/audit").await;
    check_page(&b, "my activity").await;

    // Admin pages.
    b.open("/admin/submissions").await;
    assert!(b.text("main table").await.contains("2nd message"));
    check_and_shoot(&b, "inbox").await;
    b.click_text_to_next_page("main table a", "Nadia H.").await;
    check_and_shoot(&b, "message").await;
    b.open("/admin/users").await;
    check_and_shoot(&b, "users").await;
    b.open("/admin/users/casey/delete").await;
    check_page(&b, "delete user").await;
    b.open("/admin/audit").await;
    check_and_shoot(&b, "audit").await;
    b.open("/admin/notifications").await;
    assert!(b.text("main").await.contains("No channel is configured"));
    check_page(&b, "notifications").await;

    // A user's pages: the empty book and two-step enrolment.
    b.click_to_next_page("form[action='/logout'] button").await;
    check_page(&b, "signed out").await;
    b.fill("#username", &user.username).await;
    b.fill("#password", &user.password).await;
    b.click_to_next_page("main button[type=submit]").await;
    assert_eq!(b.path_now().await, "/contacts");
    assert!(b.text("main").await.contains("Your contact book is empty"));
    check_page(&b, "empty book").await;
    b.open("/account/totp").await;
    check_page(&b, "two-step enrolment").await;
    b.open("/admin/users").await;
    check_page(&b, "forbidden").await;

    b.quit().await;
}

//! Journey 3 (and 7 without scripts): the admin signs in with password and TOTP and works a
//! message from the public form: reads it, adds a note, sets a status, turns it into a contact.

use crate::common::{PHONE, check_page, count, seed_submission};
use crate::harness::{Browser, Scripts};
use crate::helpers::spawn_app;

pub async fn inbox_journey(scripts: Scripts) {
    let app = spawn_app().await;
    seed_submission(
        &app,
        "Nadia Haddad",
        "nadia@example.com",
        PHONE,
        "Please call me about the winter offer.",
    )
    .await;
    let admin = app.create_user("root", "admin").await;
    let b = Browser::start(&app.address, scripts).await;

    // Password, then the TOTP step.
    b.open("/login").await;
    check_page(&b, "login").await;
    b.fill("#username", &admin.username).await;
    b.fill("#password", "not-the-password").await;
    b.click_to_next_page("main button[type=submit]").await;
    assert!(
        b.text("#login-error")
            .await
            .contains("Invalid username or password")
    );
    check_page(&b, "login with an error").await;
    b.fill("#password", &admin.password).await;
    b.click_to_next_page("main button[type=submit]").await;
    assert_eq!(b.path_now().await, "/login/totp");
    check_page(&b, "TOTP step").await;
    b.fill(
        "#code",
        &app.next_code(admin.secret.as_ref().expect("secret")),
    )
    .await;
    b.click_to_next_page("main button[type=submit]").await;
    assert_eq!(b.path_now().await, "/contacts");

    // The inbox lists the message.
    b.click_to_next_page("nav a[href='/admin/submissions']")
        .await;
    assert_eq!(b.path_now().await, "/admin/submissions");
    let row = b.text("main table tbody tr").await;
    assert!(
        row.contains("Nadia Haddad") && row.contains("nadia@example.com"),
        "{row}"
    );
    assert!(row.contains("new"), "{row}");
    check_page(&b, "inbox").await;

    b.click_to_next_page("main table tbody tr a").await;
    assert!(b.path_now().await.starts_with("/admin/submissions/"));
    assert_eq!(b.text("h1").await, "Message from Nadia Haddad");
    assert!(
        b.page_text()
            .await
            .contains("Please call me about the winter offer.")
    );
    check_page(&b, "message").await;

    // A note.
    b.fill("#note", "Called back; wants a quote by Friday.")
        .await;
    b.click_to_next_page("form[action$='/note'] button").await;
    assert!(b.text(".flash-success").await.contains("Note added"));
    let notes = b.text(".notes-list").await;
    assert!(notes.contains("Called back; wants a quote by Friday.") && notes.contains("root"));

    // A status.
    b.el("#status option[value=contacted]")
        .await
        .click()
        .await
        .expect("option");
    b.click_to_next_page("form[action$='/status'] button").await;
    assert!(
        b.text(".flash-success")
            .await
            .contains("Status set to contacted")
    );
    assert_eq!(b.value("#status").await, "contacted");

    // Into the admin's own contacts.
    b.click_to_next_page("form[action$='/convert'] button")
        .await;
    assert!(b.path_now().await.starts_with("/contacts/"));
    assert!(
        b.text(".flash-success")
            .await
            .contains("Added to your contacts")
    );
    assert!(b.text("h1").await.contains("Nadia Haddad"));
    assert!(b.page_text().await.contains(PHONE));
    check_page(&b, "converted contact").await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM contacts").await, 1);

    // The message now links to the contact, and the inbox shows the new status.
    b.open("/admin/submissions?status=contacted").await;
    assert!(b.text("main table").await.contains("Nadia Haddad"));
    b.click_to_next_page("main table tbody tr a").await;
    assert!(b.text("main").await.contains("Added to contacts"));

    // Signing out ends it.
    b.click_to_next_page("form[action='/logout'] button").await;
    assert!(b.path_now().await.starts_with("/login"));
    assert!(b.text(".flash").await.contains("signed out"));
    b.open("/admin/submissions").await;
    assert!(b.path_now().await.starts_with("/login"));
    b.quit().await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j3_admin_works_the_inbox() {
    inbox_journey(Scripts::On).await;
}

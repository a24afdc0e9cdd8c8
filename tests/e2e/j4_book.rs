//! Journey 4 (and 7 without scripts): a user keeps a contact book. Signs in and adds the first
//! contact with the keyboard alone, edits, marks a favorite, imports a CSV file through the
//! file input, pages, searches, filters by tag, exports, deletes with confirmation.

use std::fmt::Write as _;

use thirtyfour::prelude::*;

use crate::common::check_page;
use crate::harness::{Browser, Scripts};
use crate::helpers::{TestApp, TestUser, spawn_app};

/// 60 rows: "Member 01" .. "Member 60"; every third is tagged `chess`, the rest `club`.
fn members_csv() -> String {
    let mut csv = String::from("name,phone,email,address,company,notes,tags,favorite\n");
    for n in 1..=60 {
        let tags = if n % 3 == 0 { "club|chess" } else { "club" };
        writeln!(
            csv,
            "Member {n:02},+1 555 010 {n:04},member{n}@example.net,,Chess Club,,{tags},false"
        )
        .expect("write");
    }
    csv
}

/// The names in the table of the current page.
async fn names_shown(b: &Browser) -> Vec<String> {
    let mut names = Vec::new();
    for link in b.all(".book-table a.contact-link").await {
        names.push(link.text().await.expect("name"));
    }
    names
}

/// Signs in and adds Ada with the keyboard alone (Tab, typing, Enter), checking on the way
/// that every control reached shows where the focus is.
async fn keyboard_only_start(b: &Browser, user: &TestUser) {
    b.open("/login").await;
    b.tab_to("username").await;
    b.keys(user.username.as_str()).await;
    b.tab_to("password").await;
    b.keys(user.password.as_str()).await;
    b.leave_page_by(|| b.keys(Key::Enter)).await;
    assert_eq!(b.path_now().await, "/contacts");
    assert!(b.text("main").await.contains("Your contact book is empty"));

    b.tab_to("a:Add contact").await;
    b.leave_page_by(|| b.keys(Key::Enter)).await;
    assert_eq!(b.path_now().await, "/contacts/new");
    b.tab_to("name").await;
    b.keys("Ada Lovelace").await;
    b.tab_to("phone").await;
    b.keys("+44 20 7946 0001").await;
    b.tab_to("email").await;
    b.keys("ada@example.org").await;
    b.tab_to("tags").await;
    b.keys("work, maths").await;
    b.leave_page_by(|| b.keys(Key::Enter)).await;
}

/// Signs in and adds Ada by pointing and clicking.
async fn mouse_start(b: &Browser, user: &TestUser) {
    b.open("/login").await;
    b.fill("#username", &user.username).await;
    b.fill("#password", &user.password).await;
    b.click_to_next_page("main button[type=submit]").await;
    assert_eq!(b.path_now().await, "/contacts");
    b.click_text_to_next_page("main a", "Add contact").await;
    b.fill("#name", "Ada Lovelace").await;
    b.fill("#phone", "+44 20 7946 0001").await;
    b.fill("#email", "ada@example.org").await;
    b.fill("#tags", "work, maths").await;
    b.click_to_next_page("form.book-form button[type=submit]")
        .await;
}

pub async fn book_journey(scripts: Scripts) {
    let app: TestApp = spawn_app().await;
    let user = app.create_user("casey", "user").await;
    let b = Browser::start(&app.address, scripts).await;

    // Sign in and add the first contact.
    if scripts == Scripts::On {
        keyboard_only_start(&b, &user).await;
    } else {
        mouse_start(&b, &user).await;
    }
    assert!(b.path_now().await.starts_with("/contacts/"));
    assert!(b.text(".flash-success").await.contains("Contact added"));
    // With scripts the countdown ticks; without, the server's text stays.
    let countdown = b.text("#session-countdown").await;
    assert_eq!(
        countdown.ends_with(" left"),
        scripts == Scripts::On,
        "{countdown}"
    );
    assert_eq!(b.text("h1").await, "Ada Lovelace");
    let ada_path = b.path_now().await;
    check_page(&b, "contact").await;

    // Edit: a bad phone comes back marked under the field; a good one is saved.
    b.click_text_to_next_page(".page-head a", "Edit").await;
    assert_eq!(b.path_now().await, format!("{ada_path}/edit"));
    b.fill("#phone", "12").await;
    b.fill("#company", "Analytical Engines Ltd").await;
    b.click_to_next_page("form.book-form button[type=submit]")
        .await;
    assert!(!b.text("#phone-error").await.is_empty());
    assert_eq!(
        b.attr("#phone", "aria-invalid").await.as_deref(),
        Some("true")
    );
    assert_eq!(b.value("#company").await, "Analytical Engines Ltd");
    check_page(&b, "contact form with an error").await;
    b.fill("#phone", "+44 20 7946 0002").await;
    b.click_to_next_page("form.book-form button[type=submit]")
        .await;
    assert_eq!(b.path_now().await, ada_path);
    assert!(b.text(".flash-success").await.contains("Contact saved"));
    let details = b.text(".details").await;
    assert!(details.contains("+44 20 7946 0002") && details.contains("Analytical Engines Ltd"));

    // Favorite.
    let star = "form[action$='/favorite'] button";
    assert_eq!(b.attr(star, "aria-pressed").await.as_deref(), Some("false"));
    b.click_to_next_page(star).await;
    assert!(
        b.text(".flash-success")
            .await
            .contains("Marked as favorite")
    );
    assert_eq!(b.attr(star, "aria-pressed").await.as_deref(), Some("true"));

    // Import 60 more through the file input.
    b.click_text_to_next_page("a", "← All contacts").await;
    b.click_text_to_next_page(".page-head a", "Import CSV")
        .await;
    assert_eq!(b.path_now().await, "/contacts/import");
    check_page(&b, "import").await;
    let file = app.dir.path().join("members.csv");
    std::fs::write(&file, members_csv()).expect("csv written");
    b.el("#file")
        .await
        .send_keys(file.to_str().expect("path"))
        .await
        .expect("file chosen");
    // The form carries the progress bar that the script shows while the file goes up.
    assert!(
        b.exists("form[data-upload-progress] .upload-progress progress")
            .await
    );
    b.click_to_next_page("form[enctype] button[type=submit]")
        .await;
    assert_eq!(b.path_now().await, "/contacts");
    if scripts == Scripts::On {
        // With the script the file went up by XMLHttpRequest (the enhanced path); without it
        // the same form posted as it is (j7c).
        let by_xhr = b
            .js(
                "return performance.getEntriesByType('resource').some(function (e) { \
                 return e.initiatorType === 'xmlhttprequest' && e.name.indexOf('/contacts/import') >= 0; });",
                Vec::new(),
            )
            .await;
        assert_eq!(by_xhr, serde_json::Value::Bool(true));
    }
    assert!(
        b.text(".flash-success")
            .await
            .contains("60 added, 0 skipped")
    );
    assert!(
        b.text("#book-stats")
            .await
            .contains("61 contacts · 1 favorite")
    );

    // Pages of 50.
    assert_eq!(names_shown(&b).await.len(), 50);
    assert!(b.text(".pager").await.contains("Page 1 of 2"));
    check_page(&b, "contact book").await;
    b.click_to_next_page(".pager a[rel=next]").await;
    assert!(b.text(".pager").await.contains("Page 2 of 2"));
    assert_eq!(names_shown(&b).await.len(), 11);
    b.click_to_next_page(".pager a[rel=prev]").await;
    assert!(b.text(".pager").await.contains("Page 1 of 2"));

    // Search by typing in the search box (Enter sends it).
    b.fill("#book-q", "lovelace").await;
    b.leave_page_by(|| async {
        b.el("#book-q")
            .await
            .send_keys(Key::Enter)
            .await
            .expect("enter")
    })
    .await;
    assert_eq!(names_shown(&b).await, ["Ada Lovelace"]);
    assert!(b.text("#book-stats").await.contains("1 match"));
    assert!(!b.text("#book-stats").await.contains("1 matches"));
    b.click_text_to_next_page(".book-search a", "Reset").await;
    assert_eq!(b.path_now().await, "/contacts");

    // Filter by a tag, then favorites only.
    b.click_text_to_next_page("nav[aria-label=Tags] a.chip", "chess")
        .await;
    let chess = names_shown(&b).await;
    assert_eq!(chess.len(), 20, "{chess:?}");
    assert!(chess.iter().all(|n| n.starts_with("Member ")));
    assert_eq!(
        b.text("nav[aria-label=Tags] [aria-current=true]").await,
        "chess"
    );
    assert!(b.text("#book-stats").await.contains("20 matches"));
    b.click_text_to_next_page("nav[aria-label=Tags] a.chip", "× Any tag")
        .await;
    b.click_text_to_next_page("nav[aria-label=Show] a.chip", "★ Favorites only")
        .await;
    assert_eq!(names_shown(&b).await, ["Ada Lovelace"]);
    b.click_text_to_next_page("nav[aria-label=Show] a.chip", "All contacts")
        .await;

    // Export: the browser downloads every contact.
    b.el_with_text(".page-head a", "Export CSV")
        .await
        .click()
        .await
        .expect("export");
    let export = std::fs::read_to_string(b.wait_download("contacts.csv").await).expect("csv");
    let mut lines = export.lines();
    assert!(
        lines
            .next()
            .unwrap_or_default()
            .starts_with("name,phone,email,address,company,notes,tags,favorite")
    );
    assert_eq!(lines.count(), 61);
    assert!(export.contains("Ada Lovelace,+44 20 7946 0002,ada@example.org"));

    // Delete, with confirmation.
    b.open(&ada_path).await;
    b.click_text_to_next_page(".page-head a", "Delete").await;
    assert_eq!(b.path_now().await, format!("{ada_path}/delete"));
    assert_eq!(b.text("h1").await, "Delete Ada Lovelace?");
    check_page(&b, "delete confirmation").await;
    let button = "form[action$='/delete'] button";
    if scripts == Scripts::On {
        // Changing one's mind in the dialog keeps the contact.
        b.el(button).await.click().await.expect("click");
        b.answer_confirm("Delete Ada Lovelace for good?", false)
            .await;
        assert_eq!(b.path_now().await, format!("{ada_path}/delete"));
        b.leave_page_by(|| async {
            b.el(button).await.click().await.expect("click");
            b.answer_confirm("Delete Ada Lovelace for good?", true)
                .await;
        })
        .await;
    } else {
        b.click_to_next_page(button).await;
    }
    assert_eq!(b.path_now().await, "/contacts");
    assert!(b.text(".flash-success").await.contains("Contact deleted"));
    assert!(
        b.text("#book-stats")
            .await
            .contains("60 contacts · 0 favorites")
    );
    b.open(&ada_path).await;
    assert!(b.text(".error-code").await.contains("404"));
    b.quit().await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j4_user_keeps_a_contact_book() {
    book_journey(Scripts::On).await;
}

//! Journey 7: with JavaScript disabled in Chromium, a person still completes journeys 2 to 4:
//! the server validates, the delete confirmation is its own page, nothing depends on a script.

use crate::harness::Scripts;
use crate::j2_visitor::visitor_journey;
use crate::j3_inbox::inbox_journey;
use crate::j4_book::book_journey;

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j7a_without_javascript_a_visitor_sends_the_contact_form() {
    visitor_journey(Scripts::Off).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j7b_without_javascript_the_admin_works_the_inbox() {
    inbox_journey(Scripts::Off).await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver: cargo test --test e2e -- --ignored --test-threads=1"]
async fn j7c_without_javascript_a_user_keeps_a_contact_book() {
    book_journey(Scripts::Off).await;
}

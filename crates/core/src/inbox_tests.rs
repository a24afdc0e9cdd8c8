//! The inbox through its service, against a real SQLite file: what a visitor sends is stored
//! sealed and read back whole, statuses and notes are checked, converting makes a contact in
//! the admin's book, and every step is audited.

use crate::crypto::inbox_key::InboxKey;
use crate::domain::paging::Paging;
use crate::domain::phone::{PhoneInfo, Verification};
use crate::domain::submission::{PreferredTime, Submission};
use crate::error::Error;
use crate::testing::{self, actions};
use crate::{book, inbox};

fn message(name: &str, phone: &str) -> Submission {
    Submission {
        name: name.into(),
        email: "visitor@example.com".into(),
        phone: phone.into(),
        preferred_time: PreferredTime::Evening,
        preferred_date: None,
        message: "Please call me back about the quote.".into(),
    }
}

fn offline() -> PhoneInfo {
    PhoneInfo {
        verification: Verification::Offline,
        line_type: None,
        carrier: None,
        country: Some("US".into()),
    }
}

/// The inbox key as the admin's request would find it.
async fn inbox_key(v: &crate::vault::Vault, admin: &crate::store::users::UserRow) -> InboxKey {
    inbox::key::pass_by(v, admin).await.expect("passed by");
    inbox::key::key_of(v, admin)
        .await
        .expect("read")
        .expect("the admin holds the inbox key")
}

const FIRST_PAGE: Paging = Paging {
    page: 1,
    per_page: 50,
};

#[tokio::test]
async fn a_message_is_stored_sealed_and_read_back_whole() {
    let v = testing::vault().await;
    let admin = testing::user(&v, "boss", "admin").await;
    let key = inbox_key(&v, &admin).await;
    let id = inbox::submit(&v, &message("Zoë Visitor", "+1 555 0100"), &offline())
        .await
        .expect("stored");
    let mut conn = v.db.acquire().await.expect("connection");
    let stored = crate::store::submissions::find(&mut conn, &id)
        .await
        .expect("query")
        .expect("row");
    drop(conn);
    for sealed in [&stored.name, &stored.email, &stored.phone, &stored.message] {
        assert!(
            !sealed.contains("Visitor")
                && !sealed.contains("555 0100")
                && !sealed.contains("quote")
        );
    }
    let (seen, notes) = inbox::view(&v, &admin, &key, &id).await.expect("found");
    assert_eq!(seen.name, "Zoë Visitor");
    assert_eq!(seen.message, "Please call me back about the quote.");
    assert_eq!(seen.preferred_time, "evening");
    assert_eq!(seen.status, "new");
    assert_eq!(seen.verification, "offline");
    assert_eq!(seen.nth, 1);
    assert!(notes.is_empty());
    assert_eq!(
        inbox::counts(&v).await.expect("counts"),
        [("new", 1), ("contacted", 0), ("closed", 0), ("spam", 0)]
    );
    let trail = actions(&v).await;
    assert_eq!(
        &trail[trail.len() - 2..],
        ["RECEIVE_SUBMISSION", "VIEW_SUBMISSION"]
    );

    // The same sender again is counted as their second message.
    let again = inbox::submit(&v, &message("Zoë Visitor", "+1 555 0100"), &offline())
        .await
        .expect("stored");
    let (second, _) = inbox::view(&v, &admin, &key, &again).await.expect("found");
    assert_eq!(second.nth, 2);
}

#[tokio::test]
async fn statuses_and_notes_are_checked_and_audited() {
    let v = testing::vault().await;
    let admin = testing::user(&v, "boss", "admin").await;
    let key = inbox_key(&v, &admin).await;
    let id = inbox::submit(&v, &message("Ann", "555 0101"), &offline())
        .await
        .expect("stored");
    let before = actions(&v).await.len();
    assert!(matches!(
        inbox::set_status(&v, &admin, &id, "deleted-ish").await,
        Err(Error::Invalid(f)) if f.contains_key("status")
    ));
    assert!(matches!(
        inbox::add_note(&v, &admin, &key, &id, "   ").await,
        Err(Error::Invalid(f)) if f.contains_key("note")
    ));
    assert!(matches!(
        inbox::set_status(&v, &admin, "no-such-id", "closed").await,
        Err(Error::NotFound)
    ));
    assert_eq!(actions(&v).await.len(), before, "refusals change nothing");

    inbox::set_status(&v, &admin, &id, "contacted")
        .await
        .expect("status set");
    inbox::add_note(&v, &admin, &key, &id, "Called, left a message.")
        .await
        .expect("note added");
    let (seen, notes) = inbox::view(&v, &admin, &key, &id).await.expect("found");
    assert_eq!(seen.status, "contacted");
    assert_eq!(notes.len(), 1);
    let (contacted, total) = inbox::list(&v, &key, Some("contacted"), FIRST_PAGE)
        .await
        .expect("list");
    assert_eq!((contacted.len(), total), (1, 1));
    let trail = actions(&v).await;
    assert!(trail.ends_with(&[
        "STATUS_SUBMISSION".to_string(),
        "NOTE_SUBMISSION".to_string(),
        "VIEW_SUBMISSION".to_string()
    ]));
}

#[tokio::test]
async fn converting_makes_a_contact_in_the_admins_book_once() {
    let v = testing::vault().await;
    let admin = testing::user(&v, "boss", "admin").await;
    let key = inbox_key(&v, &admin).await;
    let id = inbox::submit(&v, &message("Lee Caller", "555 0102"), &offline())
        .await
        .expect("stored");
    let contact_id = inbox::convert(&v, &admin, &key, &id)
        .await
        .expect("converted");
    let contact = book::get(&v, &admin, &contact_id)
        .await
        .expect("in the book");
    assert_eq!(contact.contact.name, "Lee Caller");
    assert_eq!(contact.contact.tags, ["contact-form"]);
    let (seen, _) = inbox::view(&v, &admin, &key, &id).await.expect("found");
    assert_eq!(seen.contact_id.as_deref(), Some(contact_id.as_str()));
    // A second conversion would be the same person: refused as a duplicate of the first.
    match inbox::convert(&v, &admin, &key, &id).await {
        Err(Error::Duplicate(Some(existing))) => assert_eq!(existing, contact_id),
        other => panic!("expected a duplicate, got {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_message_is_gone() {
    let v = testing::vault().await;
    let admin = testing::user(&v, "boss", "admin").await;
    let key = inbox_key(&v, &admin).await;
    let id = inbox::submit(&v, &message("Gone Soon", "555 0103"), &offline())
        .await
        .expect("stored");
    inbox::delete(&v, &admin, &id).await.expect("deleted");
    assert!(matches!(
        inbox::view(&v, &admin, &key, &id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        inbox::delete(&v, &admin, &id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        actions(&v).await.last().map(String::as_str),
        Some("DELETE_SUBMISSION")
    );
}

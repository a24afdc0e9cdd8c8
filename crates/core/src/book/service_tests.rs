//! The book's writes through the service, against a real SQLite file, with the clock moved by
//! the test: owner scoping, the duplicate check, all-or-nothing validation, the audit trail.

use crate::domain::contact::ContactDraft;
use crate::error::Error;
use crate::testing::{self, actions};

use super::{ListQuery, create, delete, get, list, toggle_favorite, update};

fn draft(name: &str, phone: &str) -> ContactDraft {
    ContactDraft {
        name: Some(name.into()),
        phone: Some(phone.into()),
        email: Some(format!(
            "p{}@example.com",
            phone
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        )),
        tags: Some(vec!["work".into()]),
        ..ContactDraft::default()
    }
}

#[tokio::test]
async fn a_contact_is_stored_with_the_clocks_time_and_read_back_whole() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    v.clock.advance(1_000_000);
    let now = v.clock.now();
    let made = create(&v, &ann, draft("Zoë Adams", "+1 555 0100"))
        .await
        .expect("created");
    assert!(made.created >= now && made.created <= now + 5);
    let read = get(&v, &ann, &made.id).await.expect("found");
    assert_eq!(read, made);
    assert_eq!(read.contact.name, "Zoë Adams");
    assert_eq!(read.contact.tags, ["work"]);
    assert_eq!(
        actions(&v).await.last().map(String::as_str),
        Some("ADD_CONTACT")
    );
}

#[tokio::test]
async fn another_users_contact_is_not_found_for_every_operation() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    let bob = testing::user(&v, "bob", "user").await;
    let hers = create(&v, &ann, draft("Ann's friend", "555 0101"))
        .await
        .expect("created");
    let before = actions(&v).await.len();
    assert!(matches!(
        get(&v, &bob, &hers.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        update(&v, &bob, &hers.id, draft("Taken over", "555 0199")).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        toggle_favorite(&v, &bob, &hers.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        delete(&v, &bob, &hers.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(get(&v, &ann, &hers.id).await.expect("still hers"), hers);
    assert_eq!(actions(&v).await.len(), before, "refusals change nothing");
    let bobs = list(&v, &bob, &ListQuery::default()).await.expect("list");
    assert_eq!(bobs.total, 0);
}

#[tokio::test]
async fn the_same_name_and_phone_digits_are_a_duplicate_naming_the_first() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    let bob = testing::user(&v, "bob", "user").await;
    let first = create(&v, &ann, draft("Lee  Chan", "+1 (555) 010-0123"))
        .await
        .expect("created");
    match create(&v, &ann, draft("lee chan", "15550100123")).await {
        Err(Error::Duplicate(Some(id))) => assert_eq!(id, first.id),
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // Another book may hold the same person.
    create(&v, &bob, draft("Lee Chan", "+1 555 010 0123"))
        .await
        .expect("bob's own");
    // An edit that would make a duplicate is refused too, and leaves the contact as it was.
    let other = create(&v, &ann, draft("Mia Chan", "555 0200"))
        .await
        .expect("created");
    assert!(matches!(
        update(&v, &ann, &other.id, draft("Lee Chan", "1 555 010 0123")).await,
        Err(Error::Duplicate(_))
    ));
    assert_eq!(get(&v, &ann, &other.id).await.expect("found"), other);
}

#[tokio::test]
async fn invalid_input_names_every_field_and_writes_nothing() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    let bad = ContactDraft {
        name: Some("   ".into()),
        email: Some("not an address".into()),
        phone: Some("call me".into()),
        ..ContactDraft::default()
    };
    let before = actions(&v).await.len();
    match create(&v, &ann, bad).await {
        Err(Error::Invalid(fields)) => {
            assert!(fields.contains_key("name"), "{fields:?}");
            assert!(fields.contains_key("email"), "{fields:?}");
        }
        other => panic!("expected field errors, got {other:?}"),
    }
    assert_eq!(
        list(&v, &ann, &ListQuery::default())
            .await
            .expect("list")
            .total,
        0
    );
    assert_eq!(actions(&v).await.len(), before);
}

#[tokio::test]
async fn edits_favorites_and_deletes_are_audited_and_seen_by_search() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    let c = create(&v, &ann, draft("Ada Lovelace", "555 0300"))
        .await
        .expect("created");
    v.clock.advance(60);
    let edited = update(&v, &ann, &c.id, draft("Ada King", "555 0300"))
        .await
        .expect("edited");
    assert_eq!(edited.contact.name, "Ada King");
    assert!(edited.updated >= c.created + 60);
    assert!(
        toggle_favorite(&v, &ann, &c.id)
            .await
            .expect("toggled")
            .contact
            .favorite
    );

    let search = |q: &str| ListQuery {
        q: q.into(),
        ..ListQuery::default()
    };
    assert_eq!(
        list(&v, &ann, &search("king")).await.expect("list").total,
        1
    );
    assert_eq!(
        list(&v, &ann, &search("lovelace"))
            .await
            .expect("list")
            .total,
        0
    );
    let favorites = ListQuery {
        favorites: true,
        ..ListQuery::default()
    };
    assert_eq!(list(&v, &ann, &favorites).await.expect("list").total, 1);

    delete(&v, &ann, &c.id).await.expect("deleted");
    assert!(matches!(get(&v, &ann, &c.id).await, Err(Error::NotFound)));
    assert_eq!(
        list(&v, &ann, &search("king")).await.expect("list").total,
        0
    );
    let trail = actions(&v).await;
    assert_eq!(
        &trail[trail.len() - 4..],
        [
            "ADD_CONTACT",
            "EDIT_CONTACT",
            "FAVORITE_CONTACT",
            "DELETE_CONTACT"
        ]
    );
}

#[tokio::test]
async fn a_list_page_shows_the_stored_contacts_as_one_consistent_version_of_the_book() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    for (i, name) in ["Ada", "Bea", "Cy"].into_iter().enumerate() {
        let mut d = draft(name, &format!("555 010{i}"));
        d.address = Some(format!("{i} Main Street"));
        d.notes = Some(format!("note {i}"));
        d.company = Some("Globex".into());
        create(&v, &ann, d).await.expect("created");
    }
    // `ann` was read before the contacts were made: the page still has them all.
    let page = list(&v, &ann, &ListQuery::default()).await.expect("listed");
    assert_eq!(page.contacts.len(), 3);
    for shown in &page.contacts {
        let stored = get(&v, &ann, &shown.id).await.expect("found");
        assert_eq!(shown, &stored, "the page shows what is stored, every field");
    }

    // Bea is rewritten without telling this process's directory, as another instance's
    // write would be.
    let bea = page.contacts[1].clone();
    let mut changed = bea.contact.clone();
    changed.name = "Bea Changed".into();
    changed.email = "bea@new.example".into();
    changed.notes = "new notes".into();
    let mut tx = crate::store::begin_write(&v.db).await.expect("tx");
    super::rewrite_in(
        &mut tx,
        &v,
        &ann,
        &bea.id,
        changed,
        bea.created,
        None,
        ("EDIT_CONTACT", "test"),
    )
    .await
    .expect("rewritten");
    tx.commit().await.expect("committed");

    // A request that began before the write (its user row has the older book version) may
    // show the book as it was then, but never half of each: Bea is wholly the old one.
    let before = list(&v, &ann, &ListQuery::default()).await.expect("listed");
    let old = before
        .contacts
        .iter()
        .find(|c| c.id == bea.id)
        .expect("listed");
    assert_eq!(old, &bea);

    // A request that begins after it reads the newer version and shows the new Bea whole
    // (the directory is rebuilt: this process never heard of the write).
    let mut fresh = crate::accounts::user_by_id(&v, ann.id)
        .await
        .expect("read")
        .expect("exists");
    fresh.keys = ann.keys.clone();
    let after = list(&v, &fresh, &ListQuery::default())
        .await
        .expect("listed");
    let new = after
        .contacts
        .iter()
        .find(|c| c.id == bea.id)
        .expect("listed");
    assert_eq!(new, &get(&v, &fresh, &bea.id).await.expect("found"));
    assert_eq!(
        (
            new.contact.name.as_str(),
            new.contact.email.as_str(),
            new.contact.notes.as_str()
        ),
        ("Bea Changed", "bea@new.example", "new notes")
    );
    assert_eq!(new.contact.address, bea.contact.address);

    // A write through the service patches the directory: the next page shows it at once.
    update(
        &v,
        &fresh,
        &page.contacts[0].id,
        draft("Ada Lovelace", "555 0100"),
    )
    .await
    .expect("updated");
    let mut fresh = crate::accounts::user_by_id(&v, ann.id)
        .await
        .expect("read")
        .expect("exists");
    fresh.keys = ann.keys.clone();
    let builds = v.directories.builds();
    let last = list(&v, &fresh, &ListQuery::default())
        .await
        .expect("listed");
    assert_eq!(last.contacts[0].contact.name, "Ada Lovelace");
    assert_eq!(
        last.contacts[0],
        get(&v, &fresh, &page.contacts[0].id).await.expect("found")
    );
    assert_eq!(v.directories.builds(), builds, "patched, not rebuilt");
}

//! Issue 18, the inbox: submissions and notes are sealed to the inbox key, which only admins'
//! own keys open. Messages sent before any admin exists are held, then claimed by the first
//! admin; an admin made later waits for a grant; the server keys open none of it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use contact_vault::crypto::inbox_key::InboxKey;
use contact_vault::crypto::keys::{KeySources, Keys, load_or_generate};

use crate::helpers::{TestApp, TestUser, browser, holds, location, spawn_app, spawn_app_beside};
use crate::public_form::{PHONE, fields, send_form};

fn server_keys(app: &TestApp) -> Keys {
    load_or_generate(&KeySources::default(), app.dir.path())
        .expect("keys.env")
        .0
}

async fn send(app: &TestApp, name: &str, email: &str) {
    let res = send_form(app, &browser(), &fields(name, email, PHONE), None).await;
    assert_eq!(res.status(), 303, "{name}'s message is taken");
}

/// Every sealed value at rest: the submissions' fields and the notes.
async fn sealed_values(app: &TestApp) -> Vec<String> {
    let mut values = Vec::new();
    for column in ["name", "email", "phone", "message"] {
        let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {column} FROM submissions"
        )))
        .fetch_all(&app.db)
        .await
        .expect("column");
        values.extend(found);
    }
    let notes: Vec<String> = sqlx::query_scalar("SELECT body FROM submission_notes")
        .fetch_all(&app.db)
        .await
        .expect("notes");
    values.extend(notes);
    values
}

/// How many of them the server's own keys (every one in `keys.env`) decrypt.
async fn opened_by_server_keys(app: &TestApp) -> usize {
    let keys = server_keys(app);
    sealed_values(app)
        .await
        .iter()
        .filter(|v| keys.cipher.decrypt(v).is_ok())
        .count()
}

async fn held(app: &TestApp) -> Option<String> {
    sqlx::query_scalar("SELECT held FROM inbox_key")
        .fetch_one(&app.db)
        .await
        .expect("the inbox has a key")
}

async fn signed_in(app: &TestApp, user: &TestUser) -> reqwest::Client {
    let client = browser();
    app.login_web(&client, user).await;
    client
}

#[tokio::test]
async fn messages_before_any_admin_are_held_then_claimed_and_the_server_keys_open_none() {
    let app = spawn_app().await;
    send(&app, "Imogen Early", "imogen@example.org").await;
    send(&app, "Bartholomew First", "bart@example.org").await;

    // Held: the secret is under the server keys until an admin with keys exists.
    let held_token = held(&app).await.expect("held while there is no admin");
    let secret = server_keys(&app)
        .cipher
        .decrypt_bytes(&held_token)
        .expect("the held secret is under the server keys");
    let old = InboxKey::from_secret(&secret).expect("a key");
    let values = sealed_values(&app).await;
    assert!(values.iter().all(|v| v.starts_with("cvs1:")), "sealed");
    assert!(values.iter().all(|v| old.open_field(v).is_some()));

    // The first admin's visit claims it: a new key pair, everything resealed, nothing held.
    let root = app.create_user("root", "admin").await;
    let client = signed_in(&app, &root).await;
    let inbox = app.get_html(&client, "/admin/submissions").await;
    assert!(inbox.contains("Imogen Early") && inbox.contains("bart@example.org"));
    assert_eq!(held(&app).await, None, "the server holds the key no more");
    let values = sealed_values(&app).await;
    assert!(
        values.iter().all(|v| old.open_field(v).is_none()),
        "the held key opens nothing now"
    );
    assert_eq!(opened_by_server_keys(&app).await, 0);

    // A note, then the stolen disk: no key the server has opens a message or a note, no
    // plaintext is on disk, and (on SQLite, with secure_delete and the WAL emptied) not even
    // the held secret is left.
    let id: String = sqlx::query_scalar("SELECT id FROM submissions ORDER BY rowid LIMIT 1")
        .fetch_one(&app.db)
        .await
        .expect("a submission");
    let page = format!("/admin/submissions/{id}");
    let res = app
        .post_form(
            &client,
            &page,
            &format!("{page}/note"),
            &[("note", "Rang the bell twice")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        opened_by_server_keys(&app).await,
        0,
        "keys.env opens nothing"
    );
    for (path, bytes) in app.at_rest().await {
        for plain in [
            "Imogen",
            "bart@example.org",
            "call me about the offer",
            "Rang the bell",
        ] {
            assert!(!holds(&bytes, plain.as_bytes()), "{plain:?} in {path}");
        }
        if !app.on_postgres() {
            assert!(!holds(&bytes, held_token.as_bytes()), "held key in {path}");
        }
    }
    assert!(
        app.get_html(&client, &page)
            .await
            .contains("Rang the bell twice")
    );

    let actions = app.audit_actions().await;
    for action in [
        "INBOX_KEY_CREATED",
        "INBOX_KEY_CLAIMED",
        "INBOX_KEY_GRANTED",
    ] {
        assert!(actions.contains(&action.to_string()), "{action} audited");
    }
}

#[tokio::test]
async fn an_admin_made_later_waits_for_a_grant_then_reads_the_inbox() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    let root_client = signed_in(&app, &root).await;
    assert_eq!(
        app.get(&root_client, "/admin/submissions").await.status(),
        200
    );
    send(&app, "Quentin Waits", "quentin@example.org").await;
    let id: String = sqlx::query_scalar("SELECT id FROM submissions")
        .fetch_one(&app.db)
        .await
        .expect("a submission");

    let late = app.create_user("late", "admin").await;
    let late_client = signed_in(&app, &late).await;
    let inbox = app.get_html(&late_client, "/admin/submissions").await;
    assert!(inbox.contains("waiting for a grant"), "the page says so");
    assert!(!inbox.contains("Quentin"), "and shows no message");
    let detail = app
        .get(&late_client, &format!("/admin/submissions/{id}"))
        .await;
    assert_eq!(detail.status(), 303);
    assert_eq!(location(&detail), "/admin/submissions");
    let users = app.get_html(&root_client, "/admin/users").await;
    assert!(
        users.contains("holds it"),
        "the users page shows who holds the key"
    );

    // Root's visit above passed the key on: sealing to late's public key needs no secret.
    let inbox = app.get_html(&late_client, "/admin/submissions").await;
    assert!(inbox.contains("Quentin Waits"), "late reads the inbox now");
    let detail = app
        .get_html(&late_client, &format!("/admin/submissions/{id}"))
        .await;
    assert!(detail.contains("quentin@example.org"));
    let granted: Vec<String> =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE action = 'INBOX_KEY_GRANTED'")
            .fetch_all(&app.db)
            .await
            .expect("audit");
    assert!(
        granted
            .iter()
            .any(|d| d.contains("username=late") && d.contains("via=pass-by")),
        "{granted:?}"
    );
}

#[tokio::test]
async fn the_grant_button_and_the_last_holder_cannot_be_deleted() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    let root_client = signed_in(&app, &root).await;
    assert_eq!(
        app.get(&root_client, "/admin/submissions").await.status(),
        200
    );

    // An admin from before own keys: nothing to seal the inbox key to yet.
    let old = app.create_user("oldhand", "admin").await;
    let old_id = app.user_row("oldhand").await.id;
    app.forget_keys(old_id).await;
    let users = app.get_html(&root_client, "/admin/users").await;
    assert!(users.contains("at their next sign-in"));
    let res = app
        .post_form(
            &root_client,
            "/admin/users",
            "/admin/users/oldhand/grant-inbox",
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let users = app.get_html(&root_client, "/admin/users").await;
    assert!(
        users.contains("have not signed in since"),
        "the refusal says why"
    );

    // Oldhand signs in (their keys are made from the password), then tries to delete the
    // only holder: refused, the messages would be lost.
    let old_client = signed_in(&app, &old).await;
    let confirm = "/admin/users/root/delete";
    let res = app
        .post_form(
            &old_client,
            confirm,
            confirm,
            &[("current_password", &old.password)],
        )
        .await;
    let page = res.text().await.expect("page");
    assert!(page.contains("only copy of the inbox key"), "{page}");
    assert!(app.user_row("root").await.id > 0, "root is still there");

    // Root grants it by hand; the guard of that very request may have got there first.
    let res = app
        .post_form(
            &root_client,
            "/admin/users",
            "/admin/users/oldhand/grant-inbox",
            &[],
        )
        .await;
    assert_eq!(res.status(), 303);
    let users = app.get_html(&root_client, "/admin/users").await;
    assert!(users.contains("oldhand holds the inbox key"));
    let holders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox_grants")
        .fetch_one(&app.db)
        .await
        .expect("grants");
    assert_eq!(holders, 2);
    let res = app
        .post_form(
            &old_client,
            confirm,
            confirm,
            &[("current_password", &old.password)],
        )
        .await;
    assert_eq!(res.status(), 303, "now root may go");
}

#[tokio::test]
async fn messages_from_before_the_inbox_key_are_sealed_at_the_next_start() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    let client = signed_in(&app, &root).await;
    assert_eq!(app.get(&client, "/admin/submissions").await.status(), 200);
    // What an installation from before migration 0015 holds: fields under the server keys.
    let keys = server_keys(&app);
    sqlx::query(
        "INSERT INTO submissions (id, name, email, phone, message, preferred_time, status,
                                  verification, repeat_key, created, updated)
         VALUES ('old1', $1, $2, $3, $4, 'morning', 'new', 'offline', 'rk', 1, 1)",
    )
    .bind(keys.cipher.encrypt("Olwen Legacy"))
    .bind(keys.cipher.encrypt("olwen@example.org"))
    .bind(keys.cipher.encrypt(PHONE))
    .bind(keys.cipher.encrypt("Sent to the old version"))
    .execute(&app.db)
    .await
    .expect("an old row");
    sqlx::query("INSERT INTO submission_notes (submission_id, author, body, created) VALUES ('old1', 'root', $1, 1)")
        .bind(keys.cipher.encrypt("An old note"))
        .execute(&app.db)
        .await
        .expect("an old note");

    // The next instance to start seals them.
    let restarted = spawn_app_beside(&app, |_| {}).await;
    assert_eq!(opened_by_server_keys(&restarted).await, 0);
    // The session from before works on the new instance (cookies do not care for the port).
    let detail = restarted.get_html(&client, "/admin/submissions/old1").await;
    assert!(detail.contains("Olwen Legacy") && detail.contains("An old note"));
    assert!(
        restarted
            .audit_actions()
            .await
            .contains(&"INBOX_RESEALED".to_string())
    );
}

#[tokio::test]
async fn a_grant_opens_only_with_its_admins_own_keys() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    let client = signed_in(&app, &root).await;
    assert_eq!(app.get(&client, "/admin/submissions").await.status(), 200);
    let grant: String = sqlx::query_scalar("SELECT sealed FROM inbox_grants")
        .fetch_one(&app.db)
        .await
        .expect("root's grant");
    let sealed = STANDARD.decode(&grant).expect("base64");
    let keys = server_keys(&app);
    assert!(keys.cipher.decrypt(&grant).is_err());
    let row = app.unlocked_row("root").await;
    let own = row.keys.expect("root's keys");
    assert!(own.open_sealed(&sealed).is_some(), "root's keys open it");
    let other = app.create_user("other", "user").await;
    let other_row = app.unlocked_row(&other.username).await;
    assert!(
        other_row.keys.expect("keys").open_sealed(&sealed).is_none(),
        "nobody else's do"
    );
}

#[tokio::test]
async fn two_admins_arriving_at_once_claim_the_held_inbox_once() {
    let app = spawn_app().await;
    send(&app, "Rosalind Racer", "rosalind@example.org").await;
    let one = app.create_user("one", "admin").await;
    let two = app.create_user("two", "admin").await;
    let (a, b) = (signed_in(&app, &one).await, signed_in(&app, &two).await);
    let (x, y) = tokio::join!(
        app.get_html(&a, "/admin/submissions"),
        app.get_html(&b, "/admin/submissions")
    );
    assert!(x.contains("Rosalind Racer") && y.contains("Rosalind Racer"));
    let actions = app.audit_actions().await;
    let claims = actions.iter().filter(|a| *a == "INBOX_KEY_CLAIMED").count();
    assert_eq!(claims, 1, "{actions:?}");
    let grants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox_grants")
        .fetch_one(&app.db)
        .await
        .expect("grants");
    assert_eq!(grants, 2);
}

#[tokio::test]
async fn the_users_page_says_whose_data_the_server_keys_still_open() {
    let app = spawn_app().await;
    let root = app.create_user("root", "admin").await;
    app.create_user("pat", "user").await;
    let old = app.create_user("old", "user").await;
    app.forget_keys(app.user_row("old").await.id).await;
    let client = signed_in(&app, &root).await;

    let page = app.get_html(&client, "/admin/users").await;
    assert!(
        page.contains("<strong>2</strong> books are under their owners' own keys"),
        "{page}"
    );
    assert!(page.contains("<strong>1</strong> book is still under the server keys"));
    // The admin's own visit made the inbox key and granted it to them.
    assert!(page.contains("The inbox key is held by <strong>1</strong> admin."));

    // Old's next sign-in moves their book: the server keys hold no book now.
    signed_in(&app, &old).await;
    let page = app.get_html(&client, "/admin/users").await;
    assert!(page.contains("<strong>3</strong> books are under their owners' own keys"));
    assert!(!page.contains("still under the server keys"), "{page}");
}

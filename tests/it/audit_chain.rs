//! The keyed audit chain (issue 12, item 5): a copy of the database re-chained without the key
//! fails `audit verify`; rows cut off the end are found against a logged head; an old unkeyed
//! chain is anchored at start-up and verifies.

use std::path::Path;

use contact_vault::audit::AuditRow;
use contact_vault::audit::{self, Verdict};
use reqwest::Method;
use serde_json::json;
use sqlx::AnyPool;

use crate::helpers::{TestApp, cli_command, spawn_app, spawn_app_in};

/// `audit verify` (with `extra` arguments) on the database `db` under `data_dir`'s keys.
fn verify_cli(data_dir: &Path, db: &Path, extra: &[&str]) -> (bool, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let out = cli_command(data_dir, &args)
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .expect("binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn open(db: &Path) -> AnyPool {
    sqlx::any::install_default_drivers();
    AnyPool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("database opens")
}

async fn rows(db: &AnyPool) -> Vec<AuditRow> {
    sqlx::query_as(
        "SELECT id, ts, user_id, username, action, detail, prev_hash, hash FROM audit_log ORDER BY id",
    )
    .fetch_all(db)
    .await
    .expect("rows")
}

/// Replaces the table's rows by `kept`, renumbered from 1 and re-chained with the unkeyed
/// hash (all that someone without the key can compute).
async fn rechain_without_key(db: &AnyPool, kept: Vec<AuditRow>) {
    sqlx::query("DELETE FROM audit_log")
        .execute(db)
        .await
        .unwrap();
    let mut prev = String::new();
    for (i, mut row) in kept.into_iter().enumerate() {
        row.id = i as i64 + 1;
        row.prev_hash = prev;
        row.hash = audit::legacy_chain_hash(&row);
        prev = row.hash.clone();
        sqlx::query(
            "INSERT INTO audit_log (id, ts, user_id, username, action, detail, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(row.id)
        .bind(row.ts)
        .bind(row.user_id)
        .bind(&row.username)
        .bind(&row.action)
        .bind(&row.detail)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(db)
        .await
        .unwrap();
    }
}

async fn drop_triggers(db: &AnyPool) {
    for drop in [
        "DROP TRIGGER audit_log_no_update",
        "DROP TRIGGER audit_log_no_delete",
    ] {
        sqlx::query(drop).execute(db).await.unwrap();
    }
}

/// An app whose trail has 9 failed sign-ins among other events; returns a copy of its
/// database (made with `VACUUM INTO`).
async fn app_with_a_trail(copy_name: &str) -> (TestApp, std::path::PathBuf) {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    // Nine failed sign-ins, each for a name of its own (five for one name would lock it).
    for i in 0..9 {
        let res = app
            .api_login_raw(json!({ "username": format!("ann{i}"), "password": "wrong-password-1" }))
            .await;
        assert_eq!(res.status(), 401);
    }
    let token = app.api_token(&ann).await;
    for i in 0..6 {
        let body = json!({ "name": format!("Person {i}"), "phone": format!("+1 555 010 000{i}") });
        let res = app
            .api(Method::POST, "/api/contacts", &token, Some(body))
            .await;
        assert_eq!(res.status(), 201);
    }
    let copy = app.dir.path().join(copy_name);
    contact_vault::ops::backup(&app.state, &copy)
        .await
        .expect("copy");
    (app, copy)
}

#[tokio::test]
async fn a_copy_rechained_without_the_key_fails_verify() {
    let (app, copy) = app_with_a_trail("copy.db").await;
    let (ok, text) = verify_cli(app.dir.path(), &copy, &[]);
    assert!(ok && text.starts_with("ok (17 events)"), "{text}");

    // The attack: drop the triggers, delete the 9 failures and the last 5 rows,
    // recompute the hashes.
    let db = open(&copy).await;
    drop_triggers(&db).await;
    let all = rows(&db).await;
    assert_eq!(all.iter().filter(|r| r.action == "LOGIN_FAIL").count(), 9);
    let mut kept: Vec<AuditRow> = all
        .into_iter()
        .filter(|r| r.action != "LOGIN_FAIL")
        .collect();
    kept.truncate(kept.len() - 5);
    rechain_without_key(&db, kept).await;
    db.close().await;

    let (ok, text) = verify_cli(app.dir.path(), &copy, &[]);
    assert!(!ok, "a chain rewritten without the key verified: {text}");
    assert!(text.contains("audit chain broken at event"), "{text}");
}

#[tokio::test]
async fn rows_cut_off_the_end_are_found_against_the_head() {
    let (app, copy) = app_with_a_trail("cut.db").await;
    let (id, hash) = audit::head(&app.state).await.unwrap().expect("a head");
    let head = format!("{id}:{hash}");

    let (ok, text) = verify_cli(app.dir.path(), &copy, &["--head", &head]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("head {id} matches")), "{text}");

    let db = open(&copy).await;
    drop_triggers(&db).await;
    sqlx::query("DELETE FROM audit_log WHERE id > $1")
        .bind(id - 5)
        .execute(&db)
        .await
        .unwrap();
    db.close().await;

    // Without the head a shorter chain is a valid chain; with it, the cut shows.
    let (ok, text) = verify_cli(app.dir.path(), &copy, &[]);
    assert!(ok, "{text}");
    let (ok, text) = verify_cli(app.dir.path(), &copy, &["--head", &head]);
    assert!(!ok, "{text}");
    assert!(text.contains(&format!("broken at event {id}")), "{text}");
    assert!(text.contains("cut off"), "{text}");

    // A head whose hash is not the chain's is refused too, and a malformed one is an error.
    let live = app.dir.path().join("contact-vault.db");
    let other = format!("{}:{}", id - 1, hash);
    let (ok, text) = verify_cli(app.dir.path(), &live, &["--head", &other]);
    assert!(!ok, "{text}");
    assert!(text.contains("differs from the given head"), "{text}");
    let (ok, _) = verify_cli(app.dir.path(), &live, &["--head", "12"]);
    assert!(!ok);
}

#[tokio::test]
async fn an_old_unkeyed_chain_is_anchored_at_start_up_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("contact-vault.db");
    // Keys and an empty, migrated database.
    let (ok, text) = verify_cli(dir.path(), &db_path, &[]);
    assert!(ok && text.starts_with("ok (0 events)"), "{text}");

    // A chain as the app wrote it before the key: plain SHA-256 links.
    let db = open(&db_path).await;
    let old: Vec<AuditRow> = (1..=5)
        .map(|i| AuditRow {
            id: i,
            ts: 1_700_000_000 + i,
            user_id: None,
            username: "cli".into(),
            action: "CREATE_USER".into(),
            detail: format!("user_id={i}"),
            prev_hash: String::new(),
            hash: String::new(),
        })
        .collect();
    rechain_without_key(&db, old).await;
    let before = rows(&db).await;
    db.close().await;
    // Not anchored yet: such a chain could be anyone's rewrite.
    let (ok, text) = verify_cli(dir.path(), &db_path, &[]);
    assert!(!ok && text.contains("unkeyed"), "{text}");

    let app = spawn_app_in(dir).await;
    app.create_user("bob", "user").await;
    let after = rows(&app.db).await;
    assert_eq!(
        &after[..5],
        &before[..],
        "the old rows are kept as they were"
    );
    assert_eq!(after[5].action, "AUDIT_CHAIN_KEYED");
    assert_eq!(after[5].detail, "legacy_rows=5");
    assert_eq!(after[5].prev_hash, before[4].hash);
    assert_eq!(
        audit::verify(&app.state, None).await.unwrap(),
        Verdict::Ok { rows: 7 }
    );
    let (ok, text) = verify_cli(app.dir.path(), &db_path, &[]);
    assert!(ok && text.starts_with("ok (7 events)"), "{text}");

    // A second start adds no second anchor.
    let again = contact_vault::audit::anchor_legacy_chain(&app.state)
        .await
        .unwrap();
    assert_eq!(again, 0);
}

//! `contact-vault import-legacy DIR`: each test writes an old app's data folder into a temp dir,
//! runs the real binary on another temp data dir, then checks the result through the app.
//!
//! The values come from outside this code base: the v2 folder is a literal copy of
//! `../shared/fixtures/legacy-v2` (Fernet tokens from Python's `cryptography`, PBKDF2 and SHA-256
//! hashes from Python's `hashlib`); the v1 password digest was computed with python3's hashlib;
//! the v1 Fernet tokens are made here with the `fernet` crate under a fresh key (Fernet is a
//! standard format, so any implementation's tokens must do).

use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{TestApp, cli, holds, spawn_app_in};

const V2_KEY: &str = "N0_kysu-C8Zi-sppWVe6p4Mlypvnn_Duk2Nf5iRNgQA=";
const V2_USER_DB: &str = r#"{
  "admin": {
    "username": "admin",
    "password": {
      "hash": "d907e4551f4d6d4b9eea034d510dd020349bfafd2a8efa5df6ee21953fcf5b34",
      "salt": "b6de95256eba1c2b5071cafb74ebcd1b2575ba66cb9a7132317a7384a84cb32d"
    },
    "role": "admin",
    "created": "2025-06-01T09:00:00+00:00"
  },
  "maria": {
    "username": "maria",
    "password": "d5ee4fc01c4c7245a1bd534ac7173e591bdef8c7a7cf8ec5fcff40f9ce161ca8",
    "role": "user",
    "created": "2025-06-02T09:00:00+00:00"
  }
}"#;
const V2_CONTACT_DB: &str = r#"[
  {
    "id": "b83e0b3e-1497-42b4-99e8-b8e2de3df3e6",
    "owner": "maria",
    "name": "gAAAAABrBINxsAUI0OleyDtqGwLOHXFut7eh2VafYqPc4p3SBnvdO-d6KUeg8o2a8vrC63KsW4g0QBbaNQY0HsCY-LaErSIbOA==",
    "phone": "gAAAAABrBINxzv6LG4UpYqNCs-lRdQYmDlCbovUk3L_shmZ1ddHl4r0Hnro1tUQFhNdZMCn1OHlEHZwf5vO77EWAq59M9NQh_w==",
    "email": "gAAAAABrBINxhxdO1c6WbQflYPqdanIPGBJbRyjUQwtHnkFpFnwNy0CVR0fKLJd69af2ThR3-3KINjOWcZJuzbUzQalxYpE5eg==",
    "address": "gAAAAABrBINxrFmpelQhVWzJT0tHnaf-z4ZxsRiovdDnBV8213cJYfeKitF5Zj8nxsG23oX8lp0la4Y3jtfpnYtR-UHisza2JSq3aaLLO_uMZ-OgkVJgqsw=",
    "company": "gAAAAABrBINxcTyyURox4HXkOHrI5f4vm2eb2rR3QUNz44woDDwdZ5TTiHBzzKOncFZiMrgd-VSoaMGdrH-1B-Dg1hX6eL9Bew==",
    "notes": "gAAAAABrBINxxO0BLRj9nvIesjq6Ss7rmCKPw5gIa2IrO71dQbSz3k_jamiKXN4lrNQtC35exTCsMnGMWFSrw2ONQMUeoUv_3Q==",
    "tags": [
      "work",
      "de"
    ],
    "favorite": true,
    "created": "2025-06-03T09:00:00+00:00",
    "updated": "2025-06-04T09:00:00+00:00"
  },
  {
    "id": "dc7d8686-d316-42b5-87db-1cb0fc2df4bd",
    "owner": "maria",
    "name": "gAAAAABrBINxULUc96q2AJJaCIN2Gf_T55tw6gtd45sBtEgWnpgCk1hNkhkZQn2S_0oMiAliE2qFzo83uNGR5yBml4AYFJOyFQ==",
    "phone": "gAAAAABrBINx1tMT6bCu-JYcGAXPxVj136HjTfwQ5JbAArQVvuNYEbvxq-sDrG_wJrdPLfeys9tGBzo7iksV-nvEKAss39KPVw==",
    "email": "",
    "address": "",
    "company": "",
    "notes": "",
    "tags": [],
    "favorite": false,
    "created": "2025-06-05T09:00:00+00:00",
    "updated": "2025-06-05T09:00:00+00:00"
  },
  {
    "id": "27fab8a2-acdd-44c2-8efc-b9d3c9d011c7",
    "owner": "admin",
    "name": "gAAAAABrBINxEnk65BbXPhVWWA6CFMmuWP8UZZH2N3ONO1YzU6KJqnkN8xNhBb_FGvXP_v8mVp5DLyhJCnlSV64mtEWf8JbrkQ==",
    "phone": "gAAAAABrBINxuBuJ-ebgeDKmIrl0_Rhg2pKVWzsLLGB24ojCArY2HEadDI6tw7iM7M9a-v-li6fNT6bpYfdjdApfPRetf0e3UA==",
    "email": "gAAAAABrBINxJT2HEnKkyafkHNlqjREQxJoEEKNbhCt8K8fIWCG-r1PlTCR1RI0SN6sc79xBqrQL0dIcD-dsfQq_0g8A79bpyw==",
    "address": "",
    "company": "gAAAAABrBINxuWhNEaO4yTkXWHKGOAwovxU2_VTAmupEJG9RaCvpTDIzMCUOsMmx93yYhrzDdCsO-B4Xpwzc7zYxk3V_U_eECg==",
    "notes": "",
    "tags": [
      "ops"
    ],
    "favorite": false,
    "created": "2025-06-06T09:00:00+00:00",
    "updated": "2025-06-06T09:00:00+00:00"
  }
]"#;
const V2_AUDIT_LOG: &str = r#"[
  {
    "id": "1a2b3c4d",
    "timestamp": "2025-06-03T09:00:00+00:00",
    "username": "maria",
    "action": "ADD_CONTACT",
    "detail": "Lena Fischer"
  },
  {
    "id": "5e6f7a8b",
    "timestamp": "2025-06-05T09:00:00+00:00",
    "username": "maria",
    "action": "LOGIN_OK",
    "detail": ""
  }
]"#;

/// What the fixture's tokens decrypt to (per its README; the admin's contact checked with
/// Python): none of it may reach the disk or the command's output in clear. Only values with a
/// character that base64 never produces, so that no ciphertext can match by chance.
const PLAINTEXTS: &[&str] = &[
    "Lena Fischer",
    "+49 30 901820",
    "lena@example.de",
    "Unter den Linden 1, Berlin",
    "Fischer GmbH",
    "prefers email",
    "Tom O'Brien",
    "+353 1 555 0199",
    "Admin Contact",
    "+1 202 555 0100",
    "ops@example.com",
];

/// The fixture's password hashes, which the output must not show either.
const HASHES: &[&str] = &[
    "d907e4551f4d6d4b9eea034d510dd020349bfafd2a8efa5df6ee21953fcf5b34",
    "d5ee4fc01c4c7245a1bd534ac7173e591bdef8c7a7cf8ec5fcff40f9ce161ca8",
];

/// hashlib.sha256(b"guru-v1-passphrase").hexdigest(), computed with python3.
const GURU_SHA256: &str = "6ded260220142ff10ee388a84f1861762b5e5c6b184e25f84c65ba806dbd3c9d";

/// Writes an old app's data folder; `audit_log` None leaves the file out (as v1 did).
fn legacy_folder(key: &str, user_db: &str, contact_db: &str, audit_log: Option<&str>) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.key"), key).unwrap();
    std::fs::write(dir.path().join("user_db.json"), user_db).unwrap();
    std::fs::write(dir.path().join("contact_db.json"), contact_db).unwrap();
    if let Some(audit_log) = audit_log {
        std::fs::write(dir.path().join("audit_log.json"), audit_log).unwrap();
    }
    dir
}

fn v2_folder() -> TempDir {
    legacy_folder(V2_KEY, V2_USER_DB, V2_CONTACT_DB, Some(V2_AUDIT_LOG))
}

/// `import-legacy`; returns (success, stdout, stderr) after checking that neither stream shows a
/// decrypted field or a password hash.
fn import(data_dir: &Path, legacy: &Path) -> (bool, String, String) {
    let out = cli(data_dir, &["import-legacy", legacy.to_str().unwrap()], "");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    for secret in PLAINTEXTS.iter().chain(HASHES) {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} was printed"
        );
    }
    (out.status.success(), stdout, stderr)
}

fn import_ok(data_dir: &Path, legacy: &Path) -> String {
    let (ok, stdout, stderr) = import(data_dir, legacy);
    assert!(ok, "import failed: {stderr}");
    stdout
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.api_login_raw(json!({"username": username, "password": password}))
        .await
}

/// A bearer token for a user without TOTP.
async fn token(app: &TestApp, username: &str, password: &str) -> String {
    let res = login(app, username, password).await;
    assert_eq!(res.status(), 200, "{username} signs in");
    let body: Value = res.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

async fn contacts(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.api(Method::GET, "/api/contacts", token, None).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["contacts"].as_array().unwrap().clone()
}

fn by_name<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} is in the book"))
}

#[tokio::test]
async fn import_legacy_brings_v2_users_contacts_and_audit_trail() {
    let legacy = v2_folder();
    let data = tempfile::tempdir().unwrap();
    let stdout = import_ok(data.path(), legacy.path());
    assert!(stdout.contains("users:    2 added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("contacts: 3 added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("events:   2 added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("withheld"), "{stdout}");
    let app = spawn_app_in(data).await;

    // maria's bare SHA-256 hash verifies once and is replaced by Argon2id.
    assert!(
        app.user_row("maria")
            .await
            .password_hash
            .starts_with("legacy-sha256$")
    );
    let maria_token = token(&app, "maria", "maria-sha256-pass").await;
    let maria = app.user_row("maria").await;
    assert!(maria.password_hash.starts_with("$argon2id$"));
    assert_eq!(maria.role, "user");
    assert_eq!(maria.created, 1_748_854_800); // 2025-06-02T09:00:00Z

    let book = contacts(&app, &maria_token).await;
    assert_eq!(book.len(), 2, "only maria's contacts: {book:?}");
    let lena = by_name(&book, "Lena Fischer");
    assert_eq!(lena["phone"], "+49 30 901820");
    assert_eq!(lena["email"], "lena@example.de");
    assert_eq!(lena["address"], "Unter den Linden 1, Berlin");
    assert_eq!(lena["company"], "Fischer GmbH");
    assert_eq!(lena["notes"], "prefers email");
    assert_eq!(lena["tags"], json!(["work", "de"]));
    assert_eq!(lena["favorite"], true);
    assert_eq!(lena["created"], "2025-06-03T09:00:00Z");
    assert_eq!(lena["updated"], "2025-06-04T09:00:00Z");
    let tom = by_name(&book, "Tom O'Brien");
    assert_eq!(tom["phone"], "+353 1 555 0199");
    assert_eq!(tom["email"], "");
    assert_eq!(tom["tags"], json!([]));
    assert_eq!(tom["favorite"], false);

    // The admin's PBKDF2 hash verifies, and TOTP enrolment is demanded before anything else.
    let res = login(&app, "admin", "wrong-legacy-pass").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid credentials"
    );
    let res = login(&app, "admin", "admin-legacy-pass").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "totp_enrollment_required"
    );
    let admin = app.user_row("admin").await;
    assert_eq!(admin.role, "admin");
    assert_eq!(admin.created, 1_748_768_400); // 2025-06-01T09:00:00Z
    assert!(admin.password_hash.starts_with("$argon2id$"));

    // The old events, with their time, action and user, but not their old detail.
    let copied: Vec<(i64, Option<i64>, String, String)> = sqlx::query_as(
        "SELECT ts, user_id, username, action FROM audit_log WHERE detail LIKE 'legacy_id=%' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        copied,
        [
            (
                1_748_941_200,
                Some(maria.id),
                "maria".into(),
                "ADD_CONTACT".into()
            ),
            (
                1_749_114_000,
                Some(maria.id),
                "maria".into(),
                "LOGIN_OK".into()
            ),
        ]
    );
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE detail LIKE 'legacy_id=%' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(details, ["legacy_id=1a2b3c4d", "legacy_id=5e6f7a8b"]);
    let (user_id, username, detail): (Option<i64>, String, String) = sqlx::query_as(
        "SELECT user_id, username, detail FROM audit_log WHERE action = 'IMPORT_LEGACY'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((user_id, username.as_str()), (None, "cli"));
    assert_eq!(
        detail,
        "users_added=2 users_skipped=0 contacts_added=3 contacts_skipped=0 events_added=2 events_skipped=0"
    );
    for secret in PLAINTEXTS {
        let hits = count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE (username || action || detail) LIKE '%{}%'",
                secret.replace('\'', "''")
            ),
        )
        .await;
        assert_eq!(hits, 0, "{secret} is in the audit log");
    }

    let out = cli(app.dir.path(), &["audit", "verify"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn import_legacy_twice_adds_nothing() {
    let legacy = v2_folder();
    let data = tempfile::tempdir().unwrap();
    import_ok(data.path(), legacy.path());
    let stdout = import_ok(data.path(), legacy.path());
    assert!(stdout.contains("users:    0 added, 2 skipped"), "{stdout}");
    assert!(stdout.contains("contacts: 0 added, 3 skipped"), "{stdout}");
    assert!(stdout.contains("events:   0 added, 2 skipped"), "{stdout}");

    let app = spawn_app_in(data).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM contacts").await, 3);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE detail LIKE 'legacy_id=%'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'IMPORT_LEGACY'"
        )
        .await,
        2
    );
    let token = token(&app, "maria", "maria-sha256-pass").await;
    assert_eq!(contacts(&app, &token).await.len(), 2);
}

#[tokio::test]
async fn import_legacy_leaves_existing_users_untouched() {
    let data = tempfile::tempdir().unwrap();
    let out = cli(
        data.path(),
        &["user", "add", "maria", "--password-stdin"],
        "maria-own-New-passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let legacy = v2_folder();
    let stdout = import_ok(data.path(), legacy.path());
    assert!(stdout.contains("users:    1 added, 1 skipped"), "{stdout}");
    assert!(stdout.contains("contacts: 3 added, 0 skipped"), "{stdout}");

    let app = spawn_app_in(data).await;
    // Her password stays hers; the old one does not open her account.
    assert_eq!(
        login(&app, "maria", "maria-sha256-pass").await.status(),
        401
    );
    let token = token(&app, "maria", "maria-own-New-passphrase").await;
    let book = contacts(&app, &token).await;
    by_name(&book, "Lena Fischer");
    by_name(&book, "Tom O'Brien");
}

#[tokio::test]
async fn import_legacy_with_a_broken_token_imports_nothing() {
    let broken = V2_CONTACT_DB.replace("ULUc96q2AJJa", "ULUc96q2AJJb");
    assert_ne!(broken, V2_CONTACT_DB);
    let legacy = legacy_folder(V2_KEY, V2_USER_DB, &broken, Some(V2_AUDIT_LOG));
    let data = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = import(data.path(), legacy.path());
    assert!(!ok);
    assert!(
        stderr
            .contains("contact_db.json record 2 (id dc7d8686-d316-42b5-87db-1cb0fc2df4bd): name: "),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    let app = spawn_app_in(data).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM contacts").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM legacy_imports").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_log").await, 0);

    // The intact folder then imports completely.
    let stdout = import_ok(app.dir.path(), v2_folder().path());
    assert!(stdout.contains("contacts: 3 added, 0 skipped"), "{stdout}");
}

#[tokio::test]
async fn import_legacy_v1_single_user_gets_the_ownerless_contacts() {
    let key = fernet::Fernet::generate_key();
    let f = fernet::Fernet::new(&key).unwrap();
    let t = |s: &str| f.encrypt(s.as_bytes());
    // v1: one bare user with an unsalted SHA-256 hash; contacts with only name and phone.
    let user_db = json!({"username": "guru", "password": GURU_SHA256}).to_string();
    let contact_db = json!([
        {"name": t("Grace Hopper"), "phone": t("+1 555 010 7788")},
        {"name": t("Alan Turing"), "phone": t("+44 20 7946 0018")},
    ])
    .to_string();
    let legacy = legacy_folder(&key, &user_db, &contact_db, None);
    let data = tempfile::tempdir().unwrap();
    let stdout = import_ok(data.path(), legacy.path());
    assert!(stdout.contains("users:    1 added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("contacts: 2 added, 0 skipped"), "{stdout}");
    assert!(stdout.contains("events:   0 added, 0 skipped"), "{stdout}");
    assert!(!stdout.contains("Grace") && !stdout.contains(GURU_SHA256));
    let stdout = import_ok(data.path(), legacy.path());
    assert!(stdout.contains("contacts: 0 added, 2 skipped"), "{stdout}");

    let app = spawn_app_in(data).await;
    let token = token(&app, "guru", "guru-v1-passphrase").await;
    assert!(
        app.user_row("guru")
            .await
            .password_hash
            .starts_with("$argon2id$")
    );
    let book = contacts(&app, &token).await;
    assert_eq!(book.len(), 2);
    assert_eq!(by_name(&book, "Grace Hopper")["phone"], "+1 555 010 7788");
    assert_eq!(by_name(&book, "Alan Turing")["phone"], "+44 20 7946 0018");
    assert_eq!(by_name(&book, "Alan Turing")["favorite"], false);
}

#[tokio::test]
async fn import_legacy_refuses_ownerless_contacts_among_several_users() {
    let key = fernet::Fernet::generate_key();
    let f = fernet::Fernet::new(&key).unwrap();
    let user_db = json!({
        "guru": {"username": "guru", "password": GURU_SHA256},
        "ada": {"username": "ada", "password": GURU_SHA256},
    })
    .to_string();
    let contact_db = json!([{
        "name": f.encrypt(b"Grace Hopper"),
        "phone": f.encrypt(b"+1 555 010 7788"),
    }])
    .to_string();
    let legacy = legacy_folder(&key, &user_db, &contact_db, None);
    let data = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = import(data.path(), legacy.path());
    assert!(!ok);
    assert!(
        stderr.contains("contact_db.json record 1: owner: missing"),
        "{stderr}"
    );
    assert!(!stderr.contains("Grace"));

    let app = spawn_app_in(data).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users").await, 0);
}

#[tokio::test]
async fn import_legacy_leaves_no_plaintext_on_disk() {
    let legacy = v2_folder();
    let data = tempfile::tempdir().unwrap();
    import_ok(data.path(), legacy.path());
    let app = spawn_app_in(data).await;
    // Use the book once, so that whatever reading it writes is on disk too.
    let token = token(&app, "maria", "maria-sha256-pass").await;
    assert_eq!(contacts(&app, &token).await.len(), 2);
    let files = app.at_rest().await;
    let where_: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    let database = if app.on_postgres() {
        "rows of contacts"
    } else {
        "contact-vault.db"
    };
    assert!(where_.iter().any(|p| p.ends_with(database)), "{where_:?}");
    for (path, bytes) in &files {
        for secret in PLAINTEXTS {
            assert!(
                !holds(bytes, secret.as_bytes()),
                "{secret} is in {path} in clear"
            );
        }
    }
}

//! The checks after the kills: over the API (server running), then in the database file with
//! the library's own decryption (server stopped), then `contact-vault audit verify`.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use contact_vault::book;
use contact_vault::book::ContactRow;
use contact_vault::crypto::inbox_key::InboxKey;
use contact_vault::crypto::keys::{KeySources, Keys, load_or_generate};
use contact_vault::crypto::user_keys::{self, BookKeys, UserKeys};
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::ledger::{ContactAttempt, ContactData, FormAttempt, Outcome};
use crate::server::cli;

/// A contact as the API shows it, without id and timestamps.
fn from_json(c: &Value) -> ContactData {
    let text = |k: &str| c[k].as_str().unwrap_or("<missing>").to_string();
    ContactData {
        name: text("name"),
        phone: text("phone"),
        email: text("email"),
        address: text("address"),
        company: text("company"),
        notes: text("notes"),
        tags: c["tags"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        favorite: c["favorite"].as_bool().unwrap_or(false),
    }
}

/// The attempt a stored contact came from: it must exist, may be stored, and match exactly.
fn origin<'a>(
    by_name: &HashMap<&str, &'a ContactAttempt>,
    id: &str,
    got: &ContactData,
) -> &'a ContactAttempt {
    let attempt = by_name
        .get(got.name.as_str())
        .unwrap_or_else(|| panic!("contact {id} ({:?}) matches no attempt", got.name));
    assert!(
        attempt.outcome.may_be_stored(),
        "contact {id} ({:?}) is stored although its write ended {:?}",
        got.name,
        attempt.outcome
    );
    assert_eq!(
        &attempt.sent, got,
        "contact {id} differs from what was sent"
    );
    if let Outcome::Acked(Some(acked)) = &attempt.outcome {
        assert_eq!(acked, id, "contact {:?} stored under another id", got.name);
    }
    attempt
}

/// Every acknowledged contact reads back whole by id; the listing holds nothing that was not
/// sent or that was refused. Returns how many contacts the API lists.
pub async fn contacts_over_api(base: &str, token: &str, attempts: &[ContactAttempt]) -> usize {
    let client = reqwest::Client::new();
    let by_name: HashMap<&str, &ContactAttempt> =
        attempts.iter().map(|a| (a.sent.name.as_str(), a)).collect();
    for a in attempts {
        let Outcome::Acked(id) = &a.outcome else {
            continue;
        };
        let id = id.as_deref().expect("an acknowledged contact has an id");
        let res = client
            .get(format!("{base}/api/contacts/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/contacts/{id} answers");
        assert_eq!(
            res.status(),
            200,
            "acknowledged contact {id} ({:?}) is gone",
            a.sent.name
        );
        let body: Value = res.json().await.expect("contact JSON");
        assert_eq!(
            from_json(&body),
            a.sent,
            "acknowledged contact {id} reads back differently"
        );
    }
    let mut seen = HashSet::new();
    for page in 1.. {
        let res = client
            .get(format!(
                "{base}/api/contacts?per_page=200&sort=created&page={page}"
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET /api/contacts answers");
        assert_eq!(res.status(), 200, "contact list page {page}");
        let body: Value = res.json().await.expect("contact list JSON");
        let list = body["contacts"].as_array().expect("contacts array");
        for c in list {
            let id = c["id"].as_str().expect("contact id");
            // The list carries every field too.
            origin(&by_name, id, &from_json(c));
            assert!(seen.insert(id.to_string()), "contact {id} listed twice");
        }
        if list.len() < 200 {
            let total = body["total"].as_u64().expect("total") as usize;
            assert_eq!(total, seen.len(), "total matches the listed contacts");
            break;
        }
    }
    seen.len()
}

/// The book keys of `username`, opened with their password from the stored wrap (the
/// server's keys alone open no contact).
async fn own_keys(db: &sqlx::SqlitePool, username: &str, password: &str) -> BookKeys {
    let (id, salt, wrap): (i64, String, String) =
        sqlx::query_as("SELECT id, key_salt, key_wrap FROM users WHERE username = ?")
            .bind(username)
            .fetch_one(db)
            .await
            .expect("the user has keys");
    let salt = user_keys::salt_bytes(&salt).expect("key salt");
    let kek = user_keys::password_kek(password, &salt).expect("password KEK");
    UserKeys::unwrap_with(id, &kek, &wrap)
        .expect("the password opens the user's keys")
        .book()
        .clone()
}

/// The inbox key, held under the server keys: this run has no admin, so no admin claimed it.
/// `None` while no message has arrived (the key is made with the first one).
async fn held_inbox_key(db: &sqlx::SqlitePool, server_keys: &Keys) -> Option<InboxKey> {
    let held: Option<String> = sqlx::query_scalar("SELECT held FROM inbox_key")
        .fetch_optional(db)
        .await
        .expect("inbox_key reads")
        .flatten();
    let held = held?;
    let secret = server_keys
        .cipher
        .decrypt_bytes(&held)
        .expect("the server keys open the held inbox key");
    Some(InboxKey::from_secret(&secret).expect("held inbox key"))
}

pub struct Stored {
    pub contacts: usize,
    pub submissions: usize,
    pub contacts_in_doubt_stored: usize,
    pub submissions_in_doubt_stored: usize,
}

/// Opens the database file (server stopped) and checks it row by row.
pub async fn database(data: &Path, contacts: &[ContactAttempt], forms: &[FormAttempt]) -> Stored {
    let (server_keys, _) = load_or_generate(&KeySources::default(), data).expect("keys.env loads");
    let options = SqliteConnectOptions::new()
        .filename(data.join("contact-vault.db"))
        .create_if_missing(false);
    let db = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("database opens");
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&db)
        .await
        .expect("integrity_check runs");
    assert_eq!(integrity, ["ok"], "PRAGMA integrity_check");
    let broken_keys: Vec<String> =
        sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
            .fetch_all(&db)
            .await
            .expect("foreign_key_check runs");
    assert!(
        broken_keys.is_empty(),
        "foreign keys broken in {broken_keys:?}"
    );

    let keys = own_keys(&db, crate::crash::USER, crate::crash::PASSWORD).await;

    // Contacts: every row decrypts whole (the library's own `open`) and is one of the attempts.
    let by_name: HashMap<&str, &ContactAttempt> =
        contacts.iter().map(|a| (a.sent.name.as_str(), a)).collect();
    // The store's row types decode through sqlx's `Any` driver, as the server reads them.
    sqlx::any::install_default_drivers();
    let any = sqlx::AnyPool::connect(&format!(
        "sqlite://{}?mode=ro",
        data.join("contact-vault.db").display()
    ))
    .await
    .expect("database opens through Any");
    let rows: Vec<ContactRow> = sqlx::query_as("SELECT * FROM contacts")
        .fetch_all(&any)
        .await
        .expect("contact rows");
    let mut contacts_in_doubt_stored = 0;
    let mut stored_names = HashSet::new();
    for row in &rows {
        let view = book::open(&keys, &row.sealed)
            .unwrap_or_else(|e| panic!("contact row {}: {e:#}", row.sealed.id));
        let c = view.contact;
        let got = ContactData {
            name: c.name,
            phone: c.phone,
            email: c.email,
            address: c.address,
            company: c.company,
            notes: c.notes,
            tags: c.tags,
            favorite: c.favorite,
        };
        // The search summary (encrypted JSON, short keys) holds the same values.
        let summary = keys.cipher.decrypt(&row.summary).expect("summary decrypts");
        let summary: Value = serde_json::from_str(&summary).expect("summary is JSON");
        let expected = serde_json::json!({
            "n": got.name, "p": got.phone, "e": got.email, "c": got.company, "t": got.tags,
        });
        assert_eq!(summary, expected, "summary of contact {}", row.sealed.id);
        let attempt = origin(&by_name, &row.sealed.id, &got);
        contacts_in_doubt_stored += usize::from(matches!(attempt.outcome, Outcome::InDoubt(_)));
        assert!(
            stored_names.insert(got.name.clone()),
            "{:?} stored twice",
            got.name
        );
    }
    for a in contacts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Acked(_)))
    {
        assert!(
            stored_names.contains(&a.sent.name),
            "acknowledged contact {:?} is not in the database",
            a.sent.name
        );
    }
    let contact_rows = rows.len();

    // Submissions: the same, decrypted field by field.
    let by_name: HashMap<&str, &FormAttempt> = forms.iter().map(|a| (a.name.as_str(), a)).collect();
    let rows: Vec<(String, String, String, String, String)> =
        sqlx::query_as("SELECT id, name, email, phone, message FROM submissions")
            .fetch_all(&db)
            .await
            .expect("submission rows");
    let inbox = held_inbox_key(&db, &server_keys).await;
    let mut submissions_in_doubt_stored = 0;
    let mut stored_names = HashSet::new();
    for (id, name, email, phone, message) in &rows {
        let open = |t: &str| {
            inbox
                .as_ref()
                .and_then(|key| key.open_field(t))
                .unwrap_or_else(|| panic!("submission {id} does not open with the inbox key"))
        };
        let name = open(name);
        let attempt = by_name
            .get(name.as_str())
            .unwrap_or_else(|| panic!("submission {id} ({name:?}) matches no attempt"));
        assert!(
            attempt.outcome.may_be_stored(),
            "submission {name:?} stored although it ended {:?}",
            attempt.outcome
        );
        assert_eq!(open(email), attempt.email, "e-mail of {name:?}");
        assert_eq!(open(phone), crate::net::FORM_PHONE, "phone of {name:?}");
        assert_eq!(open(message), attempt.message, "message of {name:?}");
        submissions_in_doubt_stored += usize::from(matches!(attempt.outcome, Outcome::InDoubt(_)));
        assert!(stored_names.insert(name.clone()), "{name:?} stored twice");
    }
    for a in forms
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Acked(_)))
    {
        assert!(
            stored_names.contains(&a.name),
            "acknowledged submission {:?} is not in the database",
            a.name
        );
    }

    // Each write and its audit event commit together: the ids match one to one.
    for (action, table) in [
        ("ADD_CONTACT", "SELECT id FROM contacts"),
        ("RECEIVE_SUBMISSION", "SELECT id FROM submissions"),
    ] {
        let audited: HashSet<String> =
            sqlx::query_scalar::<_, String>("SELECT detail FROM audit_log WHERE action = $1")
                .bind(action)
                .fetch_all(&db)
                .await
                .expect("audit rows")
                .into_iter()
                .map(|d| d.trim_start_matches("id=").to_string())
                .collect();
        let ids: HashSet<String> = sqlx::query_scalar::<_, String>(table)
            .fetch_all(&db)
            .await
            .expect("ids")
            .into_iter()
            .collect();
        assert_eq!(audited, ids, "{action} events match the rows ({table})");
    }
    db.close().await;
    Stored {
        contacts: contact_rows,
        submissions: rows.len(),
        contacts_in_doubt_stored,
        submissions_in_doubt_stored,
    }
}

/// `contact-vault audit verify` on the data directory exits 0.
pub fn audit_chain(data: &Path) {
    let out = cli(data, &["audit", "verify"], "");
    assert!(
        out.status.success(),
        "audit verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! `contact-vault import-legacy DIR`: brings the data folder of the old Flask app
//! "secure_contact_book" (v2, and the older single-user v1) into this app.
//!
//! The folder holds:
//! - `key.key`: the old Fernet key (required);
//! - `user_db.json` (required): in v2 a map `{"<name>": {"username", "password", "role",
//!   "created"}}`; v1 held one user, either wrapped the same way or as the bare object
//!   `{"username": "...", "password": "..."}`. Both are read (a top-level object whose
//!   `username` is a string is the bare form; otherwise every value must be a user record, whose
//!   `username` defaults to its key). `password` is `{"hash": hex, "salt": hex}` (PBKDF2) or a
//!   bare 64-hex SHA-256 digest; both are stored in the legacy forms of
//!   [`crate::crypto::password`] and become Argon2id at the user's next sign-in. A role other
//!   than `admin` becomes `user`; `created` is kept when it parses;
//! - `contact_db.json`: a list of contacts whose six text fields are Fernet tokens (`""` is
//!   empty). v1 contacts have no `owner` (they go to the file's only user) and no `id` (their
//!   identity for re-runs is a digest of the record);
//! - `audit_log.json`: a list of `{id, timestamp, username, action, detail}`. The old `detail`
//!   is never copied (the old app wrote contact names into it). v1 had no such file: a missing
//!   `contact_db.json` or `audit_log.json` counts as empty.
//!
//! Everything is parsed, decrypted and validated before the database is touched, and written
//! in one transaction: any bad record fails the whole import with a message naming it, and
//! nothing is stored. Records already imported (by legacy id) and users that already exist are
//! skipped, so running the import again adds nothing. Messages and the summary never carry a
//! decrypted field or a password hash.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};

use crate::accounts::{NewUser, insert_user};
use crate::audit::{self, Actor, action};
use crate::crypto::token::new_id;
use crate::store::{self, contacts, users};
use crate::vault::Vault;

mod read;

use read::*;

pub use read::sanitize_action;

/// What an import did, in counts only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegacySummary {
    pub users_added: usize,
    /// Users whose name already exists here (left untouched).
    pub users_skipped: usize,
    pub contacts_added: usize,
    /// Contacts imported before, or duplicating a contact of the same owner.
    pub contacts_skipped: usize,
    pub events_added: usize,
    /// Audit events imported before.
    pub events_skipped: usize,
}

impl LegacySummary {
    /// The detail of the `IMPORT_LEGACY` audit row: counts, never names.
    fn audit_detail(&self) -> String {
        format!(
            "users_added={} users_skipped={} contacts_added={} contacts_skipped={} \
             events_added={} events_skipped={}",
            self.users_added,
            self.users_skipped,
            self.contacts_added,
            self.contacts_skipped,
            self.events_added,
            self.events_skipped
        )
    }
}

impl fmt::Display for LegacySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "legacy import done")?;
        writeln!(
            f,
            "  users:    {} added, {} skipped (already present)",
            self.users_added, self.users_skipped
        )?;
        writeln!(
            f,
            "  contacts: {} added, {} skipped (already imported or duplicates)",
            self.contacts_added, self.contacts_skipped
        )?;
        writeln!(
            f,
            "  events:   {} added, {} skipped (already imported)",
            self.events_added, self.events_skipped
        )?;
        writeln!(
            f,
            "Old audit details were withheld (they may name contacts); each copied event \
             records legacy_id=<old id> instead."
        )?;
        write!(
            f,
            "Imported users sign in with their old password, which is then upgraded to \
             Argon2id; admins must enrol TOTP at that sign-in."
        )
    }
}

/// Imports the legacy data folder `dir`. See the module documentation.
pub async fn import_dir(vault: &Vault, dir: &Path) -> anyhow::Result<LegacySummary> {
    let folder = read_folder(dir)?;
    let now = vault.clock.now();
    let mut summary = LegacySummary::default();
    let mut tx = store::begin_write(&vault.db).await?;
    // Username -> user id here, for owners and audit actors; None for names with no user.
    let mut ids: HashMap<String, Option<i64>> = HashMap::new();

    let cli = Actor {
        user_id: None,
        username: "cli",
    };
    for user in &folder.users {
        let name = user.username.as_str();
        if let Some(existing) = users::find_by_username(&mut tx, name).await? {
            summary.users_skipped += 1;
            ids.insert(name.to_string(), Some(existing.id));
            continue;
        }
        let new = NewUser {
            name: &user.username,
            stored_hash: &user.stored_hash,
            role: user.role,
            created: user.created.unwrap_or(now),
        };
        let id = insert_user(&mut tx, vault, cli, &new, Some("import-legacy"))
            .await?
            .with_context(|| format!("{USER_FILE} user {name}: the name is taken"))?;
        summary.users_added += 1;
        ids.insert(name.to_string(), Some(id));
    }

    let mut owners = BTreeSet::new();
    for c in &folder.contacts {
        let Some(owner_id) = user_id(&mut tx, &mut ids, c.owner.as_str()).await? else {
            bail!(
                "{}: owner {} is neither in {USER_FILE} nor a user of this app",
                c.at,
                c.owner
            );
        };
        if !contacts::mark_legacy_imported(&mut tx, "contact", &c.id.value).await? {
            summary.contacts_skipped += 1;
            continue;
        }
        let created = c.created.unwrap_or(now);
        let updated = c.updated.unwrap_or(created);
        let row = super::seal(
            &vault.keys.book(),
            owner_id,
            &new_id(),
            &c.contact,
            created,
            updated,
        )?;
        if contacts::insert(&mut tx, &row).await?.is_some() {
            summary.contacts_added += 1;
            owners.insert(owner_id);
        } else {
            summary.contacts_skipped += 1;
        }
    }
    for owner_id in owners {
        contacts::bump_version(&mut tx, owner_id).await?;
        // The imported rows are under the server's keys (the owner's are shut here): an owner
        // with keys of their own has them moved at the next sign-in.
        crate::store::user_keys::reopen(&mut tx, owner_id).await?;
    }

    for event in &folder.events {
        if !contacts::mark_legacy_imported(&mut tx, "audit", &event.id.value).await? {
            summary.events_skipped += 1;
            continue;
        }
        let user_id = if event.named {
            user_id(&mut tx, &mut ids, &event.username).await?
        } else {
            None
        };
        let actor = Actor {
            user_id,
            username: &event.username,
        };
        let detail = format!("legacy_id={}", event.id.value);
        audit::record(
            &mut tx,
            &vault.keys.audit,
            event.ts,
            actor,
            &event.action,
            &detail,
        )
        .await?;
        summary.events_added += 1;
    }

    audit::record(
        &mut tx,
        &vault.keys.audit,
        now,
        cli,
        action::IMPORT_LEGACY,
        &summary.audit_detail(),
    )
    .await?;
    tx.commit().await?;
    Ok(summary)
}

/// The id of the user called `name` here, remembered in `ids`.
async fn user_id(
    db: &mut crate::store::Conn,
    ids: &mut HashMap<String, Option<i64>>,
    name: &str,
) -> crate::store::DbResult<Option<i64>> {
    if let Some(id) = ids.get(name) {
        return Ok(*id);
    }
    let id = users::find_by_username(db, name).await?.map(|u| u.id);
    ids.insert(name.to_string(), id);
    Ok(id)
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::crypto::FieldCipher;
    use crate::crypto::password::{legacy_pbkdf2_stored, legacy_sha256_stored};
    use crate::domain::{Role, Username};

    // From ../shared/fixtures/legacy-v2 (written by Python's cryptography and hashlib).
    const KEY: &str = "N0_kysu-C8Zi-sppWVe6p4Mlypvnn_Duk2Nf5iRNgQA=";
    const LENA: &str = "gAAAAABrBINxsAUI0OleyDtqGwLOHXFut7eh2VafYqPc4p3SBnvdO-d6KUeg8o2a8vrC63KsW4g0QBbaNQY0HsCY-LaErSIbOA==";
    const LENA_PHONE: &str = "gAAAAABrBINxzv6LG4UpYqNCs-lRdQYmDlCbovUk3L_shmZ1ddHl4r0Hnro1tUQFhNdZMCn1OHlEHZwf5vO77EWAq59M9NQh_w==";
    const SHA: &str = "d5ee4fc01c4c7245a1bd534ac7173e591bdef8c7a7cf8ec5fcff40f9ce161ca8";
    const PBKDF2_HASH: &str = "d907e4551f4d6d4b9eea034d510dd020349bfafd2a8efa5df6ee21953fcf5b34";
    const PBKDF2_SALT: &str = "b6de95256eba1c2b5071cafb74ebcd1b2575ba66cb9a7132317a7384a84cb32d";

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn legacy_user_db_v2_map() {
        let db = json!({
            "admin": {"username": "admin", "password": {"hash": PBKDF2_HASH, "salt": PBKDF2_SALT},
                      "role": "admin", "created": "2025-06-01T09:00:00+00:00"},
            "maria": {"username": "maria", "password": SHA, "role": "user",
                      "created": "2025-06-02T09:00:00+00:00"},
        });
        let users = parse_users(&db).unwrap();
        assert_eq!(users.len(), 2);
        let admin = users
            .iter()
            .find(|u| u.username.as_str() == "admin")
            .unwrap();
        assert_eq!(admin.role, Role::Admin);
        assert_eq!(
            admin.stored_hash,
            legacy_pbkdf2_stored(PBKDF2_HASH, PBKDF2_SALT).unwrap()
        );
        assert_eq!(admin.created, Some(1_748_768_400));
        let maria = users
            .iter()
            .find(|u| u.username.as_str() == "maria")
            .unwrap();
        assert_eq!(maria.role, Role::User);
        assert_eq!(maria.stored_hash, legacy_sha256_stored(SHA).unwrap());
    }

    #[test]
    fn legacy_user_db_v1_bare_and_wrapped() {
        let bare = parse_users(&json!({"username": "guru", "password": SHA})).unwrap();
        assert_eq!(bare.len(), 1);
        assert_eq!(bare[0].username.as_str(), "guru");
        assert_eq!(bare[0].role, Role::User);
        assert_eq!(bare[0].created, None);

        // Wrapped under its name, with the username left to the key.
        let wrapped = parse_users(&json!({"Guru": {"password": SHA, "role": "root"}})).unwrap();
        assert_eq!(wrapped[0].username.as_str(), "guru");
        assert_eq!(wrapped[0].role, Role::User, "unknown roles become user");
    }

    #[test]
    fn legacy_user_db_rejects_bad_records_without_echoing_hashes() {
        let bad_name = parse_users(&json!({"x": {"username": "x", "password": SHA}}));
        assert!(bad_name.unwrap_err().to_string().contains("username"));

        let mismatch = parse_users(&json!({"maria": {"username": "anna", "password": SHA}}));
        assert!(mismatch.unwrap_err().to_string().contains("differs"));

        let twice = parse_users(&json!({
            "Maria": {"password": SHA}, "maria": {"password": SHA}
        }));
        assert!(twice.unwrap_err().to_string().contains("twice"));

        for password in [
            json!("abc123"),
            json!({"hash": "zz", "salt": PBKDF2_SALT}),
            json!({"hash": PBKDF2_HASH}),
            json!(42),
        ] {
            let err = parse_users(&json!({"maria": {"password": password}}))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("user_db.json user \"maria\": password:"),
                "{err}"
            );
            assert!(
                !err.contains(PBKDF2_SALT) && !err.contains("abc123"),
                "{err}"
            );
        }
        assert!(parse_users(&json!([1, 2])).is_err());
    }

    #[test]
    fn legacy_hash_forms() {
        assert_eq!(
            stored_hash(Some(&json!(SHA))).unwrap(),
            format!("legacy-sha256${SHA}")
        );
        assert_eq!(
            stored_hash(Some(&json!({"hash": PBKDF2_HASH, "salt": PBKDF2_SALT}))).unwrap(),
            format!("legacy-pbkdf2${PBKDF2_SALT}${PBKDF2_HASH}")
        );
        assert!(stored_hash(None).is_err());
        assert!(stored_hash(Some(&json!("$argon2id$v=19$..."))).is_err());
    }

    #[test]
    fn legacy_ownerless_contacts_go_to_the_only_user() {
        let guru = Username::parse("guru").unwrap();
        assert_eq!(owner_of(None, Some(&guru), 1).unwrap(), guru);
        assert_eq!(owner_of(Some(&json!("")), Some(&guru), 1).unwrap(), guru);
        assert_eq!(
            owner_of(Some(&json!("Maria")), Some(&guru), 1)
                .unwrap()
                .as_str(),
            "maria"
        );
        let err = owner_of(None, None, 2).unwrap_err();
        assert!(err.contains("holds 2 users"), "{err}");
        assert!(owner_of(Some(&json!(7)), Some(&guru), 1).is_err());
    }

    #[test]
    fn legacy_contact_decrypts_python_tokens_and_names_bad_records() {
        let cipher = FieldCipher::from_keys(&[KEY]).unwrap();
        let record = obj(json!({
            "id": "b83e0b3e-1497-42b4-99e8-b8e2de3df3e6", "owner": "maria",
            "name": LENA, "phone": LENA_PHONE, "email": "", "address": "", "company": "",
            "notes": "", "tags": ["work", "de"], "favorite": true,
            "created": "2025-06-03T09:00:00+00:00", "updated": "2025-06-04T09:00:00+00:00",
        }));
        let c = parse_contact(&cipher, 1, &record, None, 2).unwrap();
        assert_eq!(c.contact.name, "Lena Fischer");
        assert_eq!(c.contact.phone, "+49 30 901820");
        assert_eq!(c.contact.email, "");
        assert_eq!(c.contact.tags, ["work", "de"]);
        assert!(c.contact.favorite);
        assert_eq!(c.owner.as_str(), "maria");
        assert_eq!(c.created, Some(1_748_941_200));
        assert_eq!(c.updated, Some(1_749_027_600));
        assert!(c.id.given);

        let mut broken = record.clone();
        broken.insert("name".into(), json!(LENA.replace("sAUI", "sAUJ")));
        let err = parse_contact(&cipher, 2, &broken, None, 2)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(
            err,
            "contact_db.json record 2 (id b83e0b3e-1497-42b4-99e8-b8e2de3df3e6): name: cannot \
             be decrypted with the key in key.key"
        );

        let mut no_phone = record.clone();
        no_phone.insert("phone".into(), json!(""));
        let err = parse_contact(&cipher, 3, &no_phone, None, 2)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("record 3") && err.contains("phone: "), "{err}");
        assert!(!err.contains("Lena"), "{err}");
    }

    #[test]
    fn legacy_ids_are_given_or_a_stable_digest() {
        let given = legacy_id_of(&obj(json!({"id": "1a2b3c4d"})));
        assert_eq!(given.value, "1a2b3c4d");
        assert!(given.given);
        assert_eq!(legacy_id_of(&obj(json!({"id": 7}))).value, "7");

        let v1 = obj(json!({"name": LENA, "phone": LENA_PHONE}));
        let a = legacy_id_of(&v1);
        assert!(!a.given && a.value.starts_with("sha256-"));
        assert_eq!(a, legacy_id_of(&v1.clone()));
        let odd = legacy_id_of(&obj(json!({"id": "Lena Fischer's card"})));
        assert!(!odd.given, "an id that is not plain is not copied");
    }

    #[test]
    fn legacy_action_sanitising() {
        assert_eq!(sanitize_action("ADD_CONTACT"), "ADD_CONTACT");
        assert_eq!(sanitize_action("login_ok"), "LOGIN_OK");
        assert_eq!(
            sanitize_action("Delete contact: Lena!"),
            "DELETECONTACTLENA"
        );
        assert_eq!(sanitize_action("x".repeat(100).as_str()).len(), 40);
        assert_eq!(sanitize_action("42 <>"), "LEGACY_EVENT");
        assert_eq!(sanitize_action(""), "LEGACY_EVENT");
    }

    #[test]
    fn legacy_events_drop_the_old_detail() {
        let e = parse_event(
            1,
            &obj(
                json!({"id": "1a2b3c4d", "timestamp": "2025-06-03T09:00:00+00:00",
                        "username": "maria", "action": "ADD_CONTACT", "detail": "Lena Fischer"}),
            ),
        )
        .unwrap();
        assert_eq!(e.ts, 1_748_941_200);
        assert_eq!((e.username.as_str(), e.named), ("maria", true));
        assert!(!format!("{e:?}").contains("Lena"));

        let odd = parse_event(
            2,
            &obj(json!({"timestamp": "2025-06-03T09:00:00", "username": "hunter2 typed here"})),
        )
        .unwrap();
        assert_eq!(
            (odd.username.as_str(), odd.named),
            ("(invalid name)", false)
        );
        assert_eq!(odd.action, "LEGACY_EVENT");

        let err = parse_event(3, &obj(json!({"id": "x1", "timestamp": "soon"}))).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("audit_log.json record 3 (id x1): timestamp")
        );
    }

    #[test]
    fn legacy_summary_counts_only() {
        let s = LegacySummary {
            users_added: 2,
            contacts_added: 3,
            events_added: 2,
            ..Default::default()
        };
        let text = s.to_string();
        assert!(text.contains("users:    2 added, 0 skipped"), "{text}");
        assert!(text.contains("withheld"), "{text}");
        assert_eq!(
            s.audit_detail(),
            "users_added=2 users_skipped=0 contacts_added=3 contacts_skipped=0 events_added=2 \
             events_skipped=0"
        );
    }
}

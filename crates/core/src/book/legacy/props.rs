//! Property tests of the legacy-folder reader: whatever JSON (or bytes) an old folder holds,
//! reading it never panics, and what it accepts keeps the rules of this app.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::clock::rfc3339;
use crate::crypto::FieldCipher;
use crate::domain::Username;

const KEY: &str = "N0_kysu-C8Zi-sppWVe6p4Mlypvnn_Duk2Nf5iRNgQA=";

fn cipher() -> FieldCipher {
    FieldCipher::from_keys(&[KEY]).expect("key")
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 160,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Keys the reader looks at, and a few it doesn't.
const KEYS: &[&str] = &[
    "username",
    "password",
    "role",
    "created",
    "updated",
    "owner",
    "id",
    "name",
    "phone",
    "email",
    "address",
    "company",
    "notes",
    "tags",
    "favorite",
    "timestamp",
    "action",
    "detail",
    "hash",
    "salt",
    "other",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ".{0,24}",
        2 => "[a-z0-9._-]{0,12}",
        1 => "[0-9a-f]{64}",
        1 => prop::sample::select(vec![
            "admin", "user", "ADMIN ", "2025-06-03T09:00:00+00:00", "2025-06-03 09:00:00.5",
            "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "+44 7700 900123", "a|b|c", "",
            "   ",
        ])
        .prop_map(str::to_string),
        1 => ".{0,24}".prop_map(|s| cipher().encrypt(&s)),
        1 => "[+0-9 ]{7,16}".prop_map(|s| cipher().encrypt(&s)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop::sample::select(vec![
            0i64,
            1_748_941_200,
            -62_135_596_800,
            253_402_300_799,
            253_402_300_800,
            i64::MIN,
            i64::MAX
        ])
        .prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..8).prop_map(
                |pairs| {
                    Value::Object(
                        pairs
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect::<Map<String, Value>>(),
                    )
                }
            ),
        ]
    })
}

/// A record shaped like an old contact, with arbitrary values in some fields.
fn contact_record() -> impl Strategy<Value = Value> {
    (
        text(),
        text(),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::option::of(value()),
        prop::collection::vec((prop::sample::select(KEYS.to_vec()), value()), 0..3),
    )
        .prop_map(|(name, phone, tags, favorite, created, owner, extra)| {
            let mut record = json!({
                "name": cipher().encrypt(&name),
                "phone": cipher().encrypt(&phone),
            });
            let map = record.as_object_mut().unwrap();
            for (key, v) in [
                ("tags", tags),
                ("favorite", favorite),
                ("created", created),
                ("owner", owner),
            ] {
                if let Some(v) = v {
                    map.insert(key.to_string(), v);
                }
            }
            for (k, v) in extra {
                map.insert(k.to_string(), v);
            }
            record
        })
}

fn accepted_time(t: Option<i64>) -> bool {
    t.is_none_or(|t| !rfc3339(t).is_empty())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn user_db_never_panics(db in value()) {
        if let Ok(users) = parse_users(&db) {
            for u in users {
                prop_assert!(!u.stored_hash.is_empty());
                prop_assert!(accepted_time(u.created), "created {:?} can be shown", u.created);
            }
        }
    }

    #[test]
    fn contacts_and_events_never_panic(list in prop::collection::vec(prop_oneof![value(), contact_record()], 0..6)) {
        let list = Value::Array(list);
        let cipher = cipher();
        let only = Username::parse("lena").unwrap();
        if let Ok(records) = as_records(&list, CONTACT_FILE) {
            for (i, record) in records.iter().enumerate() {
                for only in [Some(&only), None] {
                    if let Ok(c) = parse_contact(&cipher, i + 1, record, only, 2) {
                        prop_assert!(!c.contact.name.is_empty());
                        prop_assert!(accepted_time(c.created) && accepted_time(c.updated));
                    }
                }
                if let Ok(event) = parse_event(i + 1, record) {
                    prop_assert!(!rfc3339(event.ts).is_empty(), "timestamp {} can be shown", event.ts);
                    prop_assert!(!event.action.is_empty());
                }
                let _ = legacy_id_of(record);
            }
        }
        for v in list.as_array().unwrap() {
            let _ = timestamp_of(v);
            let _ = stored_hash(Some(v));
            let _ = owner_of(Some(v), Some(&only), 1);
        }
    }

    #[test]
    fn folders_never_panic(
        key in prop_oneof![Just(KEY.to_string()), ".{0,50}"],
        user_db in prop_oneof![value().prop_map(|v| v.to_string()), ".{0,80}"],
        contacts in prop::option::of(prop_oneof![
            prop::collection::vec(contact_record(), 0..4).prop_map(|v| Value::Array(v).to_string()),
            value().prop_map(|v| v.to_string()),
            ".{0,40}",
        ]),
        audit in prop::option::of(prop_oneof![value().prop_map(|v| v.to_string()), ".{0,40}"]),
        junk in prop::collection::vec(any::<u8>(), 0..64),
        junk_file in 0usize..5,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut files = vec![(KEY_FILE, key.into_bytes()), (USER_FILE, user_db.into_bytes())];
        if let Some(c) = contacts {
            files.push((CONTACT_FILE, c.into_bytes()));
        }
        if let Some(a) = audit {
            files.push((AUDIT_FILE, a.into_bytes()));
        }
        // Now and then one file is raw bytes (not UTF-8, truncated, binary).
        if let Some(slot) = files.get_mut(junk_file) {
            slot.1 = junk;
        }
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        let _ = read_folder(dir.path());
    }
}

/// Moved from `clock`'s tests (`timestamp_of` is the legacy reader's): Unix seconds are read
/// as they are, within the years RFC 3339 can show; other JSON types are not times.
#[test]
fn timestamps_are_text_or_unix_seconds_that_can_be_shown() {
    assert_eq!(timestamp_of(&json!(1_748_941_200)), Some(1_748_941_200));
    assert_eq!(
        timestamp_of(&json!("2025-06-03T09:00:00Z")),
        Some(1_748_941_200)
    );
    assert_eq!(timestamp_of(&json!(true)), None);
    assert_eq!(
        timestamp_of(&json!(253_402_300_800_i64)),
        None,
        "year 10000"
    );
    assert_eq!(timestamp_of(&json!(-62_167_219_201_i64)), None, "year -1");
    assert_eq!(timestamp_of(&json!("-0001-01-01T00:00:00")), None);
}

//! Reading the old app's folder: its files parsed, its Fernet tokens decrypted and every
//! record validated, before anything is written. Messages name a record by file, position
//! and legacy id, never by a decrypted field.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde_json::{Map, Value};

use crate::clock::{parse_timestamp, rfc3339};
use crate::crypto::FieldCipher;
use crate::crypto::password::{legacy_pbkdf2_stored, legacy_sha256_stored};
use crate::crypto::token::sha256_hex;
use crate::domain::contact::{Contact, ContactDraft, split_tags};
use crate::domain::{Role, Username};

pub(super) const KEY_FILE: &str = "key.key";
pub(super) const USER_FILE: &str = "user_db.json";
pub(super) const CONTACT_FILE: &str = "contact_db.json";
pub(super) const AUDIT_FILE: &str = "audit_log.json";

/// Longest action name kept from the old log.
pub(super) const MAX_ACTION: usize = 40;
/// The action of an old event whose action had no usable character.
pub(super) const UNKNOWN_ACTION: &str = "LEGACY_EVENT";

/// A user of `user_db.json`, ready to store. No `Debug` derive: it holds a password hash.
pub(super) struct LegacyUser {
    pub(super) username: Username,
    /// The hash in one of the legacy forms of `crypto::password`.
    pub(super) stored_hash: String,
    pub(super) role: Role,
    pub(super) created: Option<i64>,
}

impl fmt::Debug for LegacyUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyUser")
            .field("username", &self.username)
            .field("role", &self.role)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// The identity of an old record for `legacy_imports`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LegacyId {
    pub(super) value: String,
    /// False when the record had no usable id and `value` is a digest of its content.
    pub(super) given: bool,
}

/// A contact of `contact_db.json`, decrypted and validated. No `Debug`: it holds plaintext.
pub(super) struct LegacyContact {
    /// Where the record sits, for messages: `contact_db.json record 2 (id b83e…)`.
    pub(super) at: String,
    pub(super) id: LegacyId,
    pub(super) owner: Username,
    pub(super) contact: Contact,
    pub(super) created: Option<i64>,
    pub(super) updated: Option<i64>,
}

/// An event of `audit_log.json`, without its old detail.
#[derive(Debug)]
pub(super) struct LegacyEvent {
    pub(super) id: LegacyId,
    pub(super) ts: i64,
    /// The old username when it is a valid one, else a placeholder.
    pub(super) username: String,
    /// Whether `username` is a real (valid) name that may match a user.
    pub(super) named: bool,
    pub(super) action: String,
}

/// Everything a folder holds, checked, before anything is written.
pub(super) struct LegacyFolder {
    pub(super) users: Vec<LegacyUser>,
    pub(super) contacts: Vec<LegacyContact>,
    pub(super) events: Vec<LegacyEvent>,
}

/// Reads, parses, decrypts and validates the whole folder.
pub(super) fn read_folder(dir: &Path) -> anyhow::Result<LegacyFolder> {
    let key_path = dir.join(KEY_FILE);
    let key = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read {}", key_path.display()))?;
    // Never echo the key: the message names the file only.
    let cipher = FieldCipher::from_keys(&[key.trim()])
        .ok_or_else(|| anyhow!("{KEY_FILE} does not hold a Fernet key"))?;

    let user_db = read_json(dir, USER_FILE, false)?
        .ok_or_else(|| anyhow!("{USER_FILE} is missing in {}", dir.display()))?;
    let users = parse_users(&user_db)?;

    let contacts = match read_json(dir, CONTACT_FILE, true)? {
        Some(value) => {
            let only = match users.as_slice() {
                [one] => Some(&one.username),
                _ => None,
            };
            let records = as_records(&value, CONTACT_FILE)?;
            records
                .iter()
                .enumerate()
                .map(|(i, record)| parse_contact(&cipher, i + 1, record, only, users.len()))
                .collect::<anyhow::Result<Vec<_>>>()?
        }
        None => Vec::new(),
    };

    let events = match read_json(dir, AUDIT_FILE, true)? {
        Some(value) => as_records(&value, AUDIT_FILE)?
            .iter()
            .enumerate()
            .map(|(i, record)| parse_event(i + 1, record))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    Ok(LegacyFolder {
        users,
        contacts,
        events,
    })
}

/// The JSON in `dir/file`; `None` when an optional file is absent or blank.
pub(super) fn read_json(dir: &Path, file: &str, optional: bool) -> anyhow::Result<Option<Value>> {
    let path = dir.join(file);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if optional && text.trim().is_empty() {
        return Ok(None);
    }
    // serde_json's syntax errors give a position, never the content.
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| anyhow!("{file} is not valid JSON: {e}"))
}

/// The records of a list file (`contact_db.json`, `audit_log.json`).
pub(super) fn as_records<'a>(
    value: &'a Value,
    file: &str,
) -> anyhow::Result<Vec<&'a Map<String, Value>>> {
    let list = value
        .as_array()
        .ok_or_else(|| anyhow!("{file}: expected a list of records"))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_object()
                .ok_or_else(|| anyhow!("{file} record {}: not an object", i + 1))
        })
        .collect()
}

/// The users of `user_db.json`, in either shape (see the module documentation).
pub(super) fn parse_users(db: &Value) -> anyhow::Result<Vec<LegacyUser>> {
    let top = db
        .as_object()
        .ok_or_else(|| anyhow!("{USER_FILE}: expected an object"))?;
    let records: Vec<(Option<&str>, &Map<String, Value>)> =
        if top.get("username").is_some_and(Value::is_string) {
            vec![(None, top)]
        } else {
            top.iter()
                .map(|(key, v)| {
                    v.as_object()
                        .map(|record| (Some(key.as_str()), record))
                        .ok_or_else(|| anyhow!("{USER_FILE} user {}: not an object", shown(key)))
                })
                .collect::<anyhow::Result<_>>()?
        };
    let mut seen = BTreeSet::new();
    let mut users = Vec::with_capacity(records.len());
    for (key, record) in records {
        let user = parse_user(key, record)?;
        if !seen.insert(user.username.to_string()) {
            bail!("{USER_FILE} user {}: listed twice", user.username);
        }
        users.push(user);
    }
    Ok(users)
}

/// One user record; `key` is its key in the v2 map.
pub(super) fn parse_user(
    key: Option<&str>,
    record: &Map<String, Value>,
) -> anyhow::Result<LegacyUser> {
    let raw_name = match (record.get("username"), key) {
        (Some(Value::String(name)), _) => name.as_str(),
        (None | Some(Value::Null), Some(key)) => key,
        _ => bail!("{USER_FILE}: a user record has no username"),
    };
    let at = format!("{USER_FILE} user {}", shown(raw_name));
    let username = Username::parse(raw_name).map_err(|m| anyhow!("{at}: username: {m}"))?;
    if let Some(key) = key
        && Username::parse(key).ok().as_ref() != Some(&username)
    {
        bail!("{at}: the username differs from its key {}", shown(key));
    }
    let stored_hash = stored_hash(record.get("password")).map_err(|m| anyhow!("{at}: {m}"))?;
    let role = match record.get("role") {
        Some(Value::String(role)) => Role::from_db(&role.trim().to_ascii_lowercase()),
        _ => Role::User,
    };
    Ok(LegacyUser {
        username,
        stored_hash,
        role,
        created: record.get("created").and_then(timestamp_of),
    })
}

/// The stored form of an old password value. Errors never include the value.
pub(super) fn stored_hash(password: Option<&Value>) -> Result<String, String> {
    match password {
        Some(Value::String(hex)) => legacy_sha256_stored(hex.trim())
            .ok_or_else(|| "password: not a 64-hex SHA-256 digest".to_string()),
        Some(Value::Object(p)) => match (p.get("hash"), p.get("salt")) {
            (Some(Value::String(hash)), Some(Value::String(salt))) => {
                legacy_pbkdf2_stored(hash.trim(), salt.trim()).ok_or_else(|| {
                    "password: PBKDF2 hash or salt is not in the expected hex form".to_string()
                })
            }
            _ => Err("password: expected {\"hash\", \"salt\"}".to_string()),
        },
        None | Some(Value::Null) => Err("password: missing".to_string()),
        Some(_) => Err("password: not a supported legacy hash form".to_string()),
    }
}

/// The owner of a contact: its `owner`, or the only user of the file when it has none.
pub(super) fn owner_of(
    raw: Option<&Value>,
    only_user: Option<&Username>,
    user_count: usize,
) -> Result<Username, String> {
    match raw {
        Some(Value::String(name)) if !name.trim().is_empty() => {
            Username::parse(name).map_err(|m| format!("owner: {m}"))
        }
        None | Some(Value::Null) | Some(Value::String(_)) => only_user.cloned().ok_or_else(|| {
            format!(
                "owner: missing, and {USER_FILE} holds {user_count} users, so it cannot be \
                 told whose contact this is"
            )
        }),
        Some(_) => Err("owner: not a string".to_string()),
    }
}

/// An old record's id: a short plain `id`, or else a digest of the whole record, which is
/// stable across runs on the same file (v1 records had no id).
pub(super) fn legacy_id_of(record: &Map<String, Value>) -> LegacyId {
    let plain = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    match record.get("id") {
        Some(Value::String(id)) if plain(id) => LegacyId {
            value: id.clone(),
            given: true,
        },
        Some(Value::Number(n)) => LegacyId {
            value: n.to_string(),
            given: true,
        },
        _ => LegacyId {
            // serde_json's map is sorted, so the text (and its digest) is canonical.
            value: format!(
                "sha256-{}",
                sha256_hex(&Value::Object(record.clone()).to_string())
            ),
            given: false,
        },
    }
}

pub(super) fn at(file: &str, index: usize, id: &LegacyId) -> String {
    if id.given {
        format!("{file} record {index} (id {})", id.value)
    } else {
        format!("{file} record {index}")
    }
}

/// A contact record: owner, decrypted fields (validated), tags, favorite, times.
pub(super) fn parse_contact(
    cipher: &FieldCipher,
    index: usize,
    record: &Map<String, Value>,
    only_user: Option<&Username>,
    user_count: usize,
) -> anyhow::Result<LegacyContact> {
    let id = legacy_id_of(record);
    let at = at(CONTACT_FILE, index, &id);
    let fail = |m: String| anyhow!("{at}: {m}");
    let owner = owner_of(record.get("owner"), only_user, user_count).map_err(fail)?;
    let field = |name: &str| -> Result<String, String> {
        match record.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(token)) if token.trim().is_empty() => Ok(String::new()),
            Some(Value::String(token)) => cipher
                .decrypt(token.trim())
                .map_err(|_| format!("{name}: cannot be decrypted with the key in {KEY_FILE}")),
            Some(_) => Err(format!("{name}: not a string")),
        }
    };
    let tags = match record.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(cell)) => split_tags(cell),
        Some(Value::Array(list)) => list
            .iter()
            .map(|t| t.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| fail("tags: not a list of strings".into()))?,
        Some(_) => return Err(fail("tags: not a list of strings".into())),
    };
    let favorite = match record.get("favorite") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(fail("favorite: not true or false".into())),
    };
    let time = |name: &str| -> Result<Option<i64>, String> {
        match record.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => timestamp_of(v)
                .map(Some)
                .ok_or_else(|| format!("{name}: not a date and time")),
        }
    };
    let draft = ContactDraft {
        name: Some(field("name").map_err(fail)?),
        phone: Some(field("phone").map_err(fail)?),
        email: Some(field("email").map_err(fail)?),
        address: Some(field("address").map_err(fail)?),
        company: Some(field("company").map_err(fail)?),
        notes: Some(field("notes").map_err(fail)?),
        tags: Some(tags),
        favorite: Some(favorite),
    };
    // The validation messages name rules, never the values.
    let contact = Contact::parse(draft).map_err(|fields| {
        let list: Vec<String> = fields.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        fail(list.join("; "))
    })?;
    Ok(LegacyContact {
        id,
        owner,
        contact,
        created: time("created").map_err(fail)?,
        updated: time("updated").map_err(fail)?,
        at,
    })
}

/// An audit event; its old `detail` is dropped.
pub(super) fn parse_event(
    index: usize,
    record: &Map<String, Value>,
) -> anyhow::Result<LegacyEvent> {
    let id = legacy_id_of(record);
    let at = at(AUDIT_FILE, index, &id);
    let ts = record
        .get("timestamp")
        .and_then(timestamp_of)
        .ok_or_else(|| anyhow!("{at}: timestamp: missing or not a date and time"))?;
    let raw_name = record.get("username").and_then(Value::as_str).unwrap_or("");
    let (username, named) = match Username::parse(raw_name) {
        Ok(name) => (name.to_string(), true),
        Err(_) if raw_name.trim().is_empty() => ("(none)".to_string(), false),
        Err(_) => ("(invalid name)".to_string(), false),
    };
    let action = sanitize_action(record.get("action").and_then(Value::as_str).unwrap_or(""));
    Ok(LegacyEvent {
        id,
        ts,
        username,
        named,
        action,
    })
}

/// An old action name as an action here: upper-cased, only `A-Z` and `_`, at most 40
/// characters; `LEGACY_EVENT` when nothing is left.
pub fn sanitize_action(raw: &str) -> String {
    let kept: String = raw
        .to_uppercase()
        .chars()
        .filter(|c| c.is_ascii_uppercase() || *c == '_')
        .take(MAX_ACTION)
        .collect();
    if kept.is_empty() {
        UNKNOWN_ACTION.to_string()
    } else {
        kept
    }
}

/// A timestamp as text (see [`parse_timestamp`]) or as Unix seconds.
pub(super) fn timestamp_of(value: &Value) -> Option<i64> {
    match value {
        Value::String(text) => parse_timestamp(text),
        // Only seconds that can be shown as RFC 3339 (years 0000..=9999).
        Value::Number(n) => n.as_i64().filter(|&t| !rfc3339(t).is_empty()),
        _ => None,
    }
}

/// A name from the file, quoted and cut short, for messages.
pub(super) fn shown(name: &str) -> String {
    let cut: String = name.chars().take(40).collect();
    format!("{cut:?}")
}

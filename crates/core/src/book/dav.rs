//! The book as a CardDAV address book: its members by resource name with their ETags, the
//! sync token (the book's version), the changes since a token, and cards written and deleted
//! by a client with its preconditions checked in the same transaction as the write.
//!
//! A resource name a client chose is kept sealed, found by a blind index; contacts made
//! elsewhere are served as `{id}.vcf`. A contact's ETag is `"{id}-{version}"`, the book's
//! version at which it last changed (kept by the triggers of migration 0009).

use crate::accounts::actor;
use crate::audit::{self, action};
use crate::crypto::blind;
use crate::crypto::user_keys::BookKeys;
use crate::domain::contact::Contact;
use crate::error::Error;
use crate::store::dav::{self as rows, DavRow};
use crate::store::{self, contacts, users::UserRow};
use crate::vault::Vault;

use super::{Change, insert_card_in, keys_of, open, rewrite_in, rewritten_in_cache, vcard};

/// The longest resource name accepted.
const MAX_NAME: usize = 200;
/// The longest name of an address book.
pub const MAX_BOOK_NAME: usize = 100;

/// A card as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub name: String,
    pub etag: String,
    pub text: String,
}

/// A member of the book: its resource name and ETag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub etag: String,
}

/// What changed after a sync token.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub changed: Vec<Member>,
    pub deleted: Vec<String>,
    /// The token to send next time.
    pub version: i64,
}

/// The condition a client puts on a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `If-None-Match: *`: only if nothing is there.
    Absent,
    /// `If-Match: "etag"`: only if this version is there.
    Matches(String),
}

/// Why a client's write was refused.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("not found")]
    NotFound,
    /// Not a card this book can hold, with the reason.
    #[error("{0}")]
    InvalidCard(String),
    /// The same person (name and phone) is already in the book.
    #[error("duplicate contact")]
    Duplicate,
    #[error(transparent)]
    Other(#[from] Error),
}

/// The blind index of a resource name in one user's book.
pub(crate) fn name_key(keys: &BookKeys, owner_id: i64, name: &str) -> String {
    let key = blind::scope_key(&keys.blind_index_key, &format!("user:{owner_id}"));
    blind::index(&key, "dav-name", name)
}

/// Is `name` a resource name this server accepts (`[A-Za-z0-9._@+=-]`, 1..200, `.vcf`)?
pub fn valid_name(name: &str) -> bool {
    (5..=MAX_NAME).contains(&name.len())
        && name.ends_with(".vcf")
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@+=-".contains(&b))
}

fn etag(id: &str, version: i64) -> String {
    format!("\"{id}-{version}\"")
}

fn name_of(keys: &BookKeys, id: &str, sealed: Option<&str>) -> Result<String, Error> {
    match sealed {
        Some(token) => Ok(keys.cipher.decrypt(token).map_err(anyhow::Error::from)?),
        None => Ok(format!("{id}.vcf")),
    }
}

/// The server-given id in a name of the form `{id}.vcf`.
fn own_id(name: &str) -> Option<&str> {
    let id = name.strip_suffix(".vcf")?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then_some(id)
}

/// The book's sync token (and CTag): its version.
pub async fn version(vault: &Vault, user: &UserRow) -> Result<i64, Error> {
    Ok(contacts::version(&vault.db, user.id).await?)
}

/// Every member of the book.
pub async fn members(vault: &Vault, user: &UserRow) -> Result<Vec<Member>, Error> {
    let keys = keys_of(vault, user)?;
    rows::members(&vault.db, user.id, -1)
        .await?
        .into_iter()
        .map(|m| {
            Ok(Member {
                name: name_of(&keys, &m.id, m.dav_name.as_deref())?,
                etag: etag(&m.id, m.changed_version),
            })
        })
        .collect()
}

/// How long a deleted card's tombstone is kept: a device that has not synced for longer
/// syncs afresh (its token is refused).
pub const TOMBSTONE_DAYS: i64 = 90;

/// What changed after token `since` (RFC 6578); `None` as `since` is a first sync, which lists
/// every card (also those stored before change versions were kept) and no deletion. `Ok(None)`
/// for a token this book never gave, or one older than the tombstones still kept.
pub async fn changes(
    vault: &Vault,
    user: &UserRow,
    since: Option<i64>,
) -> Result<Option<Changes>, Error> {
    let keys = keys_of(vault, user)?;
    let (now, purged) = rows::sync_state(&vault.db, user.id).await?;
    if since.is_some_and(|v| v < purged || v > now) {
        return Ok(None);
    }
    if since == Some(now) {
        // The device is up to date: nothing to read.
        return Ok(Some(Changes {
            version: now,
            ..Changes::default()
        }));
    }
    let changed = rows::members(&vault.db, user.id, since.unwrap_or(-1))
        .await?
        .into_iter()
        .map(|m| {
            Ok(Member {
                name: name_of(&keys, &m.id, m.dav_name.as_deref())?,
                etag: etag(&m.id, m.changed_version),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let deleted = match since {
        None => Vec::new(),
        Some(since) => rows::deleted_since(&vault.db, user.id, since)
            .await?
            .into_iter()
            .map(|t| name_of(&keys, &t.contact_id, t.dav_name.as_deref()))
            .collect::<Result<Vec<_>, Error>>()?,
    };
    Ok(Some(Changes {
        changed,
        deleted,
        version: now,
    }))
}

async fn find(
    conn: &mut crate::store::Conn,
    vault: &Vault,
    user: &UserRow,
    name: &str,
) -> Result<Option<DavRow>, Error> {
    let key = name_key(&keys_of(vault, user)?, user.id, name);
    Ok(rows::find(conn, user.id, &key, own_id(name)).await?)
}

/// The card at `name`, if the book holds one there.
pub async fn get(vault: &Vault, user: &UserRow, name: &str) -> Result<Option<Card>, Error> {
    let keys = keys_of(vault, user)?;
    let mut conn = vault.db.acquire().await?;
    let Some(row) = find(&mut conn, vault, user, name).await? else {
        return Ok(None);
    };
    let view = open(&keys, &row.sealed)?;
    let text = match &row.card {
        Some(token) => keys.cipher.decrypt(token).map_err(anyhow::Error::from)?,
        None => vcard::to_text(&vcard::new_card(&view.id, &view.contact)),
    };
    Ok(Some(Card {
        name: name.to_string(),
        etag: etag(&view.id, row.changed_version),
        text,
    }))
}

fn check(pre: &Precondition, current: Option<&str>) -> Result<(), DavError> {
    match (pre, current) {
        (Precondition::Absent, Some(_)) => Err(DavError::PreconditionFailed),
        (Precondition::Matches(_), None) => Err(DavError::PreconditionFailed),
        (Precondition::Matches(want), Some(have)) if want != have => {
            Err(DavError::PreconditionFailed)
        }
        _ => Ok(()),
    }
}

/// Stores the card a client sent at `name`: a new contact, or the whole new card of the one
/// there. Returns whether it was created, and the new ETag.
pub async fn put(
    vault: &Vault,
    user: &UserRow,
    name: &str,
    text: &str,
    pre: &Precondition,
) -> Result<(bool, String), DavError> {
    if !valid_name(name) {
        return Err(DavError::NotFound);
    }
    let mut card = vcard::parse(text).map_err(DavError::InvalidCard)?;
    let contact = Contact::parse_card(vcard::fields(&card)).map_err(|fields| {
        DavError::InvalidCard(
            fields
                .iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let mut tx = store::begin_write(&vault.db).await.map_err(Error::from)?;
    let existing = find(&mut tx, vault, user, name).await?;
    let current = existing
        .as_ref()
        .map(|row| etag(&row.sealed.id, row.changed_version));
    check(pre, current.as_deref())?;
    let uid = match &existing {
        Some(row) => row.sealed.id.clone(),
        None => name.trim_end_matches(".vcf").to_string(),
    };
    vcard::upgrade(&mut card, &uid);
    let stored = vcard::to_text(&card);
    let duplicate = |e: Error| match e {
        Error::Duplicate(_) => DavError::Duplicate,
        other => DavError::Other(other),
    };
    match existing {
        Some(row) => {
            let id = row.sealed.id;
            let detail = format!("id={id} via=carddav");
            let (view, version) = rewrite_in(
                &mut tx,
                vault,
                user,
                &id,
                contact,
                row.sealed.created,
                Some(&stored),
                (action::EDIT_CONTACT, &detail),
            )
            .await
            .map_err(duplicate)?;
            tx.commit().await.map_err(Error::from)?;
            rewritten_in_cache(vault, user, &view, version);
            Ok((false, etag(&id, version)))
        }
        None => {
            let inserted = insert_card_in(&mut tx, vault, user, contact, Some(&stored), Some(name))
                .await
                .map_err(duplicate)?;
            tx.commit().await.map_err(Error::from)?;
            let tag = etag(&inserted.view.id, inserted.version);
            super::created_in_cache(vault, user, &inserted);
            Ok((true, tag))
        }
    }
}

/// Deletes the card at `name` (with `If-Match`, only that version).
pub async fn delete(
    vault: &Vault,
    user: &UserRow,
    name: &str,
    pre: &Precondition,
) -> Result<(), DavError> {
    let mut tx = store::begin_write(&vault.db).await.map_err(Error::from)?;
    let Some(row) = find(&mut tx, vault, user, name).await? else {
        return Err(DavError::NotFound);
    };
    check(pre, Some(&etag(&row.sealed.id, row.changed_version)))?;
    let id = row.sealed.id;
    contacts::delete(&mut tx, user.id, &id)
        .await
        .map_err(Error::from)?;
    let version = super::bump(&mut tx, user).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::DELETE_CONTACT,
        &format!("id={id} via=carddav"),
    )
    .await?;
    vault
        .directories
        .apply(user.id, version, Change::Remove(id));
    Ok(())
}

/// The name of the user's address book, as devices show it: the one the user gave it, else
/// "Contacts of USERNAME".
pub async fn book_name(vault: &Vault, user: &UserRow) -> Result<String, Error> {
    match rows::book_name(&vault.db, user.id).await? {
        Some(sealed) => Ok(keys_of(vault, user)?
            .cipher
            .decrypt(&sealed)
            .map_err(anyhow::Error::from)?),
        None => Ok(format!("Contacts of {}", user.username)),
    }
}

/// Names the user's address book; an empty name goes back to the default. Audited.
pub async fn rename_book(vault: &Vault, user: &UserRow, name: &str) -> Result<(), Error> {
    let name = name.trim();
    if name.chars().count() > MAX_BOOK_NAME {
        return Err(Error::field(
            "book_name",
            format!("At most {MAX_BOOK_NAME} characters."),
        ));
    }
    if crate::domain::has_forbidden_chars(name, false) {
        return Err(Error::field("book_name", crate::domain::FORBIDDEN_CHARS));
    }
    let keys = keys_of(vault, user)?;
    let sealed = (!name.is_empty()).then(|| keys.cipher.encrypt(name));
    let mut tx = store::begin_write(&vault.db).await?;
    rows::set_book_name(&mut tx, user.id, sealed.as_deref()).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::RENAME_BOOK,
        if name.is_empty() { "default" } else { "named" },
    )
    .await
}

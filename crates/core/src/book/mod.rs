//! The contact book: encryption of contacts, the writes (each with its audit row and a bump
//! of the book's version in one transaction), and listing through the in-memory directory.
//! Handlers in `web::contacts` and `api::contacts` call these functions and nothing below.

pub mod cards;
pub mod csv;
pub mod dav;
pub mod directory;
mod import;
pub mod legacy;
pub mod others;
pub mod query;
pub mod vcard;

use serde::{Deserialize, Serialize};

use crate::accounts::actor;
use crate::audit::{self, action};
use crate::crypto::blind;
use crate::crypto::token::new_id;
use crate::crypto::user_keys::BookKeys;
use crate::domain::contact::{Contact, ContactDraft, dup_name, phone_digits};
use crate::error::Error;
use crate::store::contacts::{self as rows, UpdateOutcome};
use crate::store::{self, users::UserRow};
use crate::vault::Vault;

/// A stored contact (every personal field a Fernet token), as [`seal`] makes and [`open`] reads it.
pub use crate::store::contacts::{ContactRow, SealedContact};
pub use directory::{Change, Directory, DirectoryCache, Entry};
pub use query::{ListQuery, Sort};

/// The keys of `user`'s book for this request: the user's own, unwrapped from the request's
/// credential; the server's while the book has not moved to the user's keys yet. A book under
/// the user's keys that this request did not unlock is [`Error::Sealed`].
pub fn keys_of(vault: &Vault, user: &UserRow) -> Result<BookKeys, Error> {
    let unlocked = user.keys.as_ref().filter(|k| k.user_id() == user.id);
    match (user.key_state.as_deref(), unlocked) {
        (None, _) => Ok(vault.keys.book()),
        (Some("ready"), Some(keys)) => Ok(keys.book().clone()),
        (Some(_), Some(keys)) => Ok(keys.book_converting(&vault.keys.cipher)),
        (Some(_), None) => Err(Error::Sealed),
    }
}

/// Bumps the book's version for a write sealed with [`keys_of`]`(user)`, in its transaction.
/// [`Error::Sealed`] when the book moved to its owner's keys after this request read the user
/// (the write used the server's keys, which no longer open it): the caller's transaction is
/// dropped, nothing is written.
pub(crate) async fn bump(tx: &mut crate::store::Conn, user: &UserRow) -> Result<i64, Error> {
    rows::bump_version_if(tx, user.id, user.key_state.is_some())
        .await?
        .ok_or(Error::Sealed)
}

/// A decrypted contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactView {
    pub id: String,
    pub contact: Contact,
    pub created: i64,
    pub updated: i64,
}

/// The searchable fields, encrypted together into `contacts.summary`.
#[derive(Serialize, Deserialize)]
pub(crate) struct Summary {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "p")]
    pub phone: String,
    #[serde(rename = "e")]
    pub email: String,
    #[serde(rename = "c")]
    pub company: String,
    #[serde(rename = "t")]
    pub tags: Vec<String>,
}

/// The duplicate key of a contact in `owner_id`'s book: its name and phone digits, or, for a
/// card without a phone, its name and e-mail address (so that two people called "Sam" known
/// by e-mail only can both be in the book).
pub fn dup_key(keys: &BookKeys, owner_id: i64, contact: &Contact) -> String {
    let digits = phone_digits(&contact.phone);
    let second = if digits.is_empty() {
        // Never all digits, so never the key of a contact with a phone.
        format!("email:{}", contact.email.trim().to_lowercase())
    } else {
        digits
    };
    blind::contact_dup_key(
        &keys.blind_index_key,
        owner_id,
        &dup_name(&contact.name),
        &second,
    )
}

/// Encrypts every personal field one by one (plus the summary) into a row.
pub fn seal(
    keys: &BookKeys,
    owner_id: i64,
    id: &str,
    c: &Contact,
    created: i64,
    updated: i64,
) -> anyhow::Result<ContactRow> {
    seal_with_card(keys, owner_id, id, c, None, created, updated)
}

/// As [`seal`], with the whole vCard the fields came from (vCard 4.0 text), encrypted too.
pub fn seal_with_card(
    keys: &BookKeys,
    owner_id: i64,
    id: &str,
    c: &Contact,
    card: Option<&str>,
    created: i64,
    updated: i64,
) -> anyhow::Result<ContactRow> {
    let cipher = &keys.cipher;
    let summary = Summary {
        name: c.name.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        company: c.company.clone(),
        tags: c.tags.clone(),
    };
    Ok(ContactRow {
        sealed: SealedContact {
            id: id.to_string(),
            name: cipher.encrypt(&c.name),
            phone: cipher.encrypt(&c.phone),
            email: cipher.encrypt(&c.email),
            address: cipher.encrypt(&c.address),
            company: cipher.encrypt(&c.company),
            notes: cipher.encrypt(&c.notes),
            tags: cipher.encrypt(&serde_json::to_string(&c.tags)?),
            favorite: c.favorite,
            created,
            updated,
        },
        owner_id,
        summary: cipher.encrypt(&serde_json::to_string(&summary)?),
        dup_key: dup_key(keys, owner_id, c),
        card: card.map(|text| cipher.encrypt(text)),
    })
}

/// Decrypts a row.
pub fn open(keys: &BookKeys, row: &SealedContact) -> anyhow::Result<ContactView> {
    let field = |token: &str| open_field(keys, &row.id, token);
    Ok(ContactView {
        id: row.id.clone(),
        contact: Contact {
            name: field(&row.name)?,
            phone: field(&row.phone)?,
            email: field(&row.email)?,
            address: field(&row.address)?,
            company: field(&row.company)?,
            notes: field(&row.notes)?,
            tags: serde_json::from_str(&field(&row.tags)?)?,
            favorite: row.favorite,
        },
        created: row.created,
        updated: row.updated,
    })
}

/// One decrypted field of contact `id`.
fn open_field(keys: &BookKeys, id: &str, token: &str) -> anyhow::Result<String> {
    keys.cipher
        .decrypt(token)
        .map_err(|e| anyhow::anyhow!("contact {id}: {e}"))
}

/// The directory entry of a contact; `seq` is its place in creation order (an edit keeps the
/// old entry's, whatever is given here).
fn entry_of(view: &ContactView, seq: i64) -> Entry {
    Entry::new(
        view.id.clone(),
        &view.contact,
        view.created,
        view.updated,
        seq,
    )
}

pub async fn get(vault: &Vault, user: &UserRow, id: &str) -> Result<ContactView, Error> {
    let keys = keys_of(vault, user)?;
    let mut conn = vault.db.acquire().await?;
    let row = rows::find(&mut conn, user.id, id)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(open(&keys, &row)?)
}

/// The id of the user's contact that `contact` would duplicate, if any.
pub async fn duplicate_of(
    vault: &Vault,
    user: &UserRow,
    contact: &Contact,
) -> Result<Option<String>, Error> {
    let keys = keys_of(vault, user)?;
    let mut conn = vault.db.acquire().await?;
    Ok(rows::id_by_dup_key(&mut conn, user.id, &dup_key(&keys, user.id, contact)).await?)
}

pub async fn create(
    vault: &Vault,
    user: &UserRow,
    draft: ContactDraft,
) -> Result<ContactView, Error> {
    let contact = Contact::parse(draft).map_err(Error::Invalid)?;
    let mut tx = store::begin_write(&vault.db).await?;
    let inserted = insert_in(&mut tx, vault, user, contact).await?;
    tx.commit().await?;
    created_in_cache(vault, user, &inserted);
    Ok(inserted.view)
}

/// A contact added by [`insert_in`], with what [`created_in_cache`] needs after the commit.
pub struct Inserted {
    pub view: ContactView,
    /// The book's version after the insert.
    version: i64,
    /// The row's place in creation order.
    seq: i64,
}

/// Adds a contact inside the caller's write transaction (with its audit row and the version
/// bump); call [`created_in_cache`] after the commit.
pub async fn insert_in(
    tx: &mut crate::store::Conn,
    vault: &Vault,
    user: &UserRow,
    contact: Contact,
) -> Result<Inserted, Error> {
    insert_card_in(tx, vault, user, contact, None, None).await
}

/// As [`insert_in`], with the whole card the contact came as and the resource name a CardDAV
/// client gave it.
pub(crate) async fn insert_card_in(
    tx: &mut crate::store::Conn,
    vault: &Vault,
    user: &UserRow,
    contact: Contact,
    card: Option<&str>,
    dav_name: Option<&str>,
) -> Result<Inserted, Error> {
    let keys = keys_of(vault, user)?;
    let now = vault.clock.now();
    let id = new_id();
    let row = seal_with_card(&keys, user.id, &id, &contact, card, now, now)?;
    let Some(seq) = rows::insert(tx, &row).await? else {
        let existing = rows::id_by_dup_key(tx, user.id, &row.dup_key).await?;
        return Err(Error::Duplicate(existing));
    };
    if let Some(name) = dav_name {
        let sealed = keys.cipher.encrypt(name);
        let key = dav::name_key(&keys, user.id, name);
        crate::store::dav::set_name(tx, user.id, &id, &sealed, &key).await?;
    }
    let version = bump(tx, user).await?;
    audit::record(
        tx,
        &vault.keys.audit,
        now,
        actor(user),
        action::ADD_CONTACT,
        &format!("id={id}"),
    )
    .await?;
    Ok(Inserted {
        view: ContactView {
            id,
            contact,
            created: now,
            updated: now,
        },
        version,
        seq,
    })
}

pub fn created_in_cache(vault: &Vault, user: &UserRow, inserted: &Inserted) {
    let entry = entry_of(&inserted.view, inserted.seq);
    vault
        .directories
        .apply(user.id, inserted.version, Change::Upsert(entry));
}

/// Overwrites the fields the draft carries; the others keep their value (PUT semantics).
pub async fn update(
    vault: &Vault,
    user: &UserRow,
    id: &str,
    draft: ContactDraft,
) -> Result<ContactView, Error> {
    let current = get(vault, user, id).await?;
    let contact = merged(&current, draft)?;
    rewrite(
        vault,
        user,
        id,
        contact,
        current.created,
        action::EDIT_CONTACT,
        &format!("id={id}"),
    )
    .await
}

/// `current` with the fields `draft` carries replaced, checked.
pub(crate) fn merged(current: &ContactView, draft: ContactDraft) -> Result<Contact, Error> {
    let c = current.contact.clone();
    let phoneless = c.phone.is_empty();
    let merged = ContactDraft {
        name: draft.name.or(Some(c.name)),
        phone: draft.phone.or(Some(c.phone)),
        email: draft.email.or(Some(c.email)),
        address: draft.address.or(Some(c.address)),
        company: draft.company.or(Some(c.company)),
        notes: draft.notes.or(Some(c.notes)),
        tags: draft.tags.or(Some(c.tags)),
        favorite: draft.favorite.or(Some(c.favorite)),
    };
    // A contact that came by vCard without a phone may stay without one.
    if phoneless {
        Contact::parse_card(merged)
    } else {
        Contact::parse(merged)
    }
    .map_err(Error::Invalid)
}

pub async fn toggle_favorite(
    vault: &Vault,
    user: &UserRow,
    id: &str,
) -> Result<ContactView, Error> {
    let current = get(vault, user, id).await?;
    let mut contact = current.contact;
    contact.favorite = !contact.favorite;
    let detail = format!("id={id} favorite={}", contact.favorite);
    rewrite(
        vault,
        user,
        id,
        contact,
        current.created,
        action::FAVORITE_CONTACT,
        &detail,
    )
    .await
}

/// Stores a new version of an existing contact, with its audit row, in one transaction.
async fn rewrite(
    vault: &Vault,
    user: &UserRow,
    id: &str,
    contact: Contact,
    created: i64,
    audit_action: &str,
    detail: &str,
) -> Result<ContactView, Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    let (view, version) = rewrite_in(
        &mut tx,
        vault,
        user,
        id,
        contact,
        created,
        None,
        (audit_action, detail),
    )
    .await?;
    tx.commit().await?;
    rewritten_in_cache(vault, user, &view, version);
    Ok(view)
}

/// The rewrite inside the caller's write transaction; returns the book's new version. The
/// stored card is brought up to date with the fields, or replaced by `new_card` (a CardDAV
/// client sends the whole card). Call [`rewritten_in_cache`] after the commit.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn rewrite_in(
    tx: &mut crate::store::Conn,
    vault: &Vault,
    user: &UserRow,
    id: &str,
    contact: Contact,
    created: i64,
    new_card: Option<&str>,
    (audit_action, detail): (&str, &str),
) -> Result<(ContactView, i64), Error> {
    let keys = keys_of(vault, user)?;
    let now = vault.clock.now();
    // A contact that came as a vCard keeps its card, with the changed fields written in.
    let card = match (rows::card(tx, user.id, id).await?, new_card) {
        (None, _) => return Err(Error::NotFound),
        (Some(_), Some(text)) => Some(text.to_string()),
        (Some(None), None) => None,
        (Some(Some(token)), None) => Some(cards::updated_card(&keys, &token, &contact)?),
    };
    let row = seal_with_card(&keys, user.id, id, &contact, card.as_deref(), created, now)?;
    match rows::update(tx, &row).await? {
        UpdateOutcome::Updated => {}
        UpdateOutcome::NotFound => return Err(Error::NotFound),
        UpdateOutcome::Duplicate => {
            let existing = rows::id_by_dup_key(tx, user.id, &row.dup_key).await?;
            return Err(Error::Duplicate(existing));
        }
    }
    let version = bump(tx, user).await?;
    audit::record(
        tx,
        &vault.keys.audit,
        now,
        actor(user),
        audit_action,
        detail,
    )
    .await?;
    let view = ContactView {
        id: id.to_string(),
        contact,
        created,
        updated: now,
    };
    Ok((view, version))
}

/// Patches the cached directory after a rewrite committed.
pub(crate) fn rewritten_in_cache(vault: &Vault, user: &UserRow, view: &ContactView, version: i64) {
    vault
        .directories
        .apply(user.id, version, Change::Upsert(entry_of(view, 0)));
}

pub async fn delete(vault: &Vault, user: &UserRow, id: &str) -> Result<(), Error> {
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    if !rows::delete(&mut tx, user.id, id).await? {
        return Err(Error::NotFound);
    }
    let version = bump(&mut tx, user).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        now,
        actor(user),
        action::DELETE_CONTACT,
        &format!("id={id}"),
    )
    .await?;
    tx.commit().await?;
    vault
        .directories
        .apply(user.id, version, Change::Remove(id.to_string()));
    Ok(())
}

/// One page of the book.
pub struct ListPage {
    pub contacts: Vec<ContactView>,
    /// Matching contacts (all pages).
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// Every tag the user uses.
    pub tags: Vec<String>,
    pub stats_total: i64,
    pub stats_favorites: i64,
}

/// Filters, sorts and pages on the directory. The page's name, phone, e-mail, company, tags
/// and favourite come from the directory (decrypted already); only address and notes are read
/// and decrypted. A row that changed since the directory saw it is shown from the row alone.
pub async fn list(vault: &Vault, user: &UserRow, q: &ListQuery) -> Result<ListPage, Error> {
    // The user's row was read at the start of this request: its book version covers every
    // write committed before the request began, which saves a query per list. The page comes
    // from the directory alone, as it was at that version or later: one consistent book.
    let dir = vault
        .directories
        .at_least(vault, user.id, user.data_version, &keys_of(vault, user)?)
        .await?;
    let selection = dir.select(q);
    Ok(ListPage {
        contacts: selection.page.iter().map(|e| e.view()).collect(),
        total: selection.total as i64,
        page: q.paging.page,
        per_page: q.paging.per_page,
        tags: dir.tags(),
        stats_total: dir.len() as i64,
        stats_favorites: dir.favorites() as i64,
    })
}

#[cfg(test)]
mod service_tests;
#[cfg(test)]
mod vcard_tests;

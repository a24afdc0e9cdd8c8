//! The book as vCards: a `.vcf` file imported (every card checked, all or nothing, like the
//! CSV import), the whole book exported as vCard 4.0 a batch at a time, one contact's card,
//! the stored card brought up to date when the book's fields of a contact change, and the
//! card's other phones and e-mail addresses as the edit form shows and saves them.

use bytes::Bytes;
use calcard::vcard::VCard;

use crate::accounts::actor;
use crate::audit::{self, action};
use crate::crypto::user_keys::BookKeys;
use crate::domain::contact::{Contact, ContactDraft};
use crate::error::Error;
use crate::store::contacts as rows;
use crate::store::{self, users::UserRow};
use crate::vault::Vault;

use super::import::{ImportError, ImportReport, Parsed, import_with};
use super::others::{self, Others};
use super::{ContactView, keys_of, open, vcard};

const EXPORT_BATCH: i64 = 500;

/// Imports a `.vcf` file (vCard 4.0, 3.0 or 2.1; one card or many) into `user`'s book: every
/// card or none. Each card is kept whole, as vCard 4.0; the book's fields are read from it.
pub async fn import(
    vault: &Vault,
    user: &UserRow,
    data: &[u8],
) -> Result<ImportReport, ImportError> {
    import_with(vault, user, data.to_vec(), parse_file, action::IMPORT_VCARD).await
}

/// Parses and checks every card of a file; public for the property tests.
pub fn parse_file(data: &[u8]) -> Result<(Vec<Parsed>, Vec<String>), ImportError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let text = std::str::from_utf8(data).map_err(|e| {
        ImportError::File(format!(
            "the file is not UTF-8 text (byte {} cannot be read)",
            e.valid_up_to()
        ))
    })?;
    let numbered = |errors: Vec<(usize, String)>| {
        ImportError::Rows(errors.into_iter().map(|(n, e)| (n as u64, e)).collect())
    };
    let chunks = vcard::split(text).map_err(numbered)?;
    let mut parsed = Vec::with_capacity(chunks.len());
    let mut errors = Vec::new();
    for chunk in chunks {
        match read_card(chunk.text) {
            Ok(p) => parsed.push(p),
            Err(message) => errors.push((chunk.number, message)),
        }
    }
    if !errors.is_empty() {
        return Err(numbered(errors));
    }
    Ok((parsed, Vec::new()))
}

/// One card's text into a checked contact with the card to keep.
fn read_card(text: &str) -> Result<Parsed, String> {
    let mut card = vcard::parse(text)?;
    let contact = Contact::parse_card(vcard::fields(&card)).map_err(|fields| {
        fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    vcard::upgrade(&mut card, &format!("urn:uuid:{}", new_uuid()));
    Ok(Parsed {
        contact,
        created: None,
        card: Some(vcard::to_text(&card)),
    })
}

/// A random (version 4) UUID, for cards that came without a UID.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    crate::crypto::token::fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The card of a stored contact: its kept card, or one made from its fields.
fn card_text(keys: &BookKeys, view: &ContactView, token: Option<&str>) -> anyhow::Result<String> {
    match token {
        Some(token) => Ok(keys.cipher.decrypt(token)?),
        None => Ok(vcard::to_text(&vcard::new_card(&view.id, &view.contact))),
    }
}

/// The stored card `token` (encrypted), opened and read.
fn open_card(keys: &BookKeys, token: &str) -> anyhow::Result<VCard> {
    let text = keys.cipher.decrypt(token)?;
    vcard::parse(&text).map_err(|e| anyhow::anyhow!("stored card: {e}"))
}

/// The card `token` (encrypted) with the book's fields of `contact` written into it.
pub(crate) fn updated_card(
    keys: &BookKeys,
    token: &str,
    contact: &Contact,
) -> anyhow::Result<String> {
    let mut card = open_card(keys, token)?;
    vcard::apply(&mut card, contact);
    Ok(vcard::to_text(&card))
}

/// One contact of `user` as vCard 4.0 text.
pub async fn card_of(vault: &Vault, user: &UserRow, id: &str) -> Result<String, Error> {
    let keys = keys_of(vault, user)?;
    let mut conn = vault.db.acquire().await?;
    let row = rows::find(&mut conn, user.id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let token = rows::card(&mut conn, user.id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let view = open(&keys, &row)?;
    Ok(card_text(&keys, &view, token.as_deref())?)
}

/// What the contact's page shows from its card: the extra details and the photo, if any.
pub async fn extras(
    vault: &Vault,
    user: &UserRow,
    id: &str,
) -> Result<(Vec<(String, String)>, Option<String>), Error> {
    let keys = keys_of(vault, user)?;
    let mut conn = vault.db.acquire().await?;
    let Some(Some(token)) = rows::card(&mut conn, user.id, id).await? else {
        return Ok((Vec::new(), None));
    };
    let card = open_card(&keys, &token)?;
    Ok((vcard::details(&card), vcard::photo(&card)))
}

/// Records a vCard export in the audit log.
pub async fn begin_export(vault: &Vault, user: &UserRow) -> Result<(), Error> {
    let count = vault
        .directories
        .get(vault, user.id, &keys_of(vault, user)?)
        .await?
        .len();
    let tx = store::begin_write(&vault.db).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::EXPORT_VCARD,
        &format!("count={count}"),
    )
    .await
}

/// One batch of `user`'s book as vCard 4.0 text, the cards after cursor `after` and the
/// cursor to pass next (start at 0); `None` at the end. A face streams the book this way.
pub async fn export_batch(
    vault: &Vault,
    user: &UserRow,
    after: i64,
) -> Result<Option<(Bytes, i64)>, Error> {
    let batch = rows::card_batch_after(&vault.db, user.id, after, EXPORT_BATCH).await?;
    let Some(last) = batch.last().map(|(rowid, _, _)| *rowid) else {
        return Ok(None);
    };
    let keys = keys_of(vault, user)?;
    let text = tokio::task::spawn_blocking(move || {
        let mut out = String::new();
        for (_, row, token) in &batch {
            let view = open(&keys, row)?;
            out.push_str(&card_text(&keys, &view, token.as_deref())?);
        }
        Ok::<_, anyhow::Error>(out)
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok(Some((Bytes::from(text), last)))
}

/// The other phones and e-mail addresses of a contact's card, as its edit form shows them.
pub async fn others_of(vault: &Vault, user: &UserRow, id: &str) -> Result<Others, Error> {
    let keys = keys_of(vault, user)?;
    let mut conn = vault.db.acquire().await?;
    match rows::card(&mut conn, user.id, id).await? {
        None => Err(Error::NotFound),
        Some(None) => Ok(Others::default()),
        Some(Some(token)) => Ok(others::of_card(&open_card(&keys, &token)?)),
    }
}

/// The edit form's save: the fields `draft` carries, and the card's other phones and e-mail
/// addresses as `others` lists them, in one transaction (one version, one audit row). A
/// contact without a card gets one when it gains other numbers or addresses.
pub async fn update_with_others(
    vault: &Vault,
    user: &UserRow,
    id: &str,
    draft: ContactDraft,
    others: &Others,
) -> Result<ContactView, Error> {
    let keys = keys_of(vault, user)?;
    let current = super::get(vault, user, id).await?;
    let contact = super::merged(&current, draft)?;
    let mut tx = store::begin_write(&vault.db).await?;
    let stored = rows::card(&mut tx, user.id, id)
        .await?
        .ok_or(Error::NotFound)?;
    let mut card = match &stored {
        Some(token) => {
            let mut card = open_card(&keys, token)?;
            vcard::apply(&mut card, &contact);
            card
        }
        None => vcard::new_card(id, &contact),
    };
    others::write(&mut card, others).map_err(Error::Invalid)?;
    let wanted = stored.is_some() || others != &Others::default();
    let text = wanted.then(|| vcard::to_text(&card));
    let detail = format!("id={id}");
    let (view, version) = super::rewrite_in(
        &mut tx,
        vault,
        user,
        id,
        contact,
        current.created,
        text.as_deref(),
        (action::EDIT_CONTACT, &detail),
    )
    .await?;
    tx.commit().await?;
    super::rewritten_in_cache(vault, user, &view, version);
    Ok(view)
}

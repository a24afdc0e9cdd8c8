//! The inbox of public form submissions: storing them sealed to the inbox key (`key`), and
//! what admins do with them (read, annotate, set a status, delete, turn into a contact).
//! Reading needs the inbox key, which only an admin's own keys open. Every action is audited
//! with ids only.

pub mod key;

use crate::accounts::actor;
use crate::audit::{self, Actor, action};
use crate::book;
use crate::crypto::blind;
use crate::crypto::inbox_key::{InboxKey, seal_field};
use crate::crypto::keys::Keys;
use crate::crypto::token::new_id;
use crate::domain::contact::{Contact, ContactDraft, phone_digits};
use crate::domain::paging::Paging;
use crate::domain::phone::PhoneInfo;
use crate::domain::submission::Submission;
use crate::error::Error;
use crate::store::submissions::{self as rows, SubmissionRow};
use crate::store::{self, users::UserRow};
use crate::vault::Vault;

pub const STATUSES: [&str; 4] = ["new", "contacted", "closed", "spam"];
pub const MAX_NOTE: usize = 2000;

/// A decrypted submission.
#[derive(Clone, Debug)]
pub struct SubmissionView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub message: String,
    pub preferred_time: String,
    pub preferred_date: Option<String>,
    pub status: String,
    pub verification: String,
    pub line_type: Option<String>,
    pub carrier: Option<String>,
    pub country: Option<String>,
    pub contact_id: Option<String>,
    pub created: i64,
    /// Which message of this sender it is (1 = first).
    pub nth: i64,
}

#[derive(Clone, Debug)]
pub struct NoteView {
    pub author: String,
    pub body: String,
    pub created: i64,
}

/// The blind index that recognises a repeat sender: normalised e-mail + phone digits.
pub fn repeat_key(keys: &Keys, email: &str, phone: &str) -> String {
    let scope = blind::scope_key(&keys.blind_index_key, "submissions");
    blind::index(
        &scope,
        "repeat",
        &format!(
            "{}\u{0}{}",
            email.trim().to_lowercase(),
            phone_digits(phone)
        ),
    )
}

fn open(key: &InboxKey, row: SubmissionRow) -> Result<SubmissionView, Error> {
    let field = |t: &str| {
        key.open_field(t).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "submission {}: the inbox key does not open it",
                row.id
            ))
        })
    };
    Ok(SubmissionView {
        name: field(&row.name)?,
        email: field(&row.email)?,
        phone: field(&row.phone)?,
        message: field(&row.message)?,
        id: row.id,
        preferred_time: row.preferred_time,
        preferred_date: row.preferred_date,
        status: row.status,
        verification: row.verification,
        line_type: row.line_type,
        carrier: row.carrier,
        country: row.country,
        contact_id: row.contact_id,
        created: row.created,
        nth: row.nth,
    })
}

/// Stores a visitor's message.
pub async fn submit(vault: &Vault, s: &Submission, phone: &PhoneInfo) -> Result<String, Error> {
    let keys = &vault.keys;
    let now = vault.clock.now();
    let id = new_id();
    let date_format = time::macros::format_description!("[year]-[month]-[day]");
    let mut tx = store::begin_write(&vault.db).await?;
    let public = key::public_key_in(&mut tx, vault).await?;
    let row = SubmissionRow {
        id: id.clone(),
        name: seal_field(&public, &s.name)?,
        email: seal_field(&public, &s.email)?,
        phone: seal_field(&public, &s.phone)?,
        message: seal_field(&public, &s.message)?,
        preferred_time: s.preferred_time.as_str().to_string(),
        preferred_date: s.preferred_date.and_then(|d| d.format(date_format).ok()),
        status: "new".into(),
        verification: phone.verification.as_str().to_string(),
        line_type: phone.line_type.clone(),
        carrier: phone.carrier.clone(),
        country: phone.country.clone(),
        repeat_key: repeat_key(keys, &s.email, &s.phone),
        contact_id: None,
        created: now,
        updated: now,
        nth: 0,
    };
    rows::insert(&mut tx, &row).await?;
    crate::notify::queue_in(&mut tx, &vault.notify, now).await?;
    let visitor = Actor {
        user_id: None,
        username: "visitor",
    };
    audit::record(
        &mut tx,
        &vault.keys.audit,
        now,
        visitor,
        action::RECEIVE_SUBMISSION,
        &format!("id={id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// One page of the inbox, newest first.
pub async fn list(
    vault: &Vault,
    key: &InboxKey,
    status: Option<&str>,
    paging: Paging,
) -> Result<(Vec<SubmissionView>, i64), Error> {
    let (found, total) = rows::page(&vault.db, status, paging.per_page, paging.offset()).await?;
    let views = found
        .into_iter()
        .map(|r| open(key, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((views, total))
}

/// Count per status, in the order of [`STATUSES`].
pub async fn counts(vault: &Vault) -> Result<Vec<(&'static str, i64)>, Error> {
    let found = rows::counts(&vault.db).await?;
    Ok(STATUSES
        .iter()
        .map(|s| {
            (
                *s,
                found
                    .iter()
                    .find(|(k, _)| k == s)
                    .map(|(_, n)| *n)
                    .unwrap_or(0),
            )
        })
        .collect())
}

async fn find(vault: &Vault, key: &InboxKey, id: &str) -> Result<SubmissionView, Error> {
    let row = rows::find(&mut *vault.db.acquire().await?, id)
        .await?
        .ok_or(Error::NotFound)?;
    open(key, row)
}

/// Reads a submission with its notes; the reading is audited.
pub async fn view(
    vault: &Vault,
    admin: &UserRow,
    key: &InboxKey,
    id: &str,
) -> Result<(SubmissionView, Vec<NoteView>), Error> {
    let view = find(vault, key, id).await?;
    let notes = rows::notes(&vault.db, id)
        .await?
        .into_iter()
        .map(|n| {
            let body = key.open_field(&n.body).ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "a note on {id}: the inbox key does not open it"
                ))
            })?;
            Ok(NoteView {
                author: n.author,
                body,
                created: n.created,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    audit::record_alone(
        &vault.db,
        &vault.keys.audit,
        vault.clock.now(),
        actor(admin),
        action::VIEW_SUBMISSION,
        &format!("id={id}"),
    )
    .await?;
    Ok((view, notes))
}

/// Adds a note, sealed to the inbox key like the message it is about.
pub async fn add_note(
    vault: &Vault,
    admin: &UserRow,
    key: &InboxKey,
    id: &str,
    body: &str,
) -> Result<(), Error> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Error::field("note", "Write something first."));
    }
    if body.chars().count() > MAX_NOTE {
        return Err(Error::field(
            "note",
            format!("At most {MAX_NOTE} characters."),
        ));
    }
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    rows::find(&mut tx, id).await?.ok_or(Error::NotFound)?;
    rows::add_note(
        &mut tx,
        id,
        &admin.username,
        &seal_field(key.public_key(), body)?,
        now,
    )
    .await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        now,
        actor(admin),
        action::NOTE_SUBMISSION,
        &format!("id={id}"),
    )
    .await
}

pub async fn set_status(
    vault: &Vault,
    admin: &UserRow,
    id: &str,
    status: &str,
) -> Result<(), Error> {
    let status = STATUSES
        .iter()
        .find(|s| **s == status.trim())
        .ok_or_else(|| Error::field("status", "Choose new, contacted, closed or spam."))?;
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    if !rows::set_status(&mut tx, id, status, now).await? {
        return Err(Error::NotFound);
    }
    audit::commit_with(
        tx,
        &vault.keys.audit,
        now,
        actor(admin),
        action::STATUS_SUBMISSION,
        &format!("id={id} status={status}"),
    )
    .await
}

pub async fn delete(vault: &Vault, admin: &UserRow, id: &str) -> Result<(), Error> {
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    if !rows::delete(&mut tx, id).await? {
        return Err(Error::NotFound);
    }
    audit::commit_with(
        tx,
        &vault.keys.audit,
        now,
        actor(admin),
        action::DELETE_SUBMISSION,
        &format!("id={id}"),
    )
    .await
}

/// Creates a contact in the admin's own book from a submission and links the two.
pub async fn convert(
    vault: &Vault,
    admin: &UserRow,
    key: &InboxKey,
    id: &str,
) -> Result<String, Error> {
    let s = find(vault, key, id).await.map_err(|e| match e {
        Error::NotFound => Error::NotFound,
        other => Error::Internal(anyhow::anyhow!("{other}")),
    })?;
    let draft = ContactDraft {
        name: Some(s.name),
        phone: Some(s.phone),
        email: Some(s.email),
        notes: Some(
            s.message
                .chars()
                .take(crate::domain::contact::MAX_NOTES)
                .collect(),
        ),
        tags: Some(vec!["contact-form".into()]),
        ..ContactDraft::default()
    };
    let contact = Contact::parse(draft).map_err(Error::Invalid)?;
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    let inserted = book::insert_in(&mut tx, vault, admin, contact).await?;
    let contact_id = inserted.view.id.clone();
    rows::set_contact(&mut tx, id, &contact_id, now).await?;
    let detail = format!("id={id} contact_id={contact_id}");
    audit::record(
        &mut tx,
        &vault.keys.audit,
        now,
        actor(admin),
        action::CONVERT_SUBMISSION,
        &detail,
    )
    .await?;
    tx.commit().await?;
    book::created_in_cache(vault, admin, &inserted);
    Ok(contact_id)
}

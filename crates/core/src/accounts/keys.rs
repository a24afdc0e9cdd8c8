//! A user's own keys in the life of their credentials (issue 18, `crypto::user_keys`):
//! made with the account (or, for a book still under the server's keys, at the next sign-in,
//! which then moves the book); unwrapped with the password at sign-in; wrapped under each
//! session, API token and app password that sign-in leads to; re-wrapped when the password
//! changes. A request that carries no credential able to unwrap them cannot open the book.

use crate::audit::{self, action};
use crate::book;
use zeroize::Zeroizing;

use crate::crypto::FieldCipher;
use crate::crypto::password::password_kek_blocking;
use crate::crypto::user_keys::{self, Credential, PasswordKek, UserKeys};
use crate::error::Error;
use crate::store::{self, contacts, user_keys as rows, users, users::UserRow};
use crate::vault::Vault;

use super::actor;

/// Contacts moved to the owner's keys per write transaction.
const MOVE_BATCH: i64 = 200;

/// A password's KEK with its new salt, derived before the write transaction that stores the
/// keys (Argon2id takes a while; the write lock should not wait for it).
pub(crate) struct Prepared {
    salt: String,
    kek: PasswordKek,
}

pub(crate) async fn prepare(password: &str) -> Result<Prepared, Error> {
    let salt = user_keys::new_salt();
    let kek = password_kek_blocking(password.to_string(), salt_of(&salt)?).await?;
    Ok(Prepared { salt, kek })
}

/// Makes and stores `user_id`'s first keys, wrapped under the prepared password KEK, in the
/// caller's transaction. `false` when the user had keys already.
pub(crate) async fn store_first(
    tx: &mut store::Conn,
    user_id: i64,
    prepared: &Prepared,
    state: &str,
) -> Result<bool, Error> {
    let keys = UserKeys::generate(user_id)?;
    let stored = rows::NewKeys {
        public_key: &keys.public_key(),
        salt: &prepared.salt,
        wrap: &keys.wrap_with(&prepared.kek)?,
    };
    Ok(rows::set_first(tx, user_id, &stored, state).await?)
}

fn salt_of(stored: &str) -> Result<Vec<u8>, Error> {
    user_keys::salt_bytes(stored)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a stored key salt is malformed")))
}

/// After the password verified at sign-in: unwraps the user's keys into `user.keys`. A user
/// whose book is still under the server's keys gets their keys now, and the book moves (or
/// goes on moving, after an interruption) before this returns.
pub(crate) async fn unlock_at_sign_in(
    vault: &Vault,
    user: &mut UserRow,
    password: &str,
) -> Result<(), Error> {
    if user.key_wrap.is_none() {
        make_for_existing(vault, user, password).await?;
    }
    let (Some(salt), Some(wrap)) = (user.key_salt.clone(), user.key_wrap.clone()) else {
        return Err(Error::Internal(anyhow::anyhow!(
            "the user's keys are missing"
        )));
    };
    let kek = password_kek_blocking(password.to_string(), salt_of(&salt)?).await?;
    let keys = UserKeys::unwrap_with(user.id, &kek, &wrap).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "user {}: the password verified but does not open their keys",
            user.id
        ))
    })?;
    user.keys = Some(keys);
    if user.key_state.as_deref() == Some("converting") {
        convert(vault, user).await?;
    }
    move_totp_secret(vault, user).await
}

/// The cipher of `user`'s TOTP secret: their own book's once they have keys (the request must
/// have opened them), the server's for an account from before.
pub(crate) fn totp_cipher<'a>(
    vault: &'a Vault,
    user: &'a UserRow,
) -> Result<&'a FieldCipher, Error> {
    if user.key_state.is_none() {
        return Ok(&vault.keys.cipher);
    }
    user.keys
        .as_ref()
        .map(|keys| &keys.book().cipher)
        .ok_or(Error::Sealed)
}

/// Seals a TOTP secret still under the server's keys (enrolled before the user had keys of
/// their own) with the user's, at the sign-in that unlocked them. A secret the server's keys
/// do not open either is left for the TOTP step to report.
async fn move_totp_secret(vault: &Vault, user: &mut UserRow) -> Result<(), Error> {
    let (Some(token), Some(keys)) = (user.totp_secret.clone(), user.keys.as_ref()) else {
        return Ok(());
    };
    let mine = &keys.book().cipher;
    if mine.is_under_primary(&token) {
        return Ok(());
    }
    let Ok(secret) = vault.keys.cipher.decrypt_bytes(&token) else {
        return Ok(());
    };
    let secret = Zeroizing::new(secret);
    let sealed = mine.encrypt_bytes(&secret);
    let mut tx = store::begin_write(&vault.db).await?;
    if users::reseal_totp(&mut tx, user.id, &token, &sealed).await? {
        audit::record(
            &mut tx,
            &vault.keys.audit,
            vault.clock.now(),
            actor(user),
            action::TOTP_SECRET_MOVED,
            "",
        )
        .await?;
    }
    let fresh = users::find_by_id(&mut tx, user.id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    user.totp_secret = fresh.totp_secret;
    Ok(())
}

/// Gives keys to a user whose book is under the server's keys (state 'converting'), unless a
/// concurrent sign-in did first; either way `user` is read again. API tokens and app passwords
/// made before have no wrap and could not open the book: they are dropped, audited.
async fn make_for_existing(vault: &Vault, user: &mut UserRow, password: &str) -> Result<(), Error> {
    let prepared = prepare(password).await?;
    let mut tx = store::begin_write(&vault.db).await?;
    if store_first(&mut tx, user.id, &prepared, "converting").await? {
        let (tokens, apps) = rows::drop_unwrapped_credentials(&mut tx, user.id).await?;
        let detail =
            format!("state=converting tokens_dropped={tokens} app_passwords_dropped={apps}");
        audit::record(
            &mut tx,
            &vault.keys.audit,
            vault.clock.now(),
            actor(user),
            action::USER_KEYS_CREATED,
            &detail,
        )
        .await?;
    }
    let fresh_row = users::find_by_id(&mut tx, user.id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    *user = fresh_row;
    Ok(())
}

/// Moves `user`'s book (unlocked) from the server's keys to theirs, a batch per write
/// transaction: every field, card, blind index and CardDAV name, then the tombstones' names
/// and the book's name, then state 'ready'. Rows already moved (an earlier, interrupted run)
/// are left alone, so this resumes where it stopped. Each batch bumps the book's version, so
/// devices see the (unchanged) cards as changed once.
async fn convert(vault: &Vault, user: &mut UserRow) -> Result<(), Error> {
    let Some(keys) = user.keys.clone() else {
        return Err(Error::Sealed);
    };
    let moving = keys.book_converting(&vault.keys.cipher);
    let mine = keys.book();
    let mut after = 0;
    let mut moved = 0u64;
    loop {
        let mut tx = store::begin_write(&vault.db).await?;
        let batch = rows::contacts_after(&mut tx, user.id, after, MOVE_BATCH).await?;
        let Some(last) = batch.last().map(|r| r.rowid) else {
            break;
        };
        let mut changed = false;
        for r in &batch {
            if mine.cipher.is_under_primary(&r.sealed.name) {
                continue;
            }
            let view = book::open(&moving, &r.sealed)?;
            let card = match &r.card {
                Some(token) => Some(moving.cipher.decrypt(token).map_err(anyhow::Error::from)?),
                None => None,
            };
            let row = book::seal_with_card(
                mine,
                user.id,
                &r.sealed.id,
                &view.contact,
                card.as_deref(),
                r.sealed.created,
                r.sealed.updated,
            )?;
            let dav = match &r.dav_name {
                Some(token) => {
                    let name = moving.cipher.decrypt(token).map_err(anyhow::Error::from)?;
                    Some((
                        mine.cipher.encrypt(&name),
                        book::dav::name_key(mine, user.id, &name),
                    ))
                }
                None => None,
            };
            rows::reseal(
                &mut tx,
                &row,
                dav.as_ref().map(|(n, k)| (n.as_str(), k.as_str())),
            )
            .await?;
            moved += 1;
            changed = true;
        }
        if changed {
            contacts::bump_version(&mut tx, user.id).await?;
        }
        tx.commit().await?;
        after = last;
    }
    let mut tx = store::begin_write(&vault.db).await?;
    for (rowid, token) in rows::tombstones(&mut tx, user.id).await? {
        if mine.cipher.is_under_primary(&token) {
            continue;
        }
        let name = moving.cipher.decrypt(&token).map_err(anyhow::Error::from)?;
        let key = book::dav::name_key(mine, user.id, &name);
        rows::reseal_tombstone(&mut tx, rowid, &mine.cipher.encrypt(&name), &key).await?;
    }
    if let Some(token) = rows::book_name(&mut tx, user.id).await?
        && !mine.cipher.is_under_primary(&token)
    {
        let name = moving.cipher.decrypt(&token).map_err(anyhow::Error::from)?;
        store::dav::set_book_name(&mut tx, user.id, Some(&mine.cipher.encrypt(&name))).await?;
    }
    rows::set_state(&mut tx, user.id, "ready").await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::USER_KEYS_CONVERTED,
        &format!("contacts={moved}"),
    )
    .await?;
    tx.commit().await?;
    user.key_state = Some("ready".into());
    // The cached directory holds the same contacts; it is rebuilt under the new keys anyway.
    vault.directories.forget(user.id);
    Ok(())
}

/// The wrap of `user`'s unlocked keys under a new credential's secret; `None` for a user whose
/// book is still under the server's keys (nothing to wrap).
pub(crate) fn wrap_for(
    user: &UserRow,
    kind: Credential,
    secret: &str,
) -> Result<Option<String>, Error> {
    if user.key_state.is_none() {
        return Ok(None);
    }
    let keys = user.keys.as_ref().ok_or(Error::Sealed)?;
    Ok(Some(keys.wrap_with_secret(kind, secret)?))
}

/// A new web session's wrap of the signed-in user's keys under `secret` (the browser keeps
/// the secret in its unlock cookie; the session's state keeps the wrap).
pub fn session_wrap(user: &UserRow, secret: &str) -> Result<Option<String>, Error> {
    wrap_for(user, Credential::Session, secret)
}

/// Opens `user`'s keys with a credential's secret and its stored wrap. `false` when the user
/// has keys and these do not open them (a credential from before the keys existed, or one
/// tampered with): the request must not reach the book.
pub fn unlock_with(user: &mut UserRow, kind: Credential, secret: &str, wrap: Option<&str>) -> bool {
    if user.key_state.is_none() {
        return true;
    }
    match wrap.and_then(|w| UserKeys::unwrap_with_secret(user.id, kind, secret, w)) {
        Some(keys) => {
            user.keys = Some(keys);
            true
        }
        None => false,
    }
}

/// A new password's wrap of the keys: (salt, wrap), or `None` if the user has no keys yet.
pub(crate) async fn rewrap_for_password(
    user: &UserRow,
    password: &str,
) -> Result<Option<(String, String)>, Error> {
    if user.key_state.is_none() {
        return Ok(None);
    }
    let keys = user.keys.as_ref().ok_or(Error::Sealed)?;
    let salt = user_keys::new_salt();
    let kek = password_kek_blocking(password.to_string(), salt_of(&salt)?).await?;
    Ok(Some((salt.clone(), keys.wrap_with(&kek)?)))
}

/// Unwraps `user`'s keys with their password (a re-typed password, where the request's own
/// credential is not at hand).
pub async fn unlock_with_password(user: &mut UserRow, password: &str) -> Result<(), Error> {
    let (Some(salt), Some(wrap)) = (user.key_salt.clone(), user.key_wrap.clone()) else {
        return Ok(());
    };
    let kek = password_kek_blocking(password.to_string(), salt_of(&salt)?).await?;
    user.keys = UserKeys::unwrap_with(user.id, &kek, &wrap);
    user.keys.as_ref().map(|_| ()).ok_or(Error::Sealed)
}

/// How many users' books are under the server's keys, moving, and under their own keys (for
/// the operations page).
pub async fn key_counts(vault: &Vault) -> Result<(i64, i64, i64), Error> {
    Ok(rows::counts(&vault.db).await?)
}

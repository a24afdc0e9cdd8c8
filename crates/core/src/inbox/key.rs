//! The life of the inbox's key pair (issue 18, `crypto::inbox_key`).
//!
//! - The form seals every submission to the inbox's public key; the server cannot read it
//!   back. The secret key is stored only sealed to each admin's own public key (a grant).
//! - An admin request that passes by (`pass_by`, from the faces' admin guards) grants the key
//!   to every admin with keys who has none yet: sealing to a public key needs no secret of
//!   theirs. An admin may also grant it by hand on the users page (`grant`).
//! - Before any admin has keys (a fresh install), the secret is *held* under the server keys,
//!   so that nothing that arrives is lost. The first admin with keys *claims* the inbox: a new
//!   key pair, everything that arrived resealed to it, a grant for every admin with keys, and
//!   the held secret deleted (`secure_delete` and a WAL checkpoint wipe the old pages).
//! - Messages from before the inbox had a key (Fernet tokens of the server keys) are sealed to
//!   it at the next start (`settle`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::accounts::actor;
use crate::audit::{self, Actor, action};
use crate::crypto::inbox_key::{InboxKey, is_sealed_field, seal_field};
use crate::error::Error;
use crate::store::inbox_key::{self as rows, KeyedAdmin, SealedSubmission};
use crate::store::{self, Conn, users::UserRow};
use crate::vault::Vault;

/// Rows resealed per read when the key pair changes.
const RESEAL_BATCH: i64 = 200;

const SERVER: Actor<'static> = Actor {
    user_id: None,
    username: "server",
};

fn internal(message: &str) -> Error {
    Error::Internal(anyhow::anyhow!("inbox key: {message}"))
}

/// The public key submissions are sealed to, made in the caller's write transaction if the
/// inbox has none yet.
pub(crate) async fn public_key_in(tx: &mut Conn, vault: &Vault) -> Result<String, Error> {
    match rows::current(tx).await? {
        Some(row) => Ok(row.public_key),
        None => create_in(tx, vault).await,
    }
}

/// Makes the first key pair: granted to every admin with keys, or held by the server while
/// there is none.
async fn create_in(tx: &mut Conn, vault: &Vault) -> Result<String, Error> {
    let key = InboxKey::generate();
    let admins = rows::admins_without_grant(tx).await?;
    let held = admins
        .is_empty()
        .then(|| vault.keys.cipher.encrypt_bytes(key.secret_bytes().as_ref()));
    let now = vault.clock.now();
    if !rows::create(tx, key.public_key(), held.as_deref(), now).await? {
        let row = rows::current(tx)
            .await?
            .ok_or_else(|| internal("vanished"))?;
        return Ok(row.public_key);
    }
    let detail = match held {
        Some(_) => "held=true".to_string(),
        None => format!("grants={}", admins.len()),
    };
    audit::record(
        tx,
        &vault.keys.audit,
        now,
        SERVER,
        action::INBOX_KEY_CREATED,
        &detail,
    )
    .await?;
    grant_all(tx, vault, &key, &admins, SERVER, "claim").await?;
    Ok(key.public_key().to_string())
}

async fn grant_all(
    tx: &mut Conn,
    vault: &Vault,
    key: &InboxKey,
    admins: &[KeyedAdmin],
    by: Actor<'_>,
    via: &str,
) -> Result<(), Error> {
    let now = vault.clock.now();
    for admin in admins {
        if rows::add_grant(tx, admin.id, &key.seal_to_admin(&admin.public_key)?, now).await? {
            let detail = format!("user_id={} username={} via={via}", admin.id, admin.username);
            audit::record(
                tx,
                &vault.keys.audit,
                now,
                by,
                action::INBOX_KEY_GRANTED,
                &detail,
            )
            .await?;
        }
    }
    Ok(())
}

/// At start (and before `keys rotate`): makes the key pair if there is none, lets the first
/// admin with keys claim a held one, and seals what is still under the server keys.
pub async fn settle(vault: &Vault) -> Result<(), Error> {
    settle_making(vault, false).await
}

/// As [`settle`]; with `make`, a key pair is made even while there is no message to seal
/// (otherwise the first message or the first admin's visit makes it).
async fn settle_making(vault: &Vault, make: bool) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    let row = match rows::current(&mut tx).await? {
        Some(row) => row,
        None if !make && !rows::any_submission(&mut tx).await? => return Ok(()),
        None => {
            create_in(&mut tx, vault).await?;
            rows::current(&mut tx)
                .await?
                .ok_or_else(|| internal("vanished"))?
        }
    };
    let claimed = match &row.held {
        Some(held) => claim_in(&mut tx, vault, held).await?,
        None => false,
    };
    if !claimed {
        reseal_legacy(&mut tx, vault, &row.public_key).await?;
    }
    tx.commit().await?;
    if claimed {
        store::checkpoint(&vault.db).await?;
    }
    Ok(())
}

/// Replaces the held key pair once an admin with keys exists: `false` while none does.
async fn claim_in(tx: &mut Conn, vault: &Vault, held: &str) -> Result<bool, Error> {
    let admins = rows::admins_without_grant(tx).await?;
    if admins.is_empty() {
        return Ok(false);
    }
    let secret = vault
        .keys
        .cipher
        .decrypt_bytes(held)
        .map_err(|_| internal("the server keys do not open the held key"))?;
    let old = InboxKey::from_secret(&secret).ok_or_else(|| internal("held key malformed"))?;
    let new = InboxKey::generate();
    let open = |stored: &str| -> Result<String, Error> {
        if is_sealed_field(stored) {
            old.open_field(stored)
                .ok_or_else(|| internal("a held message does not open"))
        } else {
            vault
                .keys
                .cipher
                .decrypt(stored)
                .map_err(|_| internal("a message from before the key does not open"))
        }
    };
    let (submissions, notes) = reseal_all(tx, new.public_key(), false, open).await?;
    let now = vault.clock.now();
    rows::drop_grants(tx).await?;
    rows::replace(tx, new.public_key(), now).await?;
    let detail = format!(
        "resealed={} notes={notes} grants={}",
        submissions,
        admins.len()
    );
    audit::record(
        tx,
        &vault.keys.audit,
        now,
        SERVER,
        action::INBOX_KEY_CLAIMED,
        &detail,
    )
    .await?;
    grant_all(tx, vault, &new, &admins, SERVER, "claim").await?;
    Ok(true)
}

/// Seals to the current key what was written under the server keys before it existed.
async fn reseal_legacy(tx: &mut Conn, vault: &Vault, public_key: &str) -> Result<(), Error> {
    let open = |stored: &str| -> Result<String, Error> {
        vault
            .keys
            .cipher
            .decrypt(stored)
            .map_err(|_| internal("a message from before the key does not open"))
    };
    let (submissions, notes) = reseal_all(tx, public_key, true, open).await?;
    if submissions + notes > 0 {
        let detail = format!("submissions={submissions} notes={notes}");
        let now = vault.clock.now();
        audit::record(
            tx,
            &vault.keys.audit,
            now,
            SERVER,
            action::INBOX_RESEALED,
            &detail,
        )
        .await?;
    }
    Ok(())
}

/// Opens (with `open`) and seals to `public_key` every submission field and note, or with
/// `legacy` only those not sealed yet: how many submissions and notes it rewrote.
async fn reseal_all(
    tx: &mut Conn,
    public_key: &str,
    legacy: bool,
    open: impl Fn(&str) -> Result<String, Error>,
) -> Result<(u64, u64), Error> {
    let seal =
        |stored: &str| -> Result<String, Error> { Ok(seal_field(public_key, &open(stored)?)?) };
    let (mut submissions, mut notes) = (0u64, 0u64);
    let mut after = 0;
    loop {
        let batch = rows::submissions_after(tx, after, RESEAL_BATCH, legacy).await?;
        let Some(last) = batch.last().map(|r| r.rowid) else {
            break;
        };
        for r in batch {
            let fresh = SealedSubmission {
                rowid: r.rowid,
                name: seal(&r.name)?,
                email: seal(&r.email)?,
                phone: seal(&r.phone)?,
                message: seal(&r.message)?,
            };
            rows::reseal_submission(tx, &fresh).await?;
            submissions += 1;
        }
        after = last;
    }
    let mut after = 0;
    loop {
        let batch = rows::notes_after(tx, after, RESEAL_BATCH, legacy).await?;
        let Some(last) = batch.last().map(|(id, _)| *id) else {
            break;
        };
        for (id, body) in batch {
            rows::reseal_note(tx, id, &seal(&body)?).await?;
            notes += 1;
        }
        after = last;
    }
    Ok((submissions, notes))
}

/// The inbox key as this admin's own keys open it: `None` while they have no grant (or no
/// keys of their own yet).
pub async fn key_of(vault: &Vault, admin: &UserRow) -> Result<Option<InboxKey>, Error> {
    let Some(keys) = admin.keys.as_ref().filter(|_| admin.is_admin()) else {
        return Ok(None);
    };
    let Some(sealed) = rows::grant_of(&vault.db, admin.id).await? else {
        return Ok(None);
    };
    let secret = STANDARD
        .decode(sealed)
        .ok()
        .and_then(|bytes| keys.open_sealed(&bytes))
        .ok_or_else(|| internal("an admin's grant does not open with their keys"))?;
    Ok(Some(
        InboxKey::from_secret(&secret).ok_or_else(|| internal("grant malformed"))?,
    ))
}

/// On the way of every admin request: a held key is claimed, and an admin who holds the key
/// grants it to the admins with keys who wait for it. Cheap when there is nothing to do (one
/// read).
pub async fn pass_by(vault: &Vault, admin: &UserRow) -> Result<(), Error> {
    if admin.keys.is_none() || !admin.is_admin() {
        return Ok(());
    }
    let (held, waiting) = rows::pass_by_state(&vault.db).await?;
    if held != Some(0) {
        // No key yet, or one the server holds: this admin has keys, so it is claimed now.
        return settle_making(vault, true).await;
    }
    if waiting == 0 {
        return Ok(());
    }
    let Some(key) = key_of(vault, admin).await? else {
        return Ok(());
    };
    let mut tx = store::begin_write(&vault.db).await?;
    let admins = rows::admins_without_grant(&mut tx).await?;
    grant_all(&mut tx, vault, &key, &admins, actor(admin), "pass-by").await?;
    tx.commit().await?;
    Ok(())
}

/// An admin who holds the inbox key gives it to another admin (the users page).
pub async fn grant(vault: &Vault, by: &UserRow, username: &str) -> Result<(), Error> {
    let key = key_of(vault, by)
        .await?
        .ok_or_else(|| Error::Refused("you do not hold the inbox key yourself".into()))?;
    let mut tx = store::begin_write(&vault.db).await?;
    let admins = rows::admins_without_grant(&mut tx).await?;
    let Some(target) = admins
        .iter()
        .find(|a| a.username == username.to_lowercase())
    else {
        return Err(Error::Refused(format!(
            "{username} is not an admin waiting for the inbox key: either they hold it, or \
             they have not signed in since their keys were made"
        )));
    };
    grant_all(
        &mut tx,
        vault,
        &key,
        std::slice::from_ref(target),
        actor(by),
        "grant",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The ids of the admins who hold the inbox key (the users page shows who waits).
pub async fn holders(vault: &Vault) -> Result<Vec<i64>, Error> {
    Ok(rows::holders(&mut *vault.db.acquire().await?).await?)
}

/// Would deleting this user lose the inbox key (they hold its only grant)? Checked in the
/// deletion's transaction.
pub(crate) async fn only_holder(tx: &mut Conn, user_id: i64) -> Result<bool, Error> {
    let holders = rows::holders(tx).await?;
    Ok(holders == [user_id])
}

/// Where the inbox key stands, for the users page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxKeyState {
    /// No message has arrived yet, so there is no key.
    None,
    /// Held under the server keys until an admin with keys of their own comes by.
    Held,
    /// Granted to this many admins.
    Granted(usize),
}

pub async fn state(vault: &Vault) -> Result<InboxKeyState, Error> {
    let mut conn = vault.db.acquire().await?;
    Ok(match rows::current(&mut conn).await? {
        None => InboxKeyState::None,
        Some(row) if row.held.is_some() => InboxKeyState::Held,
        Some(_) => InboxKeyState::Granted(rows::holders(&mut conn).await?.len()),
    })
}

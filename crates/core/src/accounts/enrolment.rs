//! TOTP enrolment and recovery codes: start, confirm, regenerate, turn off, and the CLI's
//! headless enrolment of a new admin.

use crate::audit::{self, action};
use crate::crypto::totp;
use crate::error::Error;
use crate::store::{self, users, users::UserRow};
use crate::vault::Vault;

use super::keys::totp_cipher;
use super::sign_in::totp_secret;
use super::{actor, confirm_password};

/// Starts TOTP enrolment: a new secret is stored under the user's keys, not yet enabled. Returns it so
/// the page can show the QR code.
pub async fn start_totp_enrolment(vault: &Vault, user: &UserRow) -> Result<Vec<u8>, Error> {
    let secret = totp::generate_secret();
    let token = totp_cipher(vault, user)?.encrypt_bytes(&secret);
    let mut conn = vault.db.acquire().await?;
    users::set_pending_totp(&mut conn, user.id, &token).await?;
    Ok(secret)
}

/// The pending secret, if enrolment was started and not finished.
pub fn pending_totp_secret(vault: &Vault, user: &UserRow) -> Result<Option<Vec<u8>>, Error> {
    if user.totp_enabled {
        return Ok(None);
    }
    totp_secret(vault, user)
}

/// Confirms enrolment with a first code; returns the recovery codes to show once.
pub async fn confirm_totp_enrolment(
    vault: &Vault,
    user: &UserRow,
    code: &str,
) -> Result<Vec<String>, Error> {
    let secret = pending_totp_secret(vault, user)?
        .ok_or(Error::Refused("start the enrolment again".into()))?;
    let now = vault.clock.now();
    let step = u64::try_from(now)
        .ok()
        .and_then(|now| totp::verify(&secret, code, now, None))
        .ok_or_else(|| {
            Error::field(
                "code",
                "That code is not right. Check the clock on your phone and try the current code.",
            )
        })?;
    let codes = totp::generate_recovery_codes();
    let hashes = totp::hash_recovery_codes(&codes);
    let mut tx = store::begin_write(&vault.db).await?;
    if !users::accept_totp_step(&mut tx, user.id, step as i64, true).await? {
        return Err(Error::field(
            "code",
            "That code was already used. Wait for the next one.",
        ));
    }
    users::replace_recovery_codes(&mut tx, user.id, &hashes).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        now,
        actor(user),
        action::TOTP_ENABLED,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// New recovery codes; the old ones stop working.
pub async fn regenerate_recovery_codes(
    vault: &Vault,
    user: &UserRow,
) -> Result<Vec<String>, Error> {
    if !user.totp_enabled {
        return Err(Error::Refused("turn on two-step sign-in first".into()));
    }
    let codes = totp::generate_recovery_codes();
    let hashes = totp::hash_recovery_codes(&codes);
    let mut tx = store::begin_write(&vault.db).await?;
    users::replace_recovery_codes(&mut tx, user.id, &hashes).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::RECOVERY_CODES_REGENERATED,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// A plain user turns TOTP off (admins cannot: they must keep it).
pub async fn disable_totp(vault: &Vault, user: &UserRow, password: &str) -> Result<(), Error> {
    if user.is_admin() {
        return Err(Error::Forbidden);
    }
    match confirm_password(vault, user, password, "turn off two-step sign-in").await {
        Err(Error::Unauthorized(_)) => {
            return Err(Error::field("password", "The password is wrong."));
        }
        other => other?,
    }
    let mut tx = store::begin_write(&vault.db).await?;
    users::clear_totp(&mut tx, user.id).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::TOTP_DISABLED,
        "",
    )
    .await
}

/// Enrols TOTP without a confirming code (the CLI's `user add --role admin`): the secret is
/// enabled at once. `user`'s keys must be open (the CLI has the password). Returns the secret
/// and the recovery codes to print.
pub async fn enrol_totp_headless(
    vault: &Vault,
    user: &UserRow,
) -> Result<(Vec<u8>, Vec<String>), Error> {
    let secret = totp::generate_secret();
    let token = totp_cipher(vault, user)?.encrypt_bytes(&secret);
    let codes = totp::generate_recovery_codes();
    let hashes = totp::hash_recovery_codes(&codes);
    let mut tx = store::begin_write(&vault.db).await?;
    users::set_pending_totp(&mut tx, user.id, &token).await?;
    users::enable_totp(&mut tx, user.id).await?;
    users::replace_recovery_codes(&mut tx, user.id, &hashes).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::TOTP_ENABLED,
        "cli",
    )
    .await?;
    tx.commit().await?;
    Ok((secret, codes))
}

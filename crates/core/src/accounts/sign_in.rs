//! Signing in: the password step (claimed against the account's lockout before Argon2 runs),
//! the second step (TOTP or a recovery code, checked and recorded in one transaction),
//! re-entering the current password, and the remembered browsers.

use crate::accounts::lockout::{self, Claim};
use crate::audit::{self, Actor, action};
use crate::crypto::chain::AuditKey;
use crate::crypto::password::{self, Verification};
use crate::crypto::token::{new_token, sha256_hex};
use crate::crypto::totp;
use crate::domain::Username;
use crate::error::Error;
use crate::store::{self, login_guard, users, users::UserRow};
use crate::vault::Vault;

/// Wrong second-factor codes in a row before the step locks.
pub const TOTP_MAX_FAILURES: i64 = 5;
/// How long the lock lasts.
pub const TOTP_LOCK_SECONDS: i64 = 15 * 60;

pub fn actor(user: &UserRow) -> Actor<'_> {
    Actor {
        user_id: Some(user.id),
        username: &user.username,
    }
}

/// The outcome of the password step.
#[derive(Debug)]
pub enum PasswordCheck {
    Valid(Box<UserRow>),
    Invalid,
    /// Too many wrong passwords for this account name: refused unchecked for this long.
    Locked {
        retry_after: i64,
    },
}

/// The password step. Unknown names cost the same Argon2 work as known ones and fail with
/// the same answer; both are throttled per account name (`auth::lockout`). `device` is the
/// browser's remembered-device cookie, if it sent one. A legacy hash that verifies is
/// replaced by Argon2id on the spot.
pub async fn check_password(
    vault: &Vault,
    username: &str,
    password: &str,
    via: &str,
    device: Option<&str>,
) -> Result<PasswordCheck, Error> {
    let now = vault.clock.now();
    let Ok(name) = Username::parse(username) else {
        let _ = password::verify_password_blocking(None, password.to_string()).await;
        let who = Actor {
            user_id: None,
            username: "(invalid name)",
        };
        audit::record_alone(
            &vault.db,
            &vault.keys.audit,
            now,
            who,
            action::LOGIN_FAIL,
            via,
        )
        .await?;
        return Ok(PasswordCheck::Invalid);
    };
    let device = device.map(sha256_hex);
    let _turn = vault.sign_in_turns.wait(name.as_str()).await;
    // The time once it is this attempt's turn: a queued attempt must not start a lock that
    // ends early by the time it waited.
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    let user = users::find_by_username(&mut tx, name.as_str()).await?;
    let who = Actor {
        user_id: user.as_ref().map(|u| u.id),
        username: name.as_str(),
    };
    let claim = lockout::claim(&mut tx, name.as_str(), who.user_id, device.as_deref(), now).await?;
    let (locks_for, via_device) = match claim {
        Claim::Locked { retry_after } => {
            let detail = format!("{via}; account locked");
            audit::record(
                &mut tx,
                &vault.keys.audit,
                now,
                who,
                action::LOGIN_FAIL,
                &detail,
            )
            .await?;
            tx.commit().await?;
            return Ok(PasswordCheck::Locked { retry_after });
        }
        Claim::Allowed {
            locks_for,
            via_device,
        } => (locks_for, via_device),
    };
    tx.commit().await?;

    let verdict = password::verify_password_blocking(
        user.as_ref().map(|u| u.password_hash.clone()),
        password.to_string(),
    )
    .await;
    let mut tx = store::begin_write(&vault.db).await?;
    match (user, verdict) {
        (Some(user), Verification::Valid { needs_rehash }) => {
            lockout::succeeded(
                &mut tx,
                name.as_str(),
                user.id,
                device.as_deref(),
                via_device,
                now,
            )
            .await?;
            if needs_rehash {
                let fresh = password::hash_password_blocking(password.to_string()).await?;
                users::set_password_hash(&mut tx, user.id, &fresh).await?;
                audit::record(
                    &mut tx,
                    &vault.keys.audit,
                    now,
                    actor(&user),
                    action::PASSWORD_REHASHED,
                    "argon2id",
                )
                .await?;
            }
            tx.commit().await?;
            let mut user = user;
            super::keys::unlock_at_sign_in(vault, &mut user, password).await?;
            Ok(PasswordCheck::Valid(Box::new(user)))
        }
        _ => {
            audit::record(
                &mut tx,
                &vault.keys.audit,
                now,
                who,
                action::LOGIN_FAIL,
                via,
            )
            .await?;
            record_lock(&mut tx, &vault.keys.audit, now, who, locks_for).await?;
            tx.commit().await?;
            Ok(PasswordCheck::Invalid)
        }
    }
}

/// Audits the lock a failed attempt started, if it started one.
async fn record_lock(
    tx: &mut crate::store::Conn,
    key: &AuditKey,
    now: i64,
    who: Actor<'_>,
    locks_for: Option<i64>,
) -> crate::store::DbResult<()> {
    if let Some(seconds) = locks_for {
        let detail = format!("{} failures; {seconds} s", lockout::FREE_FAILURES);
        audit::record(tx, key, now, who, action::LOGIN_LOCKED, &detail).await?;
    }
    Ok(())
}

/// The signed-in user types their current password again before a sensitive change (a new
/// password, new recovery codes, user administration). Throttled and counted like sign-in:
/// a stolen session is no password oracle. A wrong password is `Unauthorized`, a lock
/// `RateLimited`; each failure is audited with `what`.
pub async fn confirm_password(
    vault: &Vault,
    user: &UserRow,
    password: &str,
    what: &str,
) -> Result<(), Error> {
    let _turn = vault.sign_in_turns.wait(&user.username).await;
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    let claim = lockout::claim(&mut tx, &user.username, Some(user.id), None, now).await?;
    let locks_for = match claim {
        Claim::Locked { retry_after } => {
            let detail = format!("{what}; account locked");
            audit::record(
                &mut tx,
                &vault.keys.audit,
                now,
                actor(user),
                action::REAUTH_FAIL,
                &detail,
            )
            .await?;
            tx.commit().await?;
            return Err(Error::Locked {
                retry_after: retry_after.max(1) as u64,
            });
        }
        Claim::Allowed { locks_for, .. } => locks_for,
    };
    tx.commit().await?;
    let verdict =
        password::verify_password_blocking(Some(user.password_hash.clone()), password.to_string())
            .await;
    let mut tx = store::begin_write(&vault.db).await?;
    if verdict == Verification::Invalid {
        audit::record(
            &mut tx,
            &vault.keys.audit,
            now,
            actor(user),
            action::REAUTH_FAIL,
            what,
        )
        .await?;
        record_lock(&mut tx, &vault.keys.audit, now, actor(user), locks_for).await?;
        tx.commit().await?;
        return Err(Error::Unauthorized("the current password is wrong".into()));
    }
    lockout::succeeded(&mut tx, &user.username, user.id, None, false, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Does the password that just signed `user` in still meet today's rules? An older one
/// keeps working; the pages ask its owner to choose a new one.
pub fn password_meets_policy(user: &UserRow, password: &str) -> bool {
    crate::domain::password::meets_policy(password, &user.username)
}

#[derive(Debug, PartialEq, Eq)]
pub enum SecondFactor {
    Accepted,
    Invalid,
    Locked,
}

/// The TOTP step: a current code (each time step works once) or an unused recovery code.
/// Five wrong answers in a row lock the step for 15 minutes. The lock, the last used step and
/// the failure count are read inside the write transaction, so concurrent codes cannot race
/// past a lock: once it is set, nothing more is verified.
pub async fn check_second_factor(
    vault: &Vault,
    user: &UserRow,
    input: &str,
    via: &str,
) -> Result<SecondFactor, Error> {
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    let Some(mut fresh) = users::find_by_id(&mut tx, user.id).await? else {
        return Ok(SecondFactor::Invalid);
    };
    // The secret is under the user's own keys, which the caller's credential opened.
    fresh.keys = user.keys.clone();
    let user = fresh;
    if user.totp_locked_until.is_some_and(|until| until > now) {
        return Ok(SecondFactor::Locked);
    }
    let secret = totp_secret(vault, &user)?;
    let last = user.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let mut accepted = false;
    if let (Some(secret), Ok(now_u)) = (&secret, u64::try_from(now))
        && let Some(step) = totp::verify(secret, input, now_u, last)
    {
        accepted = users::accept_totp_step(&mut tx, user.id, step as i64, false).await?;
    }
    if !accepted && let Some(code) = totp::normalize_recovery_code(input) {
        accepted =
            users::use_recovery_code(&mut tx, user.id, &totp::hash_recovery_code(&code), now)
                .await?;
        if accepted {
            audit::record(
                &mut tx,
                &vault.keys.audit,
                now,
                actor(&user),
                action::LOGIN_RECOVERY_CODE,
                "",
            )
            .await?;
        }
    }
    if accepted {
        // The sign-in and its record land together, before any later code is looked at.
        audit::record(
            &mut tx,
            &vault.keys.audit,
            now,
            actor(&user),
            action::LOGIN_OK,
            via,
        )
        .await?;
        tx.commit().await?;
        return Ok(SecondFactor::Accepted);
    }
    let locked =
        users::record_totp_failure(&mut tx, user.id, now, TOTP_MAX_FAILURES, TOTP_LOCK_SECONDS)
            .await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        now,
        actor(&user),
        action::LOGIN_TOTP_FAIL,
        "",
    )
    .await?;
    if locked {
        audit::record(
            &mut tx,
            &vault.keys.audit,
            now,
            actor(&user),
            action::TOTP_LOCKED,
            "15 minutes",
        )
        .await?;
    }
    tx.commit().await?;
    Ok(if locked {
        SecondFactor::Locked
    } else {
        SecondFactor::Invalid
    })
}

/// The user's TOTP secret, opened with their keys (see `keys::totp_cipher`).
pub(super) fn totp_secret(vault: &Vault, user: &UserRow) -> Result<Option<Vec<u8>>, Error> {
    let Some(token) = user.totp_secret.as_deref() else {
        return Ok(None);
    };
    let cipher = super::keys::totp_cipher(vault, user)?;
    cipher
        .decrypt_bytes(token)
        .map(Some)
        .map_err(|e| Error::Internal(e.into()))
}

/// Records a completed sign-in by password alone (`check_second_factor` records its own).
pub async fn login_succeeded(vault: &Vault, user: &UserRow, via: &str) -> Result<(), Error> {
    audit::record_alone(
        &vault.db,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::LOGIN_OK,
        via,
    )
    .await?;
    Ok(())
}

/// Remembers the browser that just completed a sign-in (its `previous` cookie, if any, is
/// replaced); returns the cookie value for it.
pub async fn remember_device(
    vault: &Vault,
    user: &UserRow,
    previous: Option<&str>,
) -> Result<String, Error> {
    let token = new_token();
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    if let Some(previous) = previous {
        login_guard::delete_device(&mut tx, &sha256_hex(previous)).await?;
    }
    login_guard::insert_device(
        &mut tx,
        &sha256_hex(&token),
        user.id,
        now,
        now + lockout::DEVICE_SECONDS,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

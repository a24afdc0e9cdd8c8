//! Account flows shared by the pages and the JSON API: sign-in steps, tokens, password
//! changes, TOTP enrolment and user administration. Each write and its audit row go in one
//! transaction; revocations happen in the same transaction as the change that causes them.

use crate::accounts::lockout::{self, Claim};
use crate::accounts::totp;
use crate::audit::{self, Actor, action};
use crate::crypto::chain::AuditKey;
use crate::crypto::password::{self, Verification};
use crate::crypto::token::{new_token, sha256_hex};
use crate::domain::{Password, Role, Username};
use crate::error::Error;
use crate::store::{self, login_guard, sessions, tokens, users, users::UserRow};
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
    tx: &mut sqlx::SqliteConnection,
    key: &AuditKey,
    now: i64,
    who: Actor<'_>,
    locks_for: Option<i64>,
) -> sqlx::Result<()> {
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
    let Some(user) = users::find_by_id(&mut tx, user.id).await? else {
        return Ok(SecondFactor::Invalid);
    };
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

fn totp_secret(vault: &Vault, user: &UserRow) -> Result<Option<Vec<u8>>, Error> {
    user.totp_secret
        .as_deref()
        .map(|t| vault.keys.cipher.decrypt_bytes(t))
        .transpose()
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

/// A new API token for `user`: (token, expiry in unix seconds).
pub async fn issue_token(vault: &Vault, user: &UserRow) -> Result<(String, i64), Error> {
    let token = new_token();
    let now = vault.clock.now();
    let expires = now + vault.token_ttl_seconds;
    let mut conn = vault.db.acquire().await?;
    tokens::insert(&mut conn, &sha256_hex(&token), user.id, now, expires).await?;
    Ok((token, expires))
}

/// Ends a sign-in: revokes the API token (if any) and records the event. The web session is
/// purged by the caller (`Identity::logout`).
pub async fn logout(
    vault: &Vault,
    user: &UserRow,
    token_hash: Option<&str>,
    via: &str,
) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    if let Some(hash) = token_hash {
        tokens::delete(&mut tx, hash).await?;
    }
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::LOGOUT,
        via,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What survives a revocation: the caller's own token, if it asked with one. Web callers keep
/// their session by renewing it afterwards (it is re-saved under a new key).
/// Remembered browsers are forgotten too: they are exempt from the account's sign-in lock.
pub async fn revoke_everything(
    db: &mut sqlx::SqliteConnection,
    user_id: i64,
    keep_token: Option<&str>,
) -> sqlx::Result<()> {
    sessions::delete_for_user(db, user_id, None).await?;
    login_guard::delete_devices_for_user(db, user_id).await?;
    tokens::delete_for_user(db, user_id, keep_token).await
}

/// A user's live web sessions and API tokens, for the account page.
pub async fn sign_ins(
    vault: &Vault,
    user: &UserRow,
) -> Result<(Vec<sessions::SessionInfo>, Vec<tokens::TokenInfo>), Error> {
    let now = vault.clock.now();
    Ok((
        sessions::list_for_user(&vault.db, user.id, now).await?,
        tokens::list_for_user(&vault.db, user.id, now).await?,
    ))
}

/// Ends one web session of the user (by its label); another user's label is `NotFound`.
pub async fn revoke_session(vault: &Vault, user: &UserRow, sid: &str) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    if !sessions::delete_by_sid(&mut tx, user.id, sid).await? {
        return Err(Error::NotFound);
    }
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::SESSION_REVOKED,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes one API token of the user (by its short id); another user's is `NotFound`.
pub async fn revoke_token(vault: &Vault, user: &UserRow, id: &str) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    if !tokens::delete_by_id(&mut tx, user.id, id).await? {
        return Err(Error::NotFound);
    }
    let detail = format!("token={id}");
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::TOKEN_REVOKED,
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session (this one too) and token of the user and forgets their browsers.
pub async fn sign_out_everywhere(vault: &Vault, user: &UserRow) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    revoke_everything(&mut tx, user.id, None).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::SIGNED_OUT_EVERYWHERE,
        "",
    )
    .await?;
    tx.commit().await?;
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

/// Changes a password after checking the old one (throttled and audited like sign-in);
/// every other session and token ends.
pub async fn change_password(
    vault: &Vault,
    user: &UserRow,
    old_password: &str,
    new_password: &str,
    keep_token: Option<&str>,
) -> Result<(), Error> {
    confirm_password(vault, user, old_password, "change password").await?;
    let new = Password::parse(new_password, &user.username)
        .map_err(|m| Error::field("new_password", m))?;
    let hash = password::hash_password_blocking(new.expose().to_string()).await?;
    let mut tx = store::begin_write(&vault.db).await?;
    users::set_password_hash(&mut tx, user.id, &hash).await?;
    revoke_everything(&mut tx, user.id, keep_token).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::PASSWORD_CHANGED,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every account, by name (the users page and `GET /api/admin/users`).
pub async fn all_users(vault: &Vault) -> Result<Vec<UserRow>, Error> {
    Ok(users::list(&vault.db).await?)
}

/// The account with this id, if it still exists.
pub async fn user_by_id(vault: &Vault, id: i64) -> Result<Option<UserRow>, Error> {
    Ok(users::find_by_id(&mut *vault.db.acquire().await?, id).await?)
}

/// The owner of a live API token (stored as its SHA-256 digest), in one query.
pub async fn user_by_token(vault: &Vault, token_hash: &str) -> Result<Option<UserRow>, Error> {
    Ok(users::find_by_token(&vault.db, token_hash, vault.clock.now()).await?)
}

/// The account with this name (compared lower-case, as stored), if there is one.
pub async fn user_by_name(vault: &Vault, name: &str) -> Result<Option<UserRow>, Error> {
    let name = name.to_lowercase();
    Ok(users::find_by_username(&mut *vault.db.acquire().await?, &name).await?)
}

/// How many of the user's recovery codes are still unused.
pub async fn unused_recovery_codes(vault: &Vault, user: &UserRow) -> Result<i64, Error> {
    Ok(users::unused_recovery_codes(&vault.db, user.id).await?)
}

/// Is there an admin yet? (While not, the first-run setup link works.)
pub async fn admin_exists(vault: &Vault) -> Result<bool, Error> {
    Ok(users::count_admins(&vault.db).await? > 0)
}

/// Creates an account. The first admin comes from the setup link or the CLI; later ones from
/// an admin. Admins must enrol TOTP at their first sign-in.
pub async fn create_user(
    vault: &Vault,
    by: Actor<'_>,
    username: &str,
    password: &str,
    role: &str,
) -> Result<(Username, Role), Error> {
    create_user_unless_admin_exists(vault, by, username, password, role, false).await
}

/// The first admin (the setup link): as [`create_user`], but `NotFound` when an admin exists,
/// checked inside the write transaction that creates the account.
pub async fn create_first_admin(
    vault: &Vault,
    by: Actor<'_>,
    username: &str,
    password: &str,
) -> Result<(Username, Role), Error> {
    create_user_unless_admin_exists(vault, by, username, password, "admin", true).await
}

async fn create_user_unless_admin_exists(
    vault: &Vault,
    by: Actor<'_>,
    username: &str,
    password: &str,
    role: &str,
    only_first_admin: bool,
) -> Result<(Username, Role), Error> {
    let mut fields = std::collections::BTreeMap::new();
    let name = Username::parse(username)
        .map_err(|m| fields.insert("username".to_string(), m))
        .ok();
    let pass = Password::parse(password, username)
        .map_err(|m| fields.insert("password".to_string(), m))
        .ok();
    let role_parsed = Role::parse(role)
        .map_err(|m| fields.insert("role".to_string(), m))
        .ok();
    let (Some(name), Some(pass), Some(role)) = (name, pass, role_parsed) else {
        return Err(Error::Invalid(fields));
    };
    let hash = password::hash_password_blocking(pass.expose().to_string()).await?;
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    if only_first_admin && users::admin_exists(&mut tx).await? {
        return Err(Error::NotFound);
    }
    let new = NewUser {
        name: &name,
        stored_hash: &hash,
        role,
        created: now,
    };
    if insert_user(&mut tx, vault, by, &new, None).await?.is_none() {
        return Err(Error::Conflict("username already taken".into()));
    }
    tx.commit().await?;
    Ok((name, role))
}

/// An account about to be written: its name, its stored password hash (Argon2id, or a legacy
/// form the legacy import brings), its role and when it was made.
pub(crate) struct NewUser<'a> {
    pub name: &'a Username,
    pub stored_hash: &'a str,
    pub role: Role,
    pub created: i64,
}

/// The one place an account is written, with its `CREATE_USER` event, inside the caller's
/// write transaction (the pages, the API, the CLI and the legacy import all come here).
/// `None` when the name is taken; `via` is added to the event (`via=import-legacy`).
pub(crate) async fn insert_user(
    tx: &mut sqlx::SqliteConnection,
    vault: &Vault,
    by: Actor<'_>,
    new: &NewUser<'_>,
    via: Option<&str>,
) -> Result<Option<i64>, Error> {
    let Some(id) = users::create(tx, new.name, new.stored_hash, new.role, new.created).await?
    else {
        return Ok(None);
    };
    let mut detail = format!(
        "user_id={id} username={} role={}",
        new.name,
        new.role.as_str()
    );
    if let Some(via) = via {
        detail.push_str(&format!(" via={via}"));
    }
    let now = vault.clock.now();
    audit::record(tx, &vault.keys.audit, now, by, action::CREATE_USER, &detail).await?;
    Ok(Some(id))
}

/// Deletes an account with everything it owns; its sessions and tokens stop working at once.
pub async fn delete_user(vault: &Vault, by: &UserRow, username: &str) -> Result<String, Error> {
    let name = Username::parse(username).map_err(|_| Error::NotFound)?;
    if name.as_str() == by.username {
        return Err(Error::Refused("you cannot delete your own account".into()));
    }
    let mut tx = store::begin_write(&vault.db).await?;
    let target = users::find_by_username(&mut tx, name.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    revoke_everything(&mut tx, target.id, None).await?;
    users::delete(&mut tx, target.id).await?;
    let detail = format!("user_id={} username={}", target.id, target.username);
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(by),
        action::DELETE_USER,
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(target.username)
}

/// An admin clears someone's TOTP (lost phone). They must enrol again; their sessions end.
pub async fn reset_totp(vault: &Vault, by: &UserRow, username: &str) -> Result<(), Error> {
    let name = Username::parse(username).map_err(|_| Error::NotFound)?;
    // An admin keeps TOTP (see `disable_totp`): clearing one's own would let a stolen session
    // strip the second factor, so only another admin may reset it.
    if name.as_str() == by.username {
        return Err(Error::Refused(
            "you cannot reset your own two-step sign-in; another admin has to".into(),
        ));
    }
    let mut tx = store::begin_write(&vault.db).await?;
    let target = users::find_by_username(&mut tx, name.as_str())
        .await?
        .ok_or(Error::NotFound)?;
    users::clear_totp(&mut tx, target.id).await?;
    revoke_everything(&mut tx, target.id, None).await?;
    let detail = format!("user_id={} username={}", target.id, target.username);
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(by),
        action::TOTP_RESET,
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts TOTP enrolment: a new secret is stored encrypted, not yet enabled. Returns it so
/// the page can show the QR code.
pub async fn start_totp_enrolment(vault: &Vault, user: &UserRow) -> Result<Vec<u8>, Error> {
    let secret = totp::generate_secret();
    let token = vault.keys.cipher.encrypt_bytes(&secret);
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
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::TOTP_DISABLED,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Enrols TOTP without a confirming code (the CLI's `user add --role admin`): the secret is
/// enabled at once. Returns the secret and the recovery codes to print.
pub async fn enrol_totp_headless(
    vault: &Vault,
    user: &UserRow,
) -> Result<(Vec<u8>, Vec<String>), Error> {
    let secret = totp::generate_secret();
    let codes = totp::generate_recovery_codes();
    let hashes = totp::hash_recovery_codes(&codes);
    let mut tx = store::begin_write(&vault.db).await?;
    users::set_pending_totp(&mut tx, user.id, &vault.keys.cipher.encrypt_bytes(&secret)).await?;
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

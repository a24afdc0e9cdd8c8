//! What a sign-in leaves behind and how it ends: API tokens, logout, the account page's list
//! of sessions and tokens with their revocation, and changing the password (which ends every
//! other one).

use crate::audit::{self, action};
use crate::crypto::password::{self};
use crate::crypto::token::{new_token, sha256_hex};
use crate::crypto::user_keys::Credential;
use crate::domain::Password;
use crate::error::Error;
use crate::store::{self, app_passwords, login_guard, sessions, tokens, users, users::UserRow};
use crate::vault::Vault;

use super::{actor, confirm_password};

/// A new API token for `user`: (token, expiry in unix seconds).
pub async fn issue_token(vault: &Vault, user: &UserRow) -> Result<(String, i64), Error> {
    let token = new_token();
    let now = vault.clock.now();
    let expires = now + vault.token_ttl_seconds;
    let wrap = super::keys::wrap_for(user, Credential::ApiToken, &token)?;
    let mut conn = vault.db.acquire().await?;
    tokens::insert(
        &mut conn,
        &sha256_hex(&token),
        user.id,
        now,
        expires,
        wrap.as_deref(),
    )
    .await?;
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
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::LOGOUT,
        via,
    )
    .await
}

/// What survives a revocation: the caller's own token, if it asked with one. Web callers keep
/// their session by renewing it afterwards (it is re-saved under a new key).
/// Remembered browsers are forgotten too: they are exempt from the account's sign-in lock.
/// App passwords end as well: a device is signed in like a session.
pub async fn revoke_everything(
    db: &mut crate::store::Conn,
    user_id: i64,
    keep_token: Option<&str>,
) -> crate::store::DbResult<()> {
    sessions::delete_for_user(db, user_id, None).await?;
    login_guard::delete_devices_for_user(db, user_id).await?;
    app_passwords::delete_for_user(db, user_id).await?;
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
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::SESSION_REVOKED,
        "",
    )
    .await
}

/// Revokes one API token of the user (by its short id); another user's is `NotFound`.
pub async fn revoke_token(vault: &Vault, user: &UserRow, id: &str) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    if !tokens::delete_by_id(&mut tx, user.id, id).await? {
        return Err(Error::NotFound);
    }
    let detail = format!("token={id}");
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::TOKEN_REVOKED,
        &detail,
    )
    .await
}

/// Ends every session (this one too) and token of the user and forgets their browsers.
pub async fn sign_out_everywhere(vault: &Vault, user: &UserRow) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    revoke_everything(&mut tx, user.id, None).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::SIGNED_OUT_EVERYWHERE,
        "",
    )
    .await
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
    // The keys stay; only their wrap under the password is new.
    let mut unlocked = user.clone();
    if unlocked.keys.is_none() {
        super::keys::unlock_with_password(&mut unlocked, old_password).await?;
    }
    let rewrap = super::keys::rewrap_for_password(&unlocked, new.expose()).await?;
    let mut tx = store::begin_write(&vault.db).await?;
    users::set_password_hash(&mut tx, user.id, &hash).await?;
    if let Some((salt, wrap)) = &rewrap {
        crate::store::user_keys::set_password_wrap(&mut tx, user.id, salt, wrap).await?;
    }
    revoke_everything(&mut tx, user.id, keep_token).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::PASSWORD_CHANGED,
        "",
    )
    .await
}

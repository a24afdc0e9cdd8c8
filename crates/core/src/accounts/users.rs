//! The accounts themselves: the one function that writes a user (pages, API, CLI, setup link
//! and legacy import), the lists and look-ups the faces read, deleting an account and an
//! admin's TOTP reset.

use crate::audit::{self, Actor, action};
use crate::crypto::password::{self};
use crate::domain::{Password, Role, Username};
use crate::error::Error;
use crate::store::{self, users, users::UserRow};
use crate::vault::Vault;

use super::{actor, revoke_everything};

/// Every account, by name (the users page and `GET /api/admin/users`).
pub async fn all_users(vault: &Vault) -> Result<Vec<UserRow>, Error> {
    Ok(users::list(&vault.db).await?)
}

/// The account with this id, if it still exists.
pub async fn user_by_id(vault: &Vault, id: i64) -> Result<Option<UserRow>, Error> {
    Ok(users::find_by_id(&mut *vault.db.acquire().await?, id).await?)
}

/// The owner of a live API token, with their keys unwrapped by it; `None` for an unknown or
/// expired token, or one that cannot open its owner's keys (made before they existed).
pub async fn user_by_token(vault: &Vault, token: &str) -> Result<Option<UserRow>, Error> {
    let hash = crate::crypto::token::sha256_hex(token);
    let Some((mut user, wrap)) = users::find_by_token(&vault.db, &hash, vault.clock.now()).await?
    else {
        return Ok(None);
    };
    let kind = crate::crypto::user_keys::Credential::ApiToken;
    Ok(super::keys::unlock_with(&mut user, kind, token, wrap.as_deref()).then_some(user))
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
    let prepared = super::keys::prepare(pass.expose()).await?;
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
    let Some(id) = insert_user(&mut tx, vault, by, &new, None).await? else {
        return Err(Error::Conflict("username already taken".into()));
    };
    // A new account's book starts under its own keys.
    super::keys::store_first(&mut tx, id, &prepared, "ready").await?;
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
    tx: &mut crate::store::Conn,
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
    if crate::inbox::key::only_holder(&mut tx, target.id).await? {
        return Err(Error::Refused(format!(
            "{name} holds the only copy of the inbox key: deleting the account would make \
             every message unreadable. The key passes to the other admins on {name}'s next \
             visit to the admin pages, or by a grant on this page",
            name = target.username
        )));
    }
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
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(by),
        action::TOTP_RESET,
        &detail,
    )
    .await
}

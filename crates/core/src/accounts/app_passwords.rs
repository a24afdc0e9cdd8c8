//! App passwords: one per device, for clients that sign in with HTTP Basic and cannot do TOTP
//! (CardDAV). Made only after the account password is typed again, shown once, stored as a
//! digest, listed with their last use, and revocable at once. They never open the web pages or
//! the JSON API, and the account password never opens CardDAV.

use crate::audit::{self, action};
use crate::crypto::token::{fill_random, new_id, sha256_hex};
use crate::crypto::user_keys::Credential;
use crate::domain::has_forbidden_chars;
use crate::error::Error;
use crate::store::{self, app_passwords as rows, users, users::UserRow};
use crate::vault::Vault;

use super::{actor, confirm_password};

/// App passwords one account may hold.
pub const MAX_PER_USER: i64 = 20;
/// Longest device name.
pub const MAX_NAME: usize = 64;
/// A sign-in moves `last_used` on only when it is older than this (one write a minute at most).
const TOUCH_EVERY: i64 = 60;
/// The password's alphabet: lower-case letters and digits without `0`, `o`, `1`, `l`, `i`.
const ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// An app password as listed (never the password itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppPassword {
    pub id: String,
    pub name: String,
    pub created: i64,
    pub last_used: Option<i64>,
}

/// 24 characters of [`ALPHABET`] (about 119 bits) in groups of four: `abcd-efgh-…`.
fn new_secret() -> String {
    let mut out = String::with_capacity(29);
    let mut made = 0;
    while made < 24 {
        let mut byte = [0u8; 1];
        fill_random(&mut byte);
        // Rejection sampling keeps every character equally likely.
        if usize::from(byte[0]) >= 256 - 256 % ALPHABET.len() {
            continue;
        }
        if made > 0 && made % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        made += 1;
    }
    out
}

/// The stored digest of a typed app password (dashes, spaces and case do not matter).
fn digest(secret: &str) -> String {
    let normal: String = secret
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .collect::<String>()
        .to_lowercase();
    sha256_hex(&normal)
}

fn check_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::field(
            "name",
            "Name the device, e.g. \"Ann's phone\".",
        ));
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::field(
            "name",
            format!("At most {MAX_NAME} characters."),
        ));
    }
    if has_forbidden_chars(name, false) {
        return Err(Error::field("name", crate::domain::FORBIDDEN_CHARS));
    }
    Ok(name.to_string())
}

/// Makes an app password named `name` after checking the account password (throttled and
/// audited like sign-in). Returns it with the password, which is not kept.
pub async fn create(
    vault: &Vault,
    user: &UserRow,
    name: &str,
    current_password: &str,
) -> Result<(AppPassword, String), Error> {
    let name = check_name(name)?;
    confirm_password(vault, user, current_password, "app password").await?;
    let secret = new_secret();
    // The device's requests open the user's keys with this password alone.
    let mut unlocked = user.clone();
    if unlocked.keys.is_none() {
        super::keys::unlock_with_password(&mut unlocked, current_password).await?;
    }
    let wrap = super::keys::wrap_for(&unlocked, Credential::AppPassword, &secret)?;
    let id = new_id();
    let now = vault.clock.now();
    let mut tx = store::begin_write(&vault.db).await?;
    if rows::count_for_user(&mut tx, user.id).await? >= MAX_PER_USER {
        return Err(Error::Refused(format!(
            "An account holds at most {MAX_PER_USER} app passwords; revoke one first."
        )));
    }
    // The device's name is sealed with the owner's book keys, as their contacts are.
    let sealed = crate::book::keys_of(vault, &unlocked)?
        .cipher
        .encrypt(&name);
    let stored = rows::NewAppPassword {
        id: &id,
        user_id: user.id,
        sealed_name: &sealed,
        secret_hash: &digest(&secret),
        key_wrap: wrap.as_deref(),
    };
    rows::insert(&mut tx, &stored, now).await?;
    audit::commit_with(
        tx,
        &vault.keys.audit,
        now,
        actor(user),
        action::APP_PASSWORD_CREATED,
        &format!("id={id}"),
    )
    .await?;
    let made = AppPassword {
        id,
        name,
        created: now,
        last_used: None,
    };
    Ok((made, secret))
}

/// The user's app passwords, newest first.
pub async fn list(vault: &Vault, user: &UserRow) -> Result<Vec<AppPassword>, Error> {
    let keys = crate::book::keys_of(vault, user)?;
    rows::list_for_user(&vault.db, user.id)
        .await?
        .into_iter()
        .map(|row| {
            Ok(AppPassword {
                name: keys
                    .cipher
                    .decrypt(&row.name)
                    .map_err(anyhow::Error::from)?,
                id: row.id,
                created: row.created,
                last_used: row.last_used,
            })
        })
        .collect()
}

/// Revokes one of the user's app passwords: the device's next request is refused. Another
/// user's id is `NotFound`.
pub async fn revoke(vault: &Vault, user: &UserRow, id: &str) -> Result<(), Error> {
    let mut tx = store::begin_write(&vault.db).await?;
    if !rows::delete(&mut tx, user.id, id).await? {
        return Err(Error::NotFound);
    }
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::APP_PASSWORD_REVOKED,
        &format!("id={id}"),
    )
    .await
}

/// The account an app password opens: `username` and one of its app passwords, with the
/// user's keys unwrapped by it. Its last use is recorded. `None` for anything else, the
/// account password included, and an app password that cannot open the user's keys.
pub async fn sign_in(
    vault: &Vault,
    username: &str,
    secret: &str,
) -> Result<Option<UserRow>, Error> {
    let name = username.trim().to_lowercase();
    let user = users::find_by_username(&mut *vault.db.acquire().await?, &name).await?;
    // An unknown name costs the same second lookup as a known one (under an id no user has),
    // so the answer's timing does not tell which account names exist.
    let owner = user.as_ref().map_or(-1, |u| u.id);
    let found = rows::find(&vault.db, owner, &digest(secret)).await?;
    let (Some(mut user), Some((id, last_used, wrap))) = (user, found) else {
        return Ok(None);
    };
    if !super::keys::unlock_with(&mut user, Credential::AppPassword, secret, wrap.as_deref()) {
        return Ok(None);
    }
    let now = vault.clock.now();
    if last_used.is_none_or(|t| t + TOUCH_EVERY <= now) {
        rows::touch(&vault.db, &id, now).await?;
    }
    Ok(Some(user))
}

/// Audits a device's failed sign-in (`LOGIN_FAIL via=carddav`); the name is the one sent,
/// cut short, with the account's id when it exists.
pub async fn record_failure(vault: &Vault, username: &str) -> Result<(), Error> {
    let name: String = username.trim().to_lowercase().chars().take(32).collect();
    let known = users::find_by_username(&mut *vault.db.acquire().await?, &name).await?;
    let actor = crate::audit::Actor {
        user_id: known.as_ref().map(|u| u.id),
        username: if known.is_some() { &name } else { "(unknown)" },
    };
    audit::record_alone(
        &vault.db,
        &vault.keys.audit,
        vault.clock.now(),
        actor,
        action::LOGIN_FAIL,
        "via=carddav",
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, PASSWORD, actions};

    #[test]
    fn secrets_are_long_grouped_and_unambiguous() {
        let a = new_secret();
        assert_eq!(a.len(), 29);
        assert_eq!(a.split('-').count(), 6);
        assert!(a.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert_ne!(a, new_secret());
        assert_eq!(digest(&a), digest(&a.to_uppercase().replace('-', " ")));
    }

    #[tokio::test]
    async fn an_app_password_opens_only_its_account_until_revoked() {
        let v = testing::vault().await;
        let ann = testing::user(&v, "ann", "user").await;
        testing::user(&v, "bob", "user").await;
        assert!(matches!(
            create(&v, &ann, "Ann's phone", "wrong password!").await,
            Err(Error::Unauthorized(_))
        ));
        assert!(matches!(
            create(&v, &ann, "  ", PASSWORD).await,
            Err(Error::Invalid(f)) if f.contains_key("name")
        ));
        let (made, secret) = create(&v, &ann, "Ann's phone", PASSWORD)
            .await
            .expect("made");
        assert_eq!(made.name, "Ann's phone");
        let signed = sign_in(&v, "ANN", &secret).await.expect("checked");
        assert_eq!(signed.map(|u| u.id), Some(ann.id));
        assert!(
            sign_in(&v, "bob", &secret)
                .await
                .expect("checked")
                .is_none()
        );
        assert!(
            sign_in(&v, "ann", PASSWORD)
                .await
                .expect("checked")
                .is_none()
        );
        let listed = list(&v, &ann).await.expect("list");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].last_used.is_some());

        let bob = accounts_user(&v, "bob").await;
        assert!(matches!(
            revoke(&v, &bob, &made.id).await,
            Err(Error::NotFound)
        ));
        revoke(&v, &ann, &made.id).await.expect("revoked");
        assert!(
            sign_in(&v, "ann", &secret)
                .await
                .expect("checked")
                .is_none()
        );
        let trail = actions(&v).await;
        assert!(trail.contains(&"APP_PASSWORD_CREATED".to_string()));
        assert_eq!(
            trail.last().map(String::as_str),
            Some("APP_PASSWORD_REVOKED")
        );
    }

    #[tokio::test]
    async fn a_password_change_ends_every_app_password() {
        let v = testing::vault().await;
        let ann = testing::user(&v, "ann", "user").await;
        let (_, secret) = create(&v, &ann, "tablet", PASSWORD).await.expect("made");
        crate::accounts::change_password(&v, &ann, PASSWORD, "another long passphrase", None)
            .await
            .expect("changed");
        assert!(
            sign_in(&v, "ann", &secret)
                .await
                .expect("checked")
                .is_none()
        );
        assert!(list(&v, &ann).await.expect("list").is_empty());
    }

    async fn accounts_user(v: &Vault, name: &str) -> UserRow {
        crate::accounts::user_by_name(v, name)
            .await
            .expect("query")
            .expect("exists")
    }
}

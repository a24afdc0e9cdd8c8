//! An admin's own address for the notifications of new messages, and whether they want mail
//! there (issue 17). The address is sealed with the server key like every personal field; the
//! audit row says what changed, never the address.

use crate::accounts::actor;
use crate::audit::{self, action};
use crate::domain::contact::is_valid_email;
use crate::error::Error;
use crate::store::{self, admin_mail as rows, users::UserRow};
use crate::vault::Vault;

/// What an admin chose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailChoice {
    pub address: Option<String>,
    pub mail: bool,
}

/// The admin's address and choice; nothing for a user who is not an admin.
pub async fn mail_choice(vault: &Vault, user: &UserRow) -> Result<MailChoice, Error> {
    if !user.is_admin() {
        return Ok(MailChoice::default());
    }
    let (sealed, mail) = rows::choice(&vault.db, user.id).await?;
    let address = sealed.map(|s| open(vault, &s)).transpose()?;
    Ok(MailChoice { address, mail })
}

/// Sets the admin's address (empty: removes it) and whether they get mail there. Admins only;
/// audited.
pub async fn set_mail_choice(
    vault: &Vault,
    user: &UserRow,
    address: &str,
    mail: bool,
) -> Result<(), Error> {
    if !user.is_admin() {
        return Err(Error::Forbidden);
    }
    let address = address.trim();
    if address.is_empty() && mail {
        return Err(Error::field(
            "notify_email",
            "Give the address the mail should go to.",
        ));
    }
    if !address.is_empty() && !is_valid_email(address) {
        return Err(Error::field(
            "notify_email",
            "Not a valid e-mail address (name@example.org).",
        ));
    }
    let sealed = (!address.is_empty()).then(|| vault.keys.cipher.encrypt(address));
    let mut tx = store::begin_write(&vault.db).await?;
    rows::set_choice(&mut tx, user.id, sealed.as_deref(), mail).await?;
    let detail = match (sealed.is_some(), mail) {
        (false, _) => "address=none mail=off",
        (true, true) => "address=set mail=on",
        (true, false) => "address=set mail=off",
    };
    audit::commit_with(
        tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::NOTIFY_MAIL_SET,
        detail,
    )
    .await
}

/// The addresses of the admins who want mail of new messages.
pub async fn mail_recipients(vault: &Vault) -> Result<Vec<String>, Error> {
    rows::recipients(&vault.db)
        .await?
        .iter()
        .map(|sealed| open(vault, sealed))
        .collect()
}

/// A stored address, unsealed; one that does not open is the server's fault.
fn open(vault: &Vault, sealed: &str) -> Result<String, Error> {
    Ok(vault
        .keys
        .cipher
        .decrypt(sealed)
        .map_err(anyhow::Error::from)?)
}

//! The inbox's key pair (issue 18): the public form's submissions and the admins' notes are
//! sealed to its X25519 public key (`crypto_box` sealed boxes: an ephemeral key pair per box,
//! XSalsa20-Poly1305), so the server writes them but cannot read them back. Its secret key is
//! kept only sealed to each admin's own public key (`inbox::key`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::user_keys::seal_to;

/// What starts a sealed field, telling it from a Fernet token of the server's keys (written
/// before the inbox had a key; resealed at the next start).
const FIELD_TAG: &str = "cvs1:";

/// The inbox's key pair, unsealed for the length of a request. The secret is wiped on drop
/// (by `crypto_box`).
#[derive(Clone)]
pub struct InboxKey {
    secret: crypto_box::SecretKey,
    public: String,
}

impl std::fmt::Debug for InboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InboxKey({})", self.public)
    }
}

impl InboxKey {
    pub fn generate() -> InboxKey {
        InboxKey::from(crypto_box::SecretKey::generate(
            &mut crypto_box::aead::OsRng,
        ))
    }

    fn from(secret: crypto_box::SecretKey) -> InboxKey {
        let public = STANDARD.encode(secret.public_key().as_bytes());
        InboxKey { secret, public }
    }

    /// The key from its secret's 32 bytes (as [`InboxKey::secret_bytes`] gave them).
    pub fn from_secret(bytes: &[u8]) -> Option<InboxKey> {
        crypto_box::SecretKey::from_slice(bytes)
            .ok()
            .map(InboxKey::from)
    }

    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public key, standard base64 (stored in the clear: the form seals to it).
    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// The secret sealed to an admin's public key: only that admin's own keys open it.
    pub fn seal_to_admin(&self, admin_public_key: &str) -> anyhow::Result<String> {
        Ok(STANDARD.encode(seal_to(admin_public_key, self.secret_bytes().as_ref())?))
    }

    /// Opens what [`seal_field`] made for this key; `None` for anything else.
    pub fn open_field(&self, stored: &str) -> Option<String> {
        let sealed = STANDARD.decode(stored.strip_prefix(FIELD_TAG)?).ok()?;
        String::from_utf8(self.secret.unseal(&sealed).ok()?).ok()
    }
}

/// `plain` sealed to the inbox's public key, as stored in a column.
pub fn seal_field(public_key: &str, plain: &str) -> anyhow::Result<String> {
    let sealed = seal_to(public_key, plain.as_bytes())?;
    Ok(format!("{FIELD_TAG}{}", STANDARD.encode(sealed)))
}

/// Is this stored value a sealed field (and not a Fernet token of the server's keys)?
pub fn is_sealed_field(stored: &str) -> bool {
    stored.starts_with(FIELD_TAG)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::user_keys::UserKeys;

    #[test]
    fn a_sealed_field_opens_with_the_inbox_key_only() {
        let inbox = InboxKey::generate();
        let other = InboxKey::generate();
        let stored = seal_field(inbox.public_key(), "Zoë, call after six").unwrap();
        assert!(is_sealed_field(&stored));
        assert!(!stored.contains("Zoë"));
        assert_eq!(inbox.open_field(&stored).unwrap(), "Zoë, call after six");
        assert!(other.open_field(&stored).is_none());
        assert!(inbox.open_field("gAAAAAB-not-sealed").is_none());
        assert!(inbox.open_field("cvs1:!!!").is_none());
    }

    #[test]
    fn the_secret_travels_sealed_to_an_admin() {
        let inbox = InboxKey::generate();
        let admin = UserKeys::generate(3).unwrap();
        let grant = inbox.seal_to_admin(&admin.public_key()).unwrap();
        let bytes = admin.open_sealed(&STANDARD.decode(grant).unwrap()).unwrap();
        let again = InboxKey::from_secret(&bytes).unwrap();
        assert_eq!(again.public_key(), inbox.public_key());
        assert!(
            UserKeys::generate(3)
                .unwrap()
                .open_sealed(
                    &STANDARD
                        .decode(inbox.seal_to_admin(&admin.public_key()).unwrap())
                        .unwrap()
                )
                .is_none()
        );
    }
}

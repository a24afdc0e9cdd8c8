//! A user's own keys (issue 18): a random data key, from which the Fernet key of their book
//! and their blind-index key are derived, and an X25519 key pair. The server stores them only
//! wrapped, each wrap a Fernet token under a key-encryption key (KEK) derived from one
//! credential: the password (Argon2id, its own salt), or a random secret that only the holder
//! of a session, API token or app password has (HKDF-SHA256; the secret has 256 bits).
//!
//! A wrap names the user it belongs to inside the sealed text, so a wrap copied to another
//! user's row opens nothing. Nothing here is hand-made cryptography: Fernet (AES-CBC +
//! HMAC-SHA256), Argon2id, HKDF and X25519 come from their crates.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::FieldCipher;
use super::token::fill_random;

/// What the book is encrypted with: the Fernet keys (the first encrypts) and the key of its
/// blind indexes (duplicate check, CardDAV names).
#[derive(Clone)]
pub struct BookKeys {
    pub cipher: FieldCipher,
    pub blind_index_key: [u8; 32],
}

impl fmt::Debug for BookKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BookKeys(..)")
    }
}

/// The length of the secret material: the data key, then the X25519 secret key.
const BUNDLE_LEN: usize = 64;
/// The version tag at the start of every wrapped bundle.
const WRAP_TAG: &[u8; 4] = b"cvk1";
/// Argon2id costs of the password's KEK: those of the password hash (OWASP's 19 MiB, 2 passes).
const KEK_M_COST: u32 = 19_456;
const KEK_T_COST: u32 = 2;

/// Which credential a KEK is derived from; part of the HKDF info, so one secret never gives
/// the same KEK for two purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credential {
    Session,
    ApiToken,
    AppPassword,
    RecoveryCode,
}

impl Credential {
    fn info(self) -> &'static [u8] {
        match self {
            Credential::Session => b"contact-vault kek v1 session",
            Credential::ApiToken => b"contact-vault kek v1 api-token",
            Credential::AppPassword => b"contact-vault kek v1 app-password",
            Credential::RecoveryCode => b"contact-vault kek v1 recovery-code",
        }
    }
}

/// A user's unwrapped keys, for the length of a request. The secret bytes are wiped when the
/// last clone is dropped.
#[derive(Clone)]
pub struct UserKeys {
    inner: Arc<Inner>,
}

struct Inner {
    user_id: i64,
    bundle: Zeroizing<[u8; BUNDLE_LEN]>,
    book: BookKeys,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.book.blind_index_key.zeroize();
    }
}

impl fmt::Debug for UserKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserKeys(user {})", self.inner.user_id)
    }
}

fn derive(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so this cannot fail.
    let _ = Hkdf::<Sha256>::new(None, ikm).expand(info, out.as_mut());
    out
}

fn fernet_of(key: &[u8; 32]) -> Zeroizing<String> {
    Zeroizing::new(URL_SAFE.encode(key))
}

impl UserKeys {
    /// Fresh random keys for `user_id`.
    pub fn generate(user_id: i64) -> anyhow::Result<UserKeys> {
        let mut bundle = Zeroizing::new([0u8; BUNDLE_LEN]);
        fill_random(bundle.as_mut());
        UserKeys::from_bundle(user_id, bundle)
    }

    fn from_bundle(user_id: i64, bundle: Zeroizing<[u8; BUNDLE_LEN]>) -> anyhow::Result<Self> {
        let fernet = derive(&bundle[..32], b"contact-vault book fernet v1");
        let blind = derive(&bundle[..32], b"contact-vault book blind-index v1");
        let cipher = FieldCipher::from_keys(&[fernet_of(&fernet).as_str()])
            .ok_or_else(|| anyhow!("the derived book key is not a Fernet key"))?;
        Ok(UserKeys {
            inner: Arc::new(Inner {
                user_id,
                bundle,
                book: BookKeys {
                    cipher,
                    blind_index_key: *blind,
                },
            }),
        })
    }

    pub fn user_id(&self) -> i64 {
        self.inner.user_id
    }

    /// The keys of this user's book.
    pub fn book(&self) -> &BookKeys {
        &self.inner.book
    }

    /// The book's keys while its rows are being moved from the server's keys to these: the
    /// user's key encrypts, the server's still decrypt what is not moved yet.
    pub fn book_converting(&self, server: &FieldCipher) -> BookKeys {
        BookKeys {
            cipher: self.inner.book.cipher.with_fallback(server),
            blind_index_key: self.inner.book.blind_index_key,
        }
    }

    fn box_secret(&self) -> crypto_box::SecretKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&self.inner.bundle[32..]);
        let key = crypto_box::SecretKey::from(bytes);
        bytes.zeroize();
        key
    }

    /// The X25519 public key, standard base64 (stored in the clear: anyone may seal to it).
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.box_secret().public_key().as_bytes())
    }

    /// Opens a sealed box made for this user's public key.
    pub fn open_sealed(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        self.box_secret().unseal(sealed).ok()
    }

    fn wrap_under(&self, kek: &[u8; 32]) -> anyhow::Result<String> {
        let mut plain = Zeroizing::new(Vec::with_capacity(4 + 8 + BUNDLE_LEN));
        plain.extend_from_slice(WRAP_TAG);
        plain.extend_from_slice(&self.inner.user_id.to_le_bytes());
        plain.extend_from_slice(self.inner.bundle.as_ref());
        let fernet = fernet::Fernet::new(&fernet_of(kek))
            .ok_or_else(|| anyhow!("a derived KEK is not a Fernet key"))?;
        Ok(fernet.encrypt(&plain))
    }

    fn unwrap_under(user_id: i64, kek: &[u8; 32], wrap: &str) -> Option<UserKeys> {
        let fernet = fernet::Fernet::new(&fernet_of(kek))?;
        let plain = Zeroizing::new(fernet.decrypt(wrap).ok()?);
        let rest = plain.strip_prefix(WRAP_TAG.as_slice())?;
        let (id, bundle) = rest.split_at_checked(8)?;
        if i64::from_le_bytes(id.try_into().ok()?) != user_id || bundle.len() != BUNDLE_LEN {
            return None;
        }
        let mut own = Zeroizing::new([0u8; BUNDLE_LEN]);
        own.copy_from_slice(bundle);
        UserKeys::from_bundle(user_id, own).ok()
    }

    /// The wrap under a password's KEK (see [`password_kek`]).
    pub fn wrap_with(&self, kek: &PasswordKek) -> anyhow::Result<String> {
        self.wrap_under(&kek.0)
    }

    pub fn unwrap_with(user_id: i64, kek: &PasswordKek, wrap: &str) -> Option<UserKeys> {
        UserKeys::unwrap_under(user_id, &kek.0, wrap)
    }

    /// The wrap under a password, with the user's KEK salt. Slow on purpose (Argon2id): run it
    /// on the blocking pool.
    pub fn wrap_with_password(&self, password: &str, salt: &[u8]) -> anyhow::Result<String> {
        self.wrap_with(&password_kek(password, salt)?)
    }

    pub fn unwrap_with_password(
        user_id: i64,
        password: &str,
        salt: &[u8],
        wrap: &str,
    ) -> Option<UserKeys> {
        UserKeys::unwrap_with(user_id, &password_kek(password, salt).ok()?, wrap)
    }

    /// The wrap under a credential's random secret.
    pub fn wrap_with_secret(&self, kind: Credential, secret: &str) -> anyhow::Result<String> {
        self.wrap_under(&derive(secret.as_bytes(), kind.info()))
    }

    pub fn unwrap_with_secret(
        user_id: i64,
        kind: Credential,
        secret: &str,
        wrap: &str,
    ) -> Option<UserKeys> {
        UserKeys::unwrap_under(user_id, &derive(secret.as_bytes(), kind.info()), wrap)
    }
}

/// A new random salt for a user's password KEK, standard base64.
pub fn new_salt() -> String {
    let mut salt = [0u8; 16];
    fill_random(&mut salt);
    STANDARD.encode(salt)
}

/// The stored salt's bytes.
pub fn salt_bytes(stored: &str) -> Option<Vec<u8>> {
    STANDARD.decode(stored).ok()
}

/// The key-encryption key of a password: Argon2id of it with the user's own salt (not the
/// password hash's). Wiped when dropped.
pub struct PasswordKek(Zeroizing<[u8; 32]>);

/// Derives a password's KEK. Slow on purpose: run it on the blocking pool.
pub fn password_kek(password: &str, salt: &[u8]) -> anyhow::Result<PasswordKek> {
    Ok(PasswordKek(argon2_kek(password, salt)?))
}

fn argon2_kek(password: &str, salt: &[u8]) -> anyhow::Result<Zeroizing<[u8; 32]>> {
    let params =
        Params::new(KEK_M_COST, KEK_T_COST, 1, Some(32)).map_err(|e| anyhow!("argon2: {e}"))?;
    let mut kek = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password.as_bytes(), salt, kek.as_mut())
        .map_err(|e| anyhow!("argon2: {e}"))
        .context("deriving the password's key")?;
    Ok(kek)
}

/// Seals `plain` to an X25519 public key (standard base64): only the holder of the secret key
/// opens it; whoever seals cannot read it back.
pub fn seal_to(public_key: &str, plain: &[u8]) -> anyhow::Result<Vec<u8>> {
    let bytes: [u8; 32] = STANDARD
        .decode(public_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("a stored public key is malformed"))?;
    crypto_box::PublicKey::from(bytes)
        .seal(&mut crypto_box::aead::OsRng, plain)
        .map_err(|_| anyhow!("sealing failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_open_only_with_their_credential_and_user() {
        let keys = UserKeys::generate(7).unwrap();
        let token = keys.book().cipher.encrypt("Ada Lovelace");

        let salt = [3u8; 16];
        let wrap = keys.wrap_with_password("correct horse", &salt).unwrap();
        let opened = UserKeys::unwrap_with_password(7, "correct horse", &salt, &wrap).unwrap();
        assert_eq!(
            opened.book().cipher.decrypt(&token).unwrap(),
            "Ada Lovelace"
        );
        assert_eq!(opened.public_key(), keys.public_key());
        assert!(UserKeys::unwrap_with_password(7, "wrong horse", &salt, &wrap).is_none());
        assert!(UserKeys::unwrap_with_password(8, "correct horse", &salt, &wrap).is_none());
        assert!(UserKeys::unwrap_with_password(7, "correct horse", &[4u8; 16], &wrap).is_none());

        let session = keys
            .wrap_with_secret(Credential::Session, "s3cret")
            .unwrap();
        assert!(UserKeys::unwrap_with_secret(7, Credential::Session, "s3cret", &session).is_some());
        assert!(
            UserKeys::unwrap_with_secret(7, Credential::ApiToken, "s3cret", &session).is_none()
        );
        assert!(UserKeys::unwrap_with_secret(7, Credential::Session, "s3cre7", &session).is_none());
        assert!(UserKeys::unwrap_with_secret(9, Credential::Session, "s3cret", &session).is_none());
    }

    #[test]
    fn two_users_keys_share_nothing() {
        let a = UserKeys::generate(1).unwrap();
        let b = UserKeys::generate(1).unwrap();
        let token = a.book().cipher.encrypt("x");
        assert!(b.book().cipher.decrypt(&token).is_err());
        assert_ne!(a.book().blind_index_key, b.book().blind_index_key);
        assert_ne!(a.public_key(), b.public_key());
    }

    #[test]
    fn sealed_boxes_open_with_the_secret_key_only() {
        let admin = UserKeys::generate(1).unwrap();
        let other = UserKeys::generate(2).unwrap();
        let sealed = seal_to(&admin.public_key(), b"call me").unwrap();
        assert_eq!(admin.open_sealed(&sealed).unwrap(), b"call me");
        assert!(other.open_sealed(&sealed).is_none());
        assert!(seal_to("not base64!", b"x").is_err());
    }

    #[test]
    fn converting_keys_read_the_server_keys_and_write_the_users() {
        let server = FieldCipher::from_keys(&[&fernet::Fernet::generate_key()]).unwrap();
        let keys = UserKeys::generate(5).unwrap();
        let old = server.encrypt("old");
        let both = keys.book_converting(&server);
        assert_eq!(both.cipher.decrypt(&old).unwrap(), "old");
        let new = both.cipher.encrypt("new");
        assert!(server.decrypt(&new).is_err());
        assert_eq!(keys.book().cipher.decrypt(&new).unwrap(), "new");
    }
}

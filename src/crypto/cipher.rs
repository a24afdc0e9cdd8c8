//! Fernet encryption of single fields. Several keys may be configured: the first encrypts,
//! all of them decrypt, which is what key rotation needs.

use std::fmt;
use std::sync::Arc;

use fernet::{Fernet, MultiFernet};

#[derive(Clone)]
pub struct FieldCipher {
    inner: Arc<MultiFernet>,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored field could not be decrypted with any configured key")]
pub struct DecryptError;

impl FieldCipher {
    /// Builds a cipher from url-safe base64 Fernet keys, primary first.
    /// Returns None when the list is empty or a key is malformed.
    pub fn from_keys(keys: &[&str]) -> Option<Self> {
        let fernets = keys
            .iter()
            .map(|k| Fernet::new(k.trim()))
            .collect::<Option<Vec<_>>>()?;
        if fernets.is_empty() {
            return None;
        }
        Some(FieldCipher {
            inner: Arc::new(MultiFernet::new(fernets)),
        })
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        self.inner.encrypt(plaintext.as_bytes())
    }

    pub fn decrypt(&self, token: &str) -> Result<String, DecryptError> {
        let bytes = self.inner.decrypt(token).map_err(|_| DecryptError)?;
        String::from_utf8(bytes).map_err(|_| DecryptError)
    }

    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> String {
        self.inner.encrypt(plaintext)
    }

    pub fn decrypt_bytes(&self, token: &str) -> Result<Vec<u8>, DecryptError> {
        self.inner.decrypt(token).map_err(|_| DecryptError)
    }
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FieldCipher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rotation() {
        let old = Fernet::generate_key();
        let new = Fernet::generate_key();
        let before = FieldCipher::from_keys(&[&old]).unwrap();
        let token = before.encrypt("Zoë O'Brien");
        assert!(!token.contains("Zo"));
        let after = FieldCipher::from_keys(&[&new, &old]).unwrap();
        assert_eq!(after.decrypt(&token).unwrap(), "Zoë O'Brien");
        let only_new = FieldCipher::from_keys(&[&new]).unwrap();
        assert!(only_new.decrypt(&token).is_err());
    }

    #[test]
    fn rejects_malformed_keys() {
        assert!(FieldCipher::from_keys(&[]).is_none());
        assert!(FieldCipher::from_keys(&["not-a-key"]).is_none());
    }

    #[test]
    fn reads_python_tokens() {
        // A token written by Python's `cryptography` for the legacy fixture (key.key).
        let cipher =
            FieldCipher::from_keys(&["N0_kysu-C8Zi-sppWVe6p4Mlypvnn_Duk2Nf5iRNgQA="]).unwrap();
        let token = "gAAAAABrBINxsAUI0OleyDtqGwLOHXFut7eh2VafYqPc4p3SBnvdO-d6KUeg8o2a8vrC63KsW4g0QBbaNQY0HsCY-LaErSIbOA==";
        assert_eq!(cipher.decrypt(token).unwrap(), "Lena Fischer");
    }
}

//! Fernet encryption of single fields. Several keys may be configured: the first encrypts,
//! all of them decrypt, which is what key rotation needs. The key list can be swapped while
//! the server runs (a rotation started by `contact-vault keys rotate --new-key`).

use std::fmt;
use std::sync::{Arc, RwLock};

use fernet::Fernet;
use sha2::{Digest, Sha256};

/// The keys in use, primary first, with short fingerprints for messages.
struct Ring {
    fernets: Vec<Fernet>,
    fingerprints: Vec<String>,
}

#[derive(Clone)]
pub struct FieldCipher {
    ring: Arc<RwLock<Arc<Ring>>>,
}

#[derive(Debug, thiserror::Error)]
#[error("a stored field could not be decrypted with any configured key")]
pub struct DecryptError;

/// A short, non-secret name for a key (the first 8 hex digits of its SHA-256).
pub fn fingerprint(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))[..8].to_string()
}

fn ring_of(keys: &[&str]) -> Option<Ring> {
    let fernets = keys
        .iter()
        .map(|k| Fernet::new(k.trim()))
        .collect::<Option<Vec<_>>>()?;
    if fernets.is_empty() {
        return None;
    }
    Some(Ring {
        fernets,
        fingerprints: keys.iter().map(|k| fingerprint(k)).collect(),
    })
}

impl FieldCipher {
    /// Builds a cipher from url-safe base64 Fernet keys, primary first.
    /// Returns None when the list is empty or a key is malformed.
    pub fn from_keys(keys: &[&str]) -> Option<Self> {
        Some(FieldCipher {
            ring: Arc::new(RwLock::new(Arc::new(ring_of(keys)?))),
        })
    }

    /// A cipher that encrypts with this one's primary key and decrypts with its keys, then
    /// `fallback`'s (a user's book while it moves off the server's keys). A snapshot: later
    /// swaps of either key list are not seen.
    pub fn with_fallback(&self, fallback: &FieldCipher) -> FieldCipher {
        let (mine, theirs) = (self.ring(), fallback.ring());
        let ring = Ring {
            fernets: mine
                .fernets
                .iter()
                .chain(&theirs.fernets)
                .cloned()
                .collect(),
            fingerprints: mine
                .fingerprints
                .iter()
                .chain(&theirs.fingerprints)
                .cloned()
                .collect(),
        };
        FieldCipher {
            ring: Arc::new(RwLock::new(Arc::new(ring))),
        }
    }

    /// Swaps in a new key list (every clone of this cipher sees it). False if malformed.
    pub fn replace_keys(&self, keys: &[&str]) -> bool {
        let Some(ring) = ring_of(keys) else {
            return false;
        };
        match self.ring.write() {
            Ok(mut guard) => {
                *guard = Arc::new(ring);
                true
            }
            Err(_) => false,
        }
    }

    fn ring(&self) -> Arc<Ring> {
        match self.ring.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Fingerprints of the configured keys, primary first.
    pub fn fingerprints(&self) -> Vec<String> {
        self.ring().fingerprints.clone()
    }

    pub fn encrypt(&self, plaintext: &str) -> String {
        self.encrypt_bytes(plaintext.as_bytes())
    }

    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> String {
        self.ring().fernets[0].encrypt(plaintext)
    }

    pub fn decrypt(&self, token: &str) -> Result<String, DecryptError> {
        String::from_utf8(self.decrypt_bytes(token)?).map_err(|_| DecryptError)
    }

    pub fn decrypt_bytes(&self, token: &str) -> Result<Vec<u8>, DecryptError> {
        let ring = self.ring();
        ring.fernets
            .iter()
            .find_map(|f| f.decrypt(token).ok())
            .ok_or(DecryptError)
    }

    /// Is this token already under the primary key?
    pub fn is_under_primary(&self, token: &str) -> bool {
        self.ring().fernets[0].decrypt(token).is_ok()
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
        // The token carries no trace of the plaintext, neither as text nor in
        // its decoded bytes, and encrypting again gives a different token.
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE
            .decode(&token)
            .unwrap();
        let plain = "Zoë O'Brien".as_bytes();
        assert!(!bytes.windows(plain.len()).any(|w| w == plain));
        assert!(!token.contains("O'Brien"));
        assert_ne!(token, before.encrypt("Zoë O'Brien"));
        let after = FieldCipher::from_keys(&[&new, &old]).unwrap();
        assert_eq!(after.decrypt(&token).unwrap(), "Zoë O'Brien");
        assert!(!after.is_under_primary(&token));
        assert!(after.is_under_primary(&after.encrypt("x")));
        let only_new = FieldCipher::from_keys(&[&new]).unwrap();
        assert!(only_new.decrypt(&token).is_err());
    }

    #[test]
    fn keys_can_be_swapped_for_every_clone() {
        let old = Fernet::generate_key();
        let new = Fernet::generate_key();
        let cipher = FieldCipher::from_keys(&[&old]).unwrap();
        let clone = cipher.clone();
        let token = cipher.encrypt("x");
        assert!(cipher.replace_keys(&[&new, &old]));
        assert_eq!(
            clone.fingerprints(),
            vec![fingerprint(&new), fingerprint(&old)]
        );
        assert_eq!(clone.decrypt(&token).unwrap(), "x");
        assert!(clone.is_under_primary(&clone.encrypt("y")));
        assert!(!cipher.replace_keys(&["junk"]));
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

//! Random secrets and their digests (session keys, API tokens, setup links).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fill_random(&mut buf);
    buf
}

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
///
/// If the OS random source is unavailable: there is no safe fallback for secret material, and
/// nothing a request could do about it.
pub fn fill_random(buf: &mut [u8]) {
    if let Err(err) = getrandom::fill(buf) {
        panic!("operating system random number generator failed: {err}");
    }
}

/// The stored form of a recovery code (normalised first, see `auth::totp`): SHA-256, lower-case
/// hex. A fast, unsalted hash is enough here: each code is random with about 79 bits of
/// entropy, so a leaked digest cannot be brute-forced, and the digest can be looked up.
pub fn recovery_code_digest(normalized: &str) -> String {
    sha256_hex(normalized)
}

/// A 256-bit random token, url-safe base64 without padding (43 characters).
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// SHA-256 hex digest; tokens are stored only in this form.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// A short opaque id (128 bits, hex) for rows that are shown in URLs.
pub fn new_id() -> String {
    hex::encode(random_bytes(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_distinct_and_url_safe() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

//! All cryptography lives here: field encryption, blind indexes, password hashing,
//! random tokens, the audit chain's keyed hash and key handling.

pub mod blind;
pub mod chain;
pub mod cipher;
pub mod inbox_key;
pub mod keys;
pub mod password;
pub mod token;
pub mod totp;
pub mod user_keys;

pub use cipher::FieldCipher;

use subtle::ConstantTimeEq;

/// Are two secrets (tokens, CAPTCHA answers) equal? Compared in constant time, so the time
/// taken says nothing about how much of a guess was right.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(same_secret(b"", b""));
    }
}

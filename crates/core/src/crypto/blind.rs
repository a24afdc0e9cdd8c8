//! Blind indexes: keyed hashes that let the database find equal values (the duplicate check)
//! without holding them. Each user gets a key of their own, derived from `BLIND_INDEX_KEY`,
//! so equal contacts in two books do not share an index value.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

/// The per-scope key: `scope` is e.g. `user:42` or `submissions`.
pub fn scope_key(root: &[u8; 32], scope: &str) -> [u8; 32] {
    mac(root, &[b"contact-vault/blind-index/v1", scope.as_bytes()])
}

/// A 128-bit index value (hex) of `purpose` + `value` under a scope key.
pub fn index(scope_key: &[u8; 32], purpose: &str, value: &str) -> String {
    hex::encode(&mac(scope_key, &[purpose.as_bytes(), value.as_bytes()])[..16])
}

/// The duplicate key of a contact in one user's book: normalised name + phone digits.
pub fn contact_dup_key(
    root: &[u8; 32],
    user_id: i64,
    normalised_name: &str,
    phone_digits: &str,
) -> String {
    let key = scope_key(root, &format!("user:{user_id}"));
    index(
        &key,
        "contact-dup",
        &format!("{normalised_name}\u{0}{phone_digits}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_inputs_match_and_users_differ() {
        let root = [7u8; 32];
        let a = contact_dup_key(&root, 1, "alice smith", "447700000001");
        assert_eq!(a, contact_dup_key(&root, 1, "alice smith", "447700000001"));
        assert_ne!(a, contact_dup_key(&root, 2, "alice smith", "447700000001"));
        assert_ne!(a, contact_dup_key(&root, 1, "alice smit", "h447700000001"));
        assert_ne!(
            a,
            contact_dup_key(&[8u8; 32], 1, "alice smith", "447700000001")
        );
        assert_eq!(a.len(), 32);
        assert!(!a.contains("alice"));
    }

    #[test]
    fn matches_an_independent_hmac() {
        // HMAC-SHA256(key = 32 zero bytes, "") from RFC 4231-style tooling:
        // python3 -c "import hmac,hashlib;print(hmac.new(bytes(32),b'',hashlib.sha256).hexdigest())"
        let expected = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
        assert_eq!(hex::encode(mac(&[0u8; 32], &[])), expected);
    }
}

//! The audit chain's link hash. Each row's hash is an HMAC-SHA256, under a key that is not in
//! the database, of the previous row's hash and the row's fields, so that whoever can write the
//! database file still cannot recompute the chain after removing or editing rows.
//!
//! The key is derived from `BLIND_INDEX_KEY` with a label of its own: that key already cannot
//! change without recomputing every blind index, so tying the chain to it adds no new rotation
//! constraint (and no new setting), while `SECRET_KEY` stays free to rotate. The label keeps the
//! derived key apart from the blind indexes' per-scope keys.
//!
//! Chains written before the key existed used plain SHA-256 ([`legacy_hash`]); `crate::audit`
//! accepts such rows only as a prefix that a keyed row anchors.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The key of the audit chain.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    /// Derived from `BLIND_INDEX_KEY` under the label `contact-vault/audit-chain/v1`.
    pub fn derive(blind_index_key: &[u8; 32]) -> Self {
        AuditKey(mac(blind_index_key, &[b"contact-vault/audit-chain/v1"]))
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    for part in parts {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

/// HMAC-SHA256 (hex) of the fields, each length-prefixed so that no two rows serialise alike.
pub fn keyed_hash(key: &AuditKey, fields: &[&str]) -> String {
    let parts: Vec<&[u8]> = fields.iter().map(|f| f.as_bytes()).collect();
    hex::encode(mac(&key.0, &parts))
}

/// The unkeyed SHA-256 (hex) of chains written before the key, with the same framing.
pub fn legacy_hash(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for field in fields {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hash_depends_on_the_key_and_differs_from_the_legacy_one() {
        let a = AuditKey::derive(&[1u8; 32]);
        let b = AuditKey::derive(&[2u8; 32]);
        let fields = ["", "1", "1700000000", "7", "ann", "LOGIN_OK", ""];
        assert_eq!(keyed_hash(&a, &fields), keyed_hash(&a, &fields));
        assert_ne!(keyed_hash(&a, &fields), keyed_hash(&b, &fields));
        assert_ne!(keyed_hash(&a, &fields), legacy_hash(&fields));
        assert_ne!(keyed_hash(&a, &["ab", "c"]), keyed_hash(&a, &["a", "bc"]));
        // Not the blind index's key for any scope: a label of its own.
        assert_ne!(
            a.0,
            crate::crypto::blind::scope_key(&[1u8; 32], "contact-vault/audit-chain/v1")
        );
    }

    #[test]
    fn legacy_hash_is_framed_sha256() {
        // python3 -c "import hashlib;print(hashlib.sha256(bytes(8)).hexdigest())"
        assert_eq!(
            legacy_hash(&[""]),
            "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"
        );
    }
}

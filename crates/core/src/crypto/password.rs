//! Password hashing and verification.
//!
//! New hashes are Argon2id PHC strings with the production parameters below.
//! Two legacy forms imported from the previous system are still accepted so
//! their owners can log in once; every successful legacy login reports
//! `needs_rehash` so the caller can replace the stored value:
//!
//! * `legacy-pbkdf2$<salt_hex>$<hash_hex>`: PBKDF2-HMAC-SHA256, 260,000
//!   iterations, 32-byte output, where the salt is the ASCII text of
//!   `salt_hex` itself (not its decoded bytes);
//! * `legacy-sha256$<hex>`: unsalted SHA-256 of the UTF-8 password.

use std::sync::OnceLock;

use anyhow::{Context, anyhow};
use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier,
    Version,
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

/// Argon2 memory cost in KiB (OWASP's 19 MiB recommendation).
const M_COST: u32 = 19_456;
/// Argon2 iterations.
const T_COST: u32 = 2;
/// Argon2 lanes.
const P_COST: u32 = 1;
/// Argon2 output length in bytes.
const OUTPUT_LEN: usize = 32;
/// Salt length in bytes for new hashes.
const SALT_LEN: usize = 16;

/// Parameters for every new hash; a stored hash with any other parameters
/// verifies but reports `needs_rehash`.
const PRODUCTION_PARAMS: Params = match Params::new(M_COST, T_COST, P_COST, Some(OUTPUT_LEN)) {
    Ok(params) => params,
    Err(_) => panic!("invalid Argon2 production parameters"),
};

/// Largest costs accepted from a stored hash, so that a corrupted or forged
/// row cannot make a login allocate gigabytes or spin for minutes.
const MAX_M_COST: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 16;

const PBKDF2_PREFIX: &str = "legacy-pbkdf2$";
const PBKDF2_ITERATIONS: u32 = 260_000;
const SHA256_PREFIX: &str = "legacy-sha256$";
/// Length in hex characters of a 32-byte legacy digest.
const DIGEST_HEX_LEN: usize = 64;

/// Outcome of checking a candidate password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Wrong password, or a stored value that could not be parsed.
    Invalid,
    /// Right password; `needs_rehash` asks the caller to store a fresh
    /// [`hash_password`] result because the stored form is outdated.
    Valid { needs_rehash: bool },
}

/// The Argon2id hasher with production parameters.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PRODUCTION_PARAMS)
}

/// Hashes `password` with Argon2id and a random 16-byte salt into a PHC string.
///
/// # Errors
/// Fails if the system random number generator or Argon2 fails.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; SALT_LEN];
    // getrandom 0.3 implements `std::error::Error` only with its `std`
    // feature, so convert through `Display`.
    getrandom::fill(&mut salt).map_err(|e| anyhow!("generating password salt: {e}"))?;
    let hash = argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .context("hashing password with Argon2id")?;
    Ok(hash.to_string())
}

/// Checks `candidate` against a stored hash in any supported form.
///
/// Never panics: anything unparseable yields [`Verification::Invalid`].
pub fn verify_password(stored: &str, candidate: &str) -> Verification {
    if let Some(rest) = stored.strip_prefix(PBKDF2_PREFIX) {
        legacy(verify_pbkdf2(rest, candidate))
    } else if let Some(hex_digest) = stored.strip_prefix(SHA256_PREFIX) {
        legacy(verify_sha256(hex_digest, candidate))
    } else {
        verify_argon2(stored, candidate)
    }
}

/// Maps a legacy check to a result that always asks for a rehash.
fn legacy(matches: bool) -> Verification {
    if matches {
        Verification::Valid { needs_rehash: true }
    } else {
        Verification::Invalid
    }
}

/// Verifies an Argon2id PHC string, flagging non-production parameters.
fn verify_argon2(stored: &str, candidate: &str) -> Verification {
    let Ok(hash) = PasswordHash::new(stored) else {
        return Verification::Invalid;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return Verification::Invalid;
    };
    let within_limits = params.m_cost() <= MAX_M_COST
        && params.t_cost() <= MAX_T_COST
        && params.p_cost() <= MAX_P_COST;
    if hash.algorithm != ARGON2ID_IDENT || !within_limits {
        return Verification::Invalid;
    }
    // The verifier takes algorithm, version and parameters from `hash` and
    // compares the outputs in constant time.
    if argon2()
        .verify_password(candidate.as_bytes(), &hash)
        .is_err()
    {
        return Verification::Invalid;
    }
    let current = hash.version == Some(Version::V0x13.into()) && params == PRODUCTION_PARAMS;
    Verification::Valid {
        needs_rehash: !current,
    }
}

/// Verifies the `<salt_hex>$<hash_hex>` part of a legacy PBKDF2 value.
fn verify_pbkdf2(rest: &str, candidate: &str) -> bool {
    let Some((salt_hex, hash_hex)) = rest.split_once('$') else {
        return false;
    };
    let Some(expected) = decode_digest(hash_hex) else {
        return false;
    };
    if !is_hex(salt_hex) {
        return false;
    }
    // The legacy system salted with the hex text, not the bytes it encodes.
    let derived = pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(
        candidate.as_bytes(),
        salt_hex.as_bytes(),
        PBKDF2_ITERATIONS,
    );
    derived.ct_eq(&expected).into()
}

/// Verifies a legacy unsalted SHA-256 hex digest.
fn verify_sha256(hex_digest: &str, candidate: &str) -> bool {
    let Some(expected) = decode_digest(hex_digest) else {
        return false;
    };
    let actual = Sha256::digest(candidate.as_bytes());
    actual.as_slice().ct_eq(&expected).into()
}

/// Decodes exactly 64 hex characters (either case) into 32 bytes.
fn decode_digest(hex_digest: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut out).ok()?;
    Some(out)
}

/// True for a non-empty string of ASCII hex digits.
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Builds the stored form of a legacy PBKDF2 hash, or `None` if `hash_hex`
/// is not 64 hex characters or `salt_hex` is not non-empty hex.
///
/// The hash is lower-cased; the salt is kept verbatim because its ASCII text
/// is the PBKDF2 salt, so changing its case would change the derived key.
pub fn legacy_pbkdf2_stored(hash_hex: &str, salt_hex: &str) -> Option<String> {
    let hash_ok = hash_hex.len() == DIGEST_HEX_LEN && is_hex(hash_hex);
    (hash_ok && is_hex(salt_hex)).then(|| {
        format!(
            "{PBKDF2_PREFIX}{salt_hex}${}",
            hash_hex.to_ascii_lowercase()
        )
    })
}

/// Builds the stored form of a legacy SHA-256 hash, or `None` if `hex` is not
/// 64 hex characters. The digest is lower-cased.
pub fn legacy_sha256_stored(hex: &str) -> Option<String> {
    (hex.len() == DIGEST_HEX_LEN && is_hex(hex))
        .then(|| format!("{SHA256_PREFIX}{}", hex.to_ascii_lowercase()))
}

/// A production-parameter hash of a random password, computed once.
fn dummy_hash() -> Option<&'static str> {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let mut secret = [0u8; 32];
            // Nobody ever logs in with this hash (callers discard the result),
            // so a failed RNG would make it predictable but not unsafe.
            let _ = getrandom::fill(&mut secret);
            hash_password(&hex::encode(secret)).ok()
        })
        .as_deref()
}

/// Spends the same Argon2 work as a real verification, for logins naming an
/// unknown user, so response times do not reveal which accounts exist.
pub fn dummy_verify(candidate: &str) {
    if let Some(hash) = dummy_hash() {
        let _ = verify_password(hash, candidate);
    }
}

/// How many password hashes may run at once: one fewer than the cores (at least one), so a
/// flood of sign-ins queues here instead of taking every core (and 19 MiB per hash) from the
/// requests that need no password. Measured in docs/BENCHMARKS.md.
fn hash_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Semaphore::new(cores.saturating_sub(1).max(1))
    })
}

/// Runs a password computation on tokio's blocking pool once a slot is free.
async fn in_hash_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    // The semaphore is never closed, so acquiring cannot fail.
    let _slot = hash_slots()
        .acquire()
        .await
        .context("password hashing slots closed")?;
    tokio::task::spawn_blocking(work)
        .await
        .context("password hashing task failed")
}

/// [`hash_password`] on tokio's blocking thread pool (at most [`hash_slots`] at once).
///
/// # Errors
/// Fails if hashing fails or the blocking task panics or is cancelled.
pub async fn hash_password_blocking(password: String) -> anyhow::Result<String> {
    in_hash_slot(move || hash_password(&password)).await?
}

/// A password's key-encryption key (`user_keys::password_kek`, Argon2id) on the blocking pool,
/// sharing the hashing slots.
pub async fn password_kek_blocking(
    password: String,
    salt: Vec<u8>,
) -> anyhow::Result<super::user_keys::PasswordKek> {
    in_hash_slot(move || super::user_keys::password_kek(&password, &salt)).await?
}

/// [`verify_password`] on tokio's blocking thread pool (at most [`hash_slots`] at once).
/// With no stored hash (unknown user) it runs [`dummy_verify`] and returns `Invalid`.
pub async fn verify_password_blocking(stored: Option<String>, candidate: String) -> Verification {
    in_hash_slot(move || match stored {
        Some(stored) => verify_password(&stored, &candidate),
        None => {
            dummy_verify(&candidate);
            Verification::Invalid
        }
    })
    .await
    .unwrap_or(Verification::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Argon2 at production cost is slow in debug builds, so the tests below
    // make only a handful of production-cost calls.

    /// Hashes with cheap parameters, for tests of non-production hashes.
    fn cheap_hash(password: &str, m: u32, t: u32, p: u32) -> String {
        let params = Params::new(m, t, p, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_with_salt(password.as_bytes(), b"0123456789abcdef")
            .unwrap()
            .to_string()
    }

    #[test]
    fn round_trip_with_production_params() {
        let stored = hash_password("s3cret passphrase").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let salt = PasswordHash::new(&stored).unwrap().salt.unwrap();
        assert_eq!(salt.len(), SALT_LEN);
        assert_eq!(
            verify_password(&stored, "s3cret passphrase"),
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify_password(&stored, "s3cret passphrasE"),
            Verification::Invalid
        );
    }

    #[test]
    fn verifies_hash_from_independent_implementation() {
        // Made with Python's argon2-cffi 25.1.0:
        //   python3 -c "from argon2 import PasswordHasher; print(PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16).hash('interop pass ✓'))"
        let stored = "$argon2id$v=19$m=19456,t=2,p=1$REL2EC/VH2UCxWRNKRKM4A$t1QO1Bfj7z9lYY8mjfmmbq5lmtb38rHJUN/M/LXNfDk";
        assert_eq!(
            verify_password(stored, "interop pass ✓"),
            Verification::Valid {
                needs_rehash: false
            }
        );
    }

    #[test]
    fn non_production_params_need_rehash() {
        for (m, t, p) in [(64, 1, 1), (19_456, 1, 1), (128, 2, 2)] {
            let stored = cheap_hash("hunter22", m, t, p);
            assert_eq!(
                verify_password(&stored, "hunter22"),
                Verification::Valid { needs_rehash: true },
                "{stored}"
            );
            assert_eq!(verify_password(&stored, "hunter23"), Verification::Invalid);
        }
    }

    #[test]
    fn old_version_needs_rehash() {
        let params = Params::new(64, 1, 1, None).unwrap();
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x10, params)
            .hash_password_with_salt(b"hunter22", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(stored.starts_with("$argon2id$v=16$"), "{stored}");
        assert_eq!(
            verify_password(&stored, "hunter22"),
            Verification::Valid { needs_rehash: true }
        );
    }

    #[test]
    fn other_argon2_variants_are_rejected() {
        let params = Params::new(64, 1, 1, None).unwrap();
        let stored = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password_with_salt(b"hunter22", b"0123456789abcdef")
            .unwrap()
            .to_string();
        assert!(stored.starts_with("$argon2i$"), "{stored}");
        assert_eq!(verify_password(&stored, "hunter22"), Verification::Invalid);
    }

    #[test]
    fn excessive_stored_costs_are_rejected_without_work() {
        let stored = cheap_hash("hunter22", 64, 1, 1).replace("m=64", "m=4194304");
        assert_eq!(verify_password(&stored, "hunter22"), Verification::Invalid);
        let stored = cheap_hash("hunter22", 64, 1, 1).replace("t=1", "t=1000000");
        assert_eq!(verify_password(&stored, "hunter22"), Verification::Invalid);
    }

    // Expected values computed independently with Python's hashlib:
    //   python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha256', 'admin-legacy-pass'.encode(), b'b6de95256eba1c2b5071cafb74ebcd1b2575ba66cb9a7132317a7384a84cb32d', 260000).hex())"
    //   python3 -c "import hashlib; print(hashlib.pbkdf2_hmac('sha256', 'correct horse ✓'.encode(), b'00112233445566778899aabbccddeeff', 260000).hex())"
    const PBKDF2_VECTORS: [(&str, &str, &str); 2] = [
        (
            "admin-legacy-pass",
            "b6de95256eba1c2b5071cafb74ebcd1b2575ba66cb9a7132317a7384a84cb32d",
            "d907e4551f4d6d4b9eea034d510dd020349bfafd2a8efa5df6ee21953fcf5b34",
        ),
        (
            "correct horse ✓",
            "00112233445566778899aabbccddeeff",
            "6b10c5a91fd2bfebc772aa6f3ae233792246097d5f96fe9f8ffb73bb6ccb7aa4",
        ),
    ];

    // Expected values computed independently with Python's hashlib:
    //   python3 -c "import hashlib; print(hashlib.sha256('maria-sha256-pass'.encode()).hexdigest())"
    //   python3 -c "import hashlib; print(hashlib.sha256('correct horse ✓'.encode()).hexdigest())"
    const SHA256_VECTORS: [(&str, &str); 2] = [
        (
            "maria-sha256-pass",
            "d5ee4fc01c4c7245a1bd534ac7173e591bdef8c7a7cf8ec5fcff40f9ce161ca8",
        ),
        (
            "correct horse ✓",
            "4218a2da112647e641abf31a53062ddd5ca56f91b8585db61dc94a260ed85046",
        ),
    ];

    #[test]
    fn legacy_pbkdf2_vectors_verify_and_need_rehash() {
        for (password, salt, hash) in PBKDF2_VECTORS {
            let stored = legacy_pbkdf2_stored(hash, salt).unwrap();
            assert_eq!(stored, format!("legacy-pbkdf2${salt}${hash}"));
            assert_eq!(
                verify_password(&stored, password),
                Verification::Valid { needs_rehash: true }
            );
            assert_eq!(
                verify_password(&stored, "wrong password"),
                Verification::Invalid
            );
        }
    }

    #[test]
    fn legacy_sha256_vectors_verify_and_need_rehash() {
        for (password, hash) in SHA256_VECTORS {
            let stored = legacy_sha256_stored(hash).unwrap();
            assert_eq!(stored, format!("legacy-sha256${hash}"));
            assert_eq!(
                verify_password(&stored, password),
                Verification::Valid { needs_rehash: true }
            );
            assert_eq!(
                verify_password(&stored, &password.to_uppercase()),
                Verification::Invalid
            );
        }
    }

    #[test]
    fn legacy_builders_validate_and_lowercase() {
        let (_, salt, hash) = PBKDF2_VECTORS[0];
        let upper = hash.to_ascii_uppercase();
        assert_eq!(
            legacy_pbkdf2_stored(&upper, salt).unwrap(),
            format!("legacy-pbkdf2${salt}${hash}")
        );
        assert_eq!(
            legacy_sha256_stored(&upper).unwrap(),
            format!("legacy-sha256${hash}")
        );
        for bad_hash in [
            "",
            &hash[..63],
            &format!("{hash}0"),
            &hash.replace('d', "g"),
        ] {
            assert_eq!(legacy_pbkdf2_stored(bad_hash, salt), None, "{bad_hash}");
            assert_eq!(legacy_sha256_stored(bad_hash), None, "{bad_hash}");
        }
        for bad_salt in ["", "xyz", "ab$cd", "ab cd"] {
            assert_eq!(legacy_pbkdf2_stored(hash, bad_salt), None, "{bad_salt}");
        }
    }

    #[test]
    fn malformed_stored_values_are_invalid() {
        let (_, salt, hash) = PBKDF2_VECTORS[0];
        let malformed = [
            String::new(),
            "plaintext".into(),
            "$argon2id$".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$!!!$!!!".into(),
            "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            "$argon2id$v=19$m=19456,t=2,p=1,x=9$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
            "legacy-pbkdf2$".into(),
            format!("legacy-pbkdf2${salt}"),
            format!("legacy-pbkdf2$${hash}"),
            format!("legacy-pbkdf2$zz${hash}"),
            format!("legacy-pbkdf2${salt}${hash}$extra"),
            format!("legacy-pbkdf2${salt}${}", &hash[..62]),
            "legacy-sha256$".into(),
            "legacy-sha256$abc".into(),
            format!("legacy-sha256${}é", &hash[..62]),
            format!("legacy-sha256${hash} "),
            format!("LEGACY-SHA256${hash}"),
        ];
        for stored in &malformed {
            assert_eq!(
                verify_password(stored, "admin-legacy-pass"),
                Verification::Invalid,
                "{stored:?}"
            );
        }
    }

    #[tokio::test]
    async fn blocking_wrappers_round_trip_and_unknown_user_is_invalid() {
        let stored = hash_password_blocking("async pass".into()).await.unwrap();
        assert_eq!(
            verify_password_blocking(Some(stored), "async pass".into()).await,
            Verification::Valid {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify_password_blocking(None, "async pass".into()).await,
            Verification::Invalid
        );
        assert!(dummy_hash().is_some_and(|h| h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")));
    }
}

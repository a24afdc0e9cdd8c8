//! TOTP two-factor authentication (RFC 6238) and recovery codes.
//!
//! Everything here is a pure function: the current time is always passed in,
//! so callers (and tests) decide what "now" is. Codes are SHA-1, 6 digits,
//! 30-second steps, which is what every authenticator app supports.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use totp_rs::{Builder, Secret, Totp};

use crate::crypto::token::{fill_random, recovery_code_digest};

/// Number of digits in a code.
pub const DIGITS: u8 = 6;
/// Length of one time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one, for clock drift.
pub const SKEW_STEPS: u64 = 1;
/// Issuer shown in authenticator apps.
pub const ISSUER: &str = "Contact Vault";

/// Size of a generated TOTP secret (160 bits, as RFC 4226 recommends).
const SECRET_LEN: usize = 20;

/// Number of recovery codes issued at once.
const RECOVERY_CODE_COUNT: usize = 10;
/// Characters per recovery code (without dashes).
const RECOVERY_CODE_LEN: usize = 16;
/// Recovery code alphabet: lower-case letters and digits without the easily
/// confused `0`, `o`, `1`, `l` and `i`. 31 symbols, so 16 of them carry
/// about 79 bits of entropy.
const RECOVERY_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// Builds a totp-rs instance with this module's parameters.
///
/// `build_noncompliant` skips totp-rs's validation (secret of at least 16
/// bytes, account name rules) so that every function here stays total; our
/// own secrets are always 20 bytes.
fn totp(secret: &[u8]) -> Totp {
    Builder::new()
        .with_secret(secret)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS)
        .build_noncompliant()
}

/// Returns 20 fresh random bytes for a new TOTP secret.
///
/// # Panics
///
/// Panics if the OS random source fails (see [`fill_random`](crate::crypto::token::fill_random)).
pub fn generate_secret() -> Vec<u8> {
    let mut secret = vec![0; SECRET_LEN];
    fill_random(&mut secret);
    secret
}

/// Encodes a secret as unpadded RFC 4648 base32, the form authenticator apps
/// accept for manual entry.
pub fn secret_base32(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

/// Builds the `otpauth://` URI that authenticator apps read from a QR code.
///
/// `account` is only a display label. The Key URI format forbids `:` in it,
/// so colons are replaced with `_`, and an empty account becomes `user`.
pub fn otpauth_uri(secret: &[u8], account: &str) -> String {
    let label = match account.trim() {
        "" => "user".to_owned(),
        trimmed => trimmed.replace(':', "_"),
    };
    let totp = Builder::new()
        .with_secret(secret)
        .with_digits(DIGITS)
        .with_step_duration(STEP_SECONDS)
        .with_account_name(label)
        .with_issuer(Some(ISSUER))
        .build_noncompliant();
    // `to_url` only fails for an empty or colon-containing account name,
    // which the label above rules out.
    match totp.to_url() {
        // totp-rs leaves out parameters that equal the defaults; state them
        // explicitly so no app has to guess.
        Ok(url) => format!("{url}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"),
        Err(_) => String::new(),
    }
}

/// The code for the step containing `step_index`, or `None` if that step's
/// start time does not fit in a `u64`.
fn code_for_step(totp: &Totp, step_index: u64) -> Option<String> {
    let time = step_index.checked_mul(STEP_SECONDS)?;
    Some(totp.generate(time).to_string())
}

/// Returns the 6-digit code for `unix_time` (seconds since the epoch).
pub fn code_at(secret: &[u8], unix_time: u64) -> String {
    totp(secret).generate(unix_time).to_string()
}

/// Normalizes user input into a code: trims, drops inner whitespace, and
/// accepts exactly 6 ASCII digits.
pub fn parse_code(input: &str) -> Option<String> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == usize::from(DIGITS) && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// Checks a code typed by the user.
///
/// Returns the matched time step if `input` is the code for the current step
/// (`unix_time / 30`) or one step either side, and that step is strictly
/// greater than `last_used_step`. The caller must store the returned step as
/// the new `last_used_step`: that makes every code single-use and refuses a
/// code older than one already accepted.
///
/// Codes are compared in constant time and all candidate steps are checked.
/// If codes of two steps happen to coincide, the later step is returned, so
/// the same digits cannot be replayed for the other step.
#[must_use]
pub fn verify(
    secret: &[u8],
    input: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let code = parse_code(input)?;
    let totp = totp(secret);
    let current = unix_time / STEP_SECONDS;

    let mut found = Choice::from(0);
    let mut matched = 0u64;
    // Ascending order, so a later matching step overrides an earlier one.
    for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
        let Some(expected) = code_for_step(&totp, step) else {
            continue;
        };
        let fresh = Choice::from(u8::from(last_used_step.is_none_or(|last| step > last)));
        let hit = expected.as_bytes().ct_eq(code.as_bytes()) & fresh;
        matched.conditional_assign(&step, hit);
        found |= hit;
    }
    bool::from(found).then_some(matched)
}

/// Returns one random recovery code of [`RECOVERY_CODE_LEN`] characters,
/// without dashes.
fn random_recovery_code() -> String {
    // Largest multiple of the alphabet size that fits in a byte (248):
    // rejecting bytes at or above it keeps every symbol equally likely.
    const LIMIT: usize = 256 - 256 % RECOVERY_ALPHABET.len();
    let mut code = String::with_capacity(RECOVERY_CODE_LEN);
    let mut buf = [0u8; 32];
    while code.len() < RECOVERY_CODE_LEN {
        fill_random(&mut buf);
        for b in buf.iter().map(|&b| usize::from(b)).filter(|&b| b < LIMIT) {
            if code.len() == RECOVERY_CODE_LEN {
                break;
            }
            code.push(char::from(RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.len()]));
        }
    }
    code
}

/// Generates 10 distinct single-use recovery codes, formatted for display as
/// `xxxx-xxxx-xxxx-xxxx`. Store only [`hash_recovery_code`] of each
/// [normalized](normalize_recovery_code) code.
///
/// # Panics
///
/// Panics if the OS random source fails (see [`fill_random`](crate::crypto::token::fill_random)).
pub fn generate_recovery_codes() -> Vec<String> {
    let mut codes: Vec<String> = Vec::with_capacity(RECOVERY_CODE_COUNT);
    while codes.len() < RECOVERY_CODE_COUNT {
        let raw = random_recovery_code();
        let grouped = raw
            .as_bytes()
            .chunks(4)
            .map(|group| group.iter().copied().map(char::from).collect::<String>())
            .collect::<Vec<_>>()
            .join("-");
        // A duplicate is astronomically unlikely, but cheap to rule out.
        if !codes.contains(&grouped) {
            codes.push(grouped);
        }
    }
    codes
}

/// Normalizes a recovery code typed by the user: lower-cases it, drops
/// whitespace and dashes, and requires exactly 16 characters of the
/// recovery code alphabet.
pub fn normalize_recovery_code(input: &str) -> Option<String> {
    let code: String = input
        .chars()
        .filter(|&c| c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid =
        code.len() == RECOVERY_CODE_LEN && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b));
    valid.then_some(code)
}

/// Hashes a normalized recovery code for storage (see `crypto::token::recovery_code_digest`).
pub fn hash_recovery_code(normalized: &str) -> String {
    recovery_code_digest(normalized)
}

/// The stored forms of freshly made recovery codes, ready for `store::users`.
pub fn hash_recovery_codes(codes: &[String]) -> Vec<String> {
    codes
        .iter()
        .filter_map(|c| normalize_recovery_code(c))
        .map(|c| hash_recovery_code(&c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B SHA-1 secret.
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B SHA-1 vectors: time and 8-digit code.
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    /// A time in the middle of a step, well away from the epoch.
    const NOW: u64 = 1_700_000_015;

    fn step_code(step: u64) -> String {
        code_at(RFC_SECRET, step * STEP_SECONDS)
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        for (time, code8) in RFC_VECTORS {
            assert_eq!(code_at(RFC_SECRET, time), code8[2..], "time {time}");
        }
    }

    #[test]
    fn verify_accepts_rfc_vectors() {
        for (time, code8) in RFC_VECTORS {
            assert_eq!(
                verify(RFC_SECRET, &code8[2..], time, None),
                Some(time / STEP_SECONDS),
                "time {time}"
            );
        }
    }

    #[test]
    fn skew_accepts_one_step_either_side() {
        let step = NOW / STEP_SECONDS;
        for s in [step - 1, step, step + 1] {
            assert_eq!(verify(RFC_SECRET, &step_code(s), NOW, None), Some(s));
        }
    }

    #[test]
    fn skew_refuses_two_steps_away() {
        let step = NOW / STEP_SECONDS;
        let window: Vec<String> = (step - 1..=step + 1).map(step_code).collect();
        for s in [step - 2, step + 2] {
            let code = step_code(s);
            // Guard against a chance collision with a code inside the window.
            assert!(!window.contains(&code));
            assert_eq!(verify(RFC_SECRET, &code, NOW, None), None);
        }
    }

    #[test]
    fn replay_of_same_step_refused() {
        let step = NOW / STEP_SECONDS;
        let code = code_at(RFC_SECRET, NOW);
        assert_eq!(verify(RFC_SECRET, &code, NOW, None), Some(step));
        assert_eq!(verify(RFC_SECRET, &code, NOW, Some(step)), None);
        // Still refused later in the same window.
        assert_eq!(
            verify(RFC_SECRET, &code, NOW + STEP_SECONDS, Some(step)),
            None
        );
        // But accepted if only an older step was used.
        assert_eq!(verify(RFC_SECRET, &code, NOW, Some(step - 1)), Some(step));
    }

    #[test]
    fn older_code_refused_after_newer() {
        let step = NOW / STEP_SECONDS;
        let last = Some(step + 1);
        assert_eq!(verify(RFC_SECRET, &step_code(step), NOW, last), None);
        assert_eq!(verify(RFC_SECRET, &step_code(step - 1), NOW, last), None);
        assert_eq!(verify(RFC_SECRET, &step_code(step + 1), NOW, last), None);
    }

    #[test]
    fn verify_refuses_wrong_and_malformed_codes() {
        let code = code_at(RFC_SECRET, NOW);
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(verify(RFC_SECRET, &wrong, NOW, None), None);
        for bad in [
            "",
            "12345",
            "1234567",
            "abcdef",
            "１２３４５６",
            "12345\u{0}",
        ] {
            assert_eq!(verify(RFC_SECRET, bad, NOW, None), None, "{bad:?}");
        }
        // Whitespace is tolerated, as in parse_code.
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert_eq!(
            verify(RFC_SECRET, &spaced, NOW, None),
            Some(NOW / STEP_SECONDS)
        );
    }

    #[test]
    fn verify_near_epoch_and_extremes_does_not_panic() {
        for time in [0, 1, 29, 30] {
            let code = code_at(RFC_SECRET, time);
            assert_eq!(
                verify(RFC_SECRET, &code, time, None),
                Some(time / STEP_SECONDS)
            );
        }
        // The previous-step code at time 0 would be step -1: it does not exist.
        assert_eq!(verify(RFC_SECRET, &step_code(1), 0, None), Some(1));
        assert_eq!(verify(RFC_SECRET, "123456", 0, Some(u64::MAX)), None);
        let _ = verify(RFC_SECRET, "123456", u64::MAX, None);
        let _ = verify(RFC_SECRET, "123456", u64::MAX, Some(0));
        let _ = verify(&[], "123456", NOW, None);
        let _ = code_at(&[], u64::MAX);
    }

    #[test]
    fn parse_code_edge_cases() {
        assert_eq!(parse_code("123456").as_deref(), Some("123456"));
        assert_eq!(parse_code("  123456\n").as_deref(), Some("123456"));
        assert_eq!(parse_code("123 456").as_deref(), Some("123456"));
        assert_eq!(parse_code(" 1 2 3\t4 5 6 ").as_deref(), Some("123456"));
        assert_eq!(parse_code("000000").as_deref(), Some("000000"));
        for bad in [
            "",
            "      ",
            "12345",
            "1234567",
            "12345a",
            "abcdef",
            "123-456",
            "+12345",
            "12345６",
            "١٢٣٤٥٦",
            "12345\u{0}",
        ] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn secret_generation_and_base32() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.len(), 20);
        assert_ne!(a, b);
        assert_eq!(
            secret_base32(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        // 20 bytes encode to 32 characters with no padding.
        let encoded = secret_base32(&a);
        assert_eq!(encoded.len(), 32);
        assert!(!encoded.contains('='));
    }

    #[test]
    fn otpauth_uri_format() {
        let uri = otpauth_uri(RFC_SECRET, "alice@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Contact%20Vault:alice%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Contact%20Vault\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert!(uri.contains(&secret_base32(RFC_SECRET)));
        assert!(uri.contains("issuer=Contact%20Vault"));
        // The URI round-trips through totp-rs's own parser.
        let parsed = Totp::from_url(&uri).unwrap();
        assert_eq!(parsed.account_name(), "alice@example.com");
        assert_eq!(parsed.issuer(), Some(ISSUER));
        assert_eq!(parsed.generate(NOW).to_string(), code_at(RFC_SECRET, NOW));
    }

    #[test]
    fn otpauth_uri_awkward_accounts() {
        assert!(otpauth_uri(RFC_SECRET, "a:b").starts_with("otpauth://totp/Contact%20Vault:a_b?"));
        assert!(otpauth_uri(RFC_SECRET, "  ").starts_with("otpauth://totp/Contact%20Vault:user?"));
        let uri = otpauth_uri(RFC_SECRET, "zoë & co/x?y#z");
        assert_eq!(
            Totp::from_url(&uri).unwrap().account_name(),
            "zoë & co/x?y#z"
        );
    }

    #[test]
    fn recovery_codes_are_distinct_and_well_formed() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), 10);
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 19);
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 4);
            assert!(groups.iter().all(|g| g.len() == 4));
            assert!(
                code.bytes()
                    .filter(|&b| b != b'-')
                    .all(|b| RECOVERY_ALPHABET.contains(&b))
            );
        }
    }

    #[test]
    fn recovery_alphabet_is_unambiguous() {
        assert_eq!(RECOVERY_ALPHABET.len(), 31);
        for confusable in b"0o1li" {
            assert!(!RECOVERY_ALPHABET.contains(confusable));
        }
    }

    #[test]
    fn recovery_code_normalization() {
        for code in generate_recovery_codes() {
            let normalized = normalize_recovery_code(&code).unwrap();
            assert_eq!(normalized, code.replace('-', ""));
            // Upper case, spaces and missing dashes all normalize the same way.
            let typed = format!("  {} ", code.to_uppercase().replace('-', " "));
            assert_eq!(
                normalize_recovery_code(&typed).as_deref(),
                Some(&*normalized)
            );
            assert_eq!(
                normalize_recovery_code(&normalized).as_deref(),
                Some(&*normalized)
            );
        }
        assert_eq!(
            normalize_recovery_code("ABCD-EFGH-JKMN-PQRS").as_deref(),
            Some("abcdefghjkmnpqrs")
        );
        for bad in [
            "",
            "abcd-efgh-jkmn-pqr",
            "abcd-efgh-jkmn-pqrst",
            "abcd-efgh-jkmn-pqr0",
            "abcd-efgh-jkmn-pqro",
            "abcd-efgh-jkmn-pqr1",
            "abcd-efgh-jkmn-pqrl",
            "abcd-efgh-jkmn-pqri",
            "abcd-efgh-jkmn-pqr_",
            "abcd-efgh-jkmn-pqré",
        ] {
            assert_eq!(normalize_recovery_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recovery_code_hash() {
        let hash = hash_recovery_code("abcdefghjkmnpqrs");
        assert_eq!(hash.len(), 64);
        assert!(
            hash.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(hash, hash_recovery_code("abcdefghjkmnpqrs"));
        assert_ne!(hash, hash_recovery_code("abcdefghjkmnpqrt"));
        // Known SHA-256 value, so the storage format cannot drift unnoticed.
        assert_eq!(
            hash_recovery_code("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

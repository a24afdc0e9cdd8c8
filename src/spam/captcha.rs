//! Image CAPTCHAs. The answer stays on the server (in the session row), expires after ten
//! minutes, and is taken out at the first attempt, right or wrong.

use actix_session::Session;
use captcha::Captcha;
use captcha::filters::{Noise, Wave};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

const SESSION_KEY: &str = "captcha";
pub const LIFETIME_SECONDS: i64 = 600;
const LENGTH: u32 = 5;
/// Upper-case letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
const ALPHABET: &[char] = &[
    'A', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'V', 'W', 'X',
    'Y', '3', '4', '6', '7', '9',
];

#[derive(Serialize, Deserialize)]
struct Pending {
    answer: String,
    expires: i64,
}

/// A fresh challenge: (answer, PNG). `None` only if the image could not be encoded.
pub fn generate() -> Option<(String, Vec<u8>)> {
    let mut c = Captcha::new();
    c.set_chars(ALPHABET)
        .add_chars(LENGTH)
        .apply_filter(Noise::new(0.2))
        .apply_filter(Wave::new(2.0, 12.0))
        .view(220, 90);
    let png = c.as_png()?;
    Some((c.chars_as_string(), png))
}

/// Remembers the answer of the image just sent to this visitor.
pub fn remember(session: &Session, answer: &str, now: i64) {
    let pending = Pending {
        answer: answer.to_uppercase(),
        expires: now + LIFETIME_SECONDS,
    };
    let _ = session.insert(SESSION_KEY, pending);
}

/// Checks an answer; the stored challenge is used up whatever the outcome.
pub fn check(session: &Session, input: &str, now: i64) -> bool {
    let Some(Ok(pending)) = session.remove_as::<Pending>(SESSION_KEY) else {
        return false;
    };
    let given: String = input.split_whitespace().collect::<String>().to_uppercase();
    pending.expires > now
        && !given.is_empty()
        && bool::from(given.as_bytes().ct_eq(pending.answer.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_use_only_unambiguous_characters() {
        for _ in 0..20 {
            let (answer, png) = generate().unwrap();
            assert_eq!(answer.chars().count(), LENGTH as usize);
            assert!(answer.chars().all(|c| ALPHABET.contains(&c)), "{answer}");
            assert!(png.starts_with(b"\x89PNG"));
        }
        for ambiguous in ['0', 'O', '1', 'I', 'L', 'l', 'o'] {
            assert!(!ALPHABET.contains(&ambiguous));
        }
    }
}

//! A new password that satisfies the account password policy.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use secrecy::{ExposeSecret, SecretString};

/// Fewest characters (Unicode scalar values, not bytes) a password may have.
pub const MIN_CHARS: usize = 8;
/// Most characters a password may have.
pub const MAX_CHARS: usize = 128;

/// A password that passed [`Password::parse`]; zeroised on drop and never
/// printed by `Debug`.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Checks `input` against the policy: 8 to 128 characters and not one of
    /// the 10,000 most common passwords (compared trimmed and lower-cased).
    ///
    /// # Errors
    /// Returns a message suitable for showing next to the form field.
    pub fn parse(input: &str) -> Result<Self, String> {
        let chars = input.chars().count();
        if chars < MIN_CHARS {
            return Err(format!(
                "Password must be at least {MIN_CHARS} characters long."
            ));
        }
        if chars > MAX_CHARS {
            return Err(format!(
                "Password must be at most {MAX_CHARS} characters long."
            ));
        }
        if is_common(input) {
            return Err(
                "This password is one of the most commonly used; please choose another.".to_owned(),
            );
        }
        Ok(Self(SecretString::from(input)))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// The common-password list, parsed on first use.
fn common_passwords() -> &'static HashSet<&'static str> {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("common-passwords.txt")
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    })
}

/// True if `input`, trimmed and lower-cased, is on the common-password list.
fn is_common(input: &str) -> bool {
    common_passwords().contains(input.trim().to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_has_ten_thousand_normalised_entries() {
        let list = common_passwords();
        assert_eq!(list.len(), 10_000);
        assert!(
            list.iter()
                .all(|p| !p.is_empty() && *p == p.trim() && *p == p.to_lowercase())
        );
    }

    #[test]
    fn too_short_is_rejected() {
        assert!(Password::parse("").is_err());
        let err = Password::parse("xK9#qL2").unwrap_err();
        assert!(err.contains("at least 8"), "{err}");
    }

    #[test]
    fn too_long_is_rejected() {
        let err = Password::parse(&format!("{}x", "kX9$".repeat(32))).unwrap_err();
        assert!(err.contains("at most 128"), "{err}");
    }

    #[test]
    fn boundary_lengths_are_accepted() {
        let eight = "xK9#qL2!";
        assert_eq!(Password::parse(eight).unwrap().expose(), eight);
        let long = "kX9$".repeat(32);
        assert_eq!(long.chars().count(), 128);
        assert_eq!(Password::parse(&long).unwrap().expose(), long);
    }

    #[test]
    fn common_passwords_are_rejected() {
        for common in [
            "password",
            "123456789",
            "Password1",
            "  PASSWORD123 ",
            "iloveyou",
            "qwerty123",
        ] {
            let err = Password::parse(common).unwrap_err();
            assert!(err.contains("commonly used"), "{common}: {err}");
        }
    }

    #[test]
    fn strong_password_is_accepted() {
        let strong = "vT7#pLq9!mZ2 wobble-ferns";
        assert_eq!(Password::parse(strong).unwrap().expose(), strong);
    }

    #[test]
    fn multibyte_characters_count_as_one() {
        // 'é' is 2 bytes and '🔐' is 4 bytes in UTF-8.
        assert!(Password::parse(&"é".repeat(7)).is_err());
        assert!(Password::parse(&"é".repeat(8)).is_ok());
        assert!(Password::parse(&"🔐".repeat(128)).is_ok());
        assert!(Password::parse(&"🔐".repeat(129)).is_err());
    }

    #[test]
    fn debug_does_not_reveal_the_value() {
        let password = Password::parse("vT7#pLq9!mZ2").unwrap();
        let shown = format!("{password:?}");
        assert!(!shown.contains("vT7#pLq9!mZ2"), "{shown}");
        assert_eq!(shown, "Password([REDACTED])");
    }
}

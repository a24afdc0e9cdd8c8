//! A new password that satisfies the account password policy.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use secrecy::{ExposeSecret, SecretString};

/// Fewest characters a password may have (ASVS 2.1.1), counted after
/// [`normalize`].
pub const MIN_CHARS: usize = 12;
/// Most characters a password may have.
pub const MAX_CHARS: usize = 128;
/// The product's name, which is no password for it.
const PRODUCT_NAMES: [&str; 2] = ["contactvault", "vault"];

/// A password that passed [`Password::parse`]; zeroised on drop and never
/// printed by `Debug`.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Checks a new password against the policy (ASVS 2.1): 12 to 128
    /// characters after normalising white space, not white space only, not
    /// the username or the product's name, and not on (or built from an
    /// entry of) the bundled list of 30,000 breached passwords. The password
    /// is stored as typed; only the checks see the normalised form.
    ///
    /// # Errors
    /// Returns a message suitable for showing next to the form field.
    pub fn parse(input: &str, username: &str) -> Result<Self, String> {
        check(input, username)?;
        Ok(Self(SecretString::from(input)))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Does an existing password (one that just verified at sign-in) still meet the policy?
/// Passwords set under the older 8-character rule keep working, but their owners are asked
/// to choose a new one.
pub fn meets_policy(input: &str, username: &str) -> bool {
    check(input, username).is_ok()
}

fn check(input: &str, username: &str) -> Result<(), String> {
    let normalized = normalize(input);
    let chars = normalized.chars().count();
    if normalized.trim().is_empty() {
        return Err("A password of only spaces or invisible characters is not allowed.".into());
    }
    if chars < MIN_CHARS {
        return Err(format!(
            "Password must be at least {MIN_CHARS} characters long (runs of spaces count as one)."
        ));
    }
    if input.chars().count() > MAX_CHARS {
        return Err(format!(
            "Password must be at most {MAX_CHARS} characters long."
        ));
    }
    let cores = cores(&normalized);
    let name = core_of_name(username);
    if cores
        .iter()
        .any(|c| PRODUCT_NAMES.contains(&c.as_str()) || (!name.is_empty() && *c == name))
    {
        return Err("The password must not be your username or the name of this app.".into());
    }
    if distinct_chars(&normalized) < 4 || cores.iter().any(|c| is_sequence(c)) {
        return Err("This password is too easy to guess; add more different characters.".into());
    }
    if is_common(&normalized) || cores.iter().any(|c| is_common(c)) {
        return Err(
            "This password is one of the most commonly used; please choose another.".to_owned(),
        );
    }
    Ok(())
}

/// Drops invisible format characters (zero-width spaces and joiners, the byte order mark,
/// soft hyphens) and turns every run of white space into one space.
pub fn normalize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut in_space = false;
    for c in input.chars().filter(|c| !is_invisible(*c)) {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            out.push(c);
            in_space = false;
        }
    }
    out
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// The words a guesser starts from: the password in lower case without punctuation and
/// spaces, the same without the digits around it, and of each a word typed over and over
/// counted once.
fn cores(normalized: &str) -> Vec<String> {
    let lower = normalized.to_lowercase();
    let alnum = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
    };
    let mut out = vec![alnum(&lower)];
    let trimmed = alnum(lower.trim_matches(|c: char| !c.is_alphabetic()));
    if !trimmed.is_empty() {
        out.push(trimmed);
    }
    let units: Vec<String> = out.iter().filter_map(|c| repeated_unit(c)).collect();
    out.extend(units);
    out
}

/// `qwerty` for `qwertyqwerty`, `ann` for `annannann`: the shortest piece the whole is made of
/// by repeating it, if there is one.
fn repeated_unit(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    (1..=n / 2)
        .filter(|p| n.is_multiple_of(*p))
        .find(|&p| chars.chunks(p).all(|c| c == &chars[..p]))
        .map(|p| chars[..p].iter().collect())
}

fn core_of_name(username: &str) -> String {
    username
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn distinct_chars(s: &str) -> usize {
    s.chars().collect::<HashSet<_>>().len()
}

/// `abcdefghijkl`, `123456789012`: each character the one after (or before) the last,
/// digits wrapping round from 9 to 0.
fn is_sequence(core: &str) -> bool {
    let next = |a: char, b: char| u32::from(b) == u32::from(a) + 1 || (a == '9' && b == '0');
    let chars: Vec<char> = core.chars().collect();
    chars.len() >= 4
        && (chars.windows(2).all(|w| next(w[0], w[1]))
            || chars.windows(2).all(|w| next(w[1], w[0])))
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// The breached-password list, parsed on first use.
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

/// True if `input`, trimmed and lower-cased, is on the list.
fn is_common(input: &str) -> bool {
    let key = input.trim().to_lowercase();
    !key.is_empty() && common_passwords().contains(key.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(p: &str) -> Result<Password, String> {
        Password::parse(p, "alice")
    }

    #[test]
    fn list_has_thirty_thousand_normalised_entries() {
        let list = common_passwords();
        assert_eq!(list.len(), 30_000);
        assert!(
            list.iter()
                .all(|p| !p.is_empty() && *p == p.trim() && *p == p.to_lowercase())
        );
    }

    #[test]
    fn too_short_is_rejected() {
        assert!(parse("").is_err());
        let err = parse("xK9#qL2!vR4").unwrap_err();
        assert!(err.contains("at least 12"), "{err}");
    }

    #[test]
    fn too_long_is_rejected() {
        let err = parse(&format!("{}x", "kX9$".repeat(32))).unwrap_err();
        assert!(err.contains("at most 128"), "{err}");
    }

    #[test]
    fn boundary_lengths_are_accepted() {
        let twelve = "xK9#qL2!vR4w";
        assert_eq!(parse(twelve).unwrap().expose(), twelve);
        let long = "kX9$".repeat(32);
        assert_eq!(long.chars().count(), 128);
        assert_eq!(parse(&long).unwrap().expose(), long);
    }

    /// What the security review signed in with under the old rules.
    #[test]
    fn the_reviews_passwords_are_refused() {
        for weak in [
            "        ",
            "\t\t\t\t\t\t\t\t",
            "\u{200B}".repeat(8).as_str(),
            "\u{200B}".repeat(20).as_str(),
            &" ".repeat(20),
            "aaaaaaaa",
            "aaaaaaaaaaaa",
            "abcdefgh",
            "abcdefghijklmn",
            "98765432109876",
            "contactvault",
            "ContactVault2026!",
            "Contact Vault 12",
        ] {
            assert!(parse(weak).is_err(), "{weak:?} was accepted");
        }
    }

    #[test]
    fn white_space_runs_count_once() {
        // 13 characters typed, but the run of spaces counts as one: 10.
        assert!(parse("kX9$    wq7!z").is_err());
        assert!(parse("kX9$ wq7!zR2m").is_ok());
        // Invisible characters do not count at all.
        assert!(parse("kX9$\u{200B}\u{200B}\u{200B}wq7!zR").is_err());
    }

    #[test]
    fn username_is_refused() {
        assert!(Password::parse("alice.w.1234", "alice.w").is_err());
        assert!(Password::parse("Alice.W!!2026", "alice.w").is_err());
        assert!(Password::parse("alice.w-Correct-Horse-9", "alice.w").is_ok());
    }

    #[test]
    fn common_passwords_and_their_variants_are_rejected() {
        for common in [
            "password1234",
            "Password1234!",
            "  PASSWORD123456 ",
            "iloveyou2026",
            "qwertyqwerty",
            "Dragon-dragon",
            "123456789012",
            "trustno1trustno1",
        ] {
            let err = parse(common).unwrap_err();
            assert!(
                err.contains("commonly used") || err.contains("too easy"),
                "{common}: {err}"
            );
        }
    }

    #[test]
    fn strong_password_is_accepted() {
        let strong = "vT7#pLq9!mZ2 wobble-ferns";
        assert_eq!(parse(strong).unwrap().expose(), strong);
        assert!(meets_policy(strong, "alice"));
        assert!(!meets_policy("xK9#qL2!", "alice"));
    }

    #[test]
    fn multibyte_characters_count_as_one() {
        // 'é' is 2 bytes and '🔐' is 4 bytes in UTF-8.
        assert!(parse("éàüöçñßøåæœ").is_err());
        assert!(parse("éàüöçñßøåæœ1").is_ok());
        assert!(parse(&"🔐🔑🗝️".repeat(20)).is_ok());
        assert!(parse(&"🔐".repeat(129)).is_err());
    }

    #[test]
    fn debug_does_not_reveal_the_value() {
        let password = parse("vT7#pLq9!mZ2").unwrap();
        let shown = format!("{password:?}");
        assert!(!shown.contains("vT7#pLq9!mZ2"), "{shown}");
        assert_eq!(shown, "Password([REDACTED])");
    }
}

//! The account name: a parsed, lower-case [`Username`].

use std::fmt;

/// 3..32 characters of `a-z`, `0-9`, `.`, `_`, `-`, stored lower-case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Username, String> {
        let name = input.trim().to_lowercase();
        let len = name.chars().count();
        if !(3..=32).contains(&len) {
            return Err("A username has 3 to 32 characters.".into());
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err("Use only letters a-z, digits, '.', '_' and '-'.".into());
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(
            Username::parse(" Ann.Lee_2-x ").unwrap().as_str(),
            "ann.lee_2-x"
        );
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "ab",
            "",
            &"a".repeat(33),
            "ann lee",
            "ann@x",
            "zoë",
            "ann/..",
            "<script>",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad}");
        }
    }
}

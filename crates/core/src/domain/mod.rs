//! Parse-don't-validate types: a value of one of these types has passed its rules.

pub mod contact;
pub mod paging;
pub mod password;
pub mod phone;
mod role;
pub mod submission;
mod username;

pub use password::Password;
pub use role::Role;
pub use username::Username;

/// The message for text that breaks [`has_forbidden_chars`].
pub const FORBIDDEN_CHARS: &str =
    "Control characters and unreadable (non-UTF-8) text are not allowed.";

/// Control characters (line breaks and tabs only where `multiline`), and U+FFFD, which is what
/// invalid UTF-8 in a form or query string decodes to: nobody types it, so it is refused
/// rather than stored in place of what the sender meant.
pub fn has_forbidden_chars(s: &str, multiline: bool) -> bool {
    s.chars().any(|c| {
        c == char::REPLACEMENT_CHARACTER
            || (c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    })
}

#[cfg(test)]
mod tests {
    use super::has_forbidden_chars;

    #[test]
    fn control_characters_and_decoding_errors_are_forbidden() {
        assert!(!has_forbidden_chars("Zoë 张伟 +1 (555) 010-0123", false));
        assert!(has_forbidden_chars("Ann\u{0}", false));
        assert!(has_forbidden_chars("Ann\u{FFFD}", false));
        assert!(has_forbidden_chars("line\nbreak", false));
        assert!(!has_forbidden_chars("line\r\nbreak\tand tab", true));
        assert!(has_forbidden_chars("bell\u{7}", true));
    }
}

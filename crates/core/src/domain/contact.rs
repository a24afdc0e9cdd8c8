//! A contact as the user typed it, checked against the rules of API.md. Every text field is
//! trimmed; optional ones are `""` when empty; tags keep their order.

use std::collections::BTreeMap;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::{FORBIDDEN_CHARS, has_forbidden_chars};

pub const MAX_NAME: usize = 100;
pub const MAX_EMAIL: usize = 254;
pub const MAX_ADDRESS: usize = 200;
pub const MAX_COMPANY: usize = 200;
pub const MAX_NOTES: usize = 2000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 30;

/// Raw input: every field optional, as it comes from a form, JSON body or CSV row.
#[derive(Clone, Debug, Default)]
pub struct ContactDraft {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub company: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    pub favorite: Option<bool>,
}

/// A contact that passed every rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub company: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub favorite: bool,
}

impl Contact {
    /// Checks a draft; the error maps field names to messages.
    pub fn parse(d: ContactDraft) -> Result<Contact, BTreeMap<String, String>> {
        Self::parse_with(d, true)
    }

    /// Checks the fields of a vCard, where the phone is optional: phones and mail programs
    /// hold people known only by e-mail or address. A phone given must still be plausible.
    pub fn parse_card(d: ContactDraft) -> Result<Contact, BTreeMap<String, String>> {
        Self::parse_with(d, false)
    }

    fn parse_with(
        d: ContactDraft,
        phone_required: bool,
    ) -> Result<Contact, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let mut text = |field: &str, value: Option<String>, max: usize, required: bool| -> String {
            let v = value.unwrap_or_default().trim().to_string();
            let len = v.chars().count();
            if required && len == 0 {
                errors.insert(field.to_string(), format!("The {field} is required."));
            } else if len > max {
                errors.insert(field.to_string(), format!("At most {max} characters."));
            } else if has_forbidden_chars(&v, field == "notes") {
                errors.insert(field.to_string(), FORBIDDEN_CHARS.to_string());
            }
            v
        };
        let name = text("name", d.name, MAX_NAME, true);
        let phone = text("phone", d.phone, 32, phone_required);
        let email = text("email", d.email, MAX_EMAIL, false);
        let address = text("address", d.address, MAX_ADDRESS, false);
        let company = text("company", d.company, MAX_COMPANY, false);
        let notes = text("notes", d.notes, MAX_NOTES, false);
        if !phone.is_empty() && !errors.contains_key("phone") && !is_plausible_phone(&phone) {
            errors.insert(
                "phone".into(),
                "Enter a phone number of 7 to 15 digits (spaces, -, ., ( ) and a leading + are fine).".into(),
            );
        }
        if !email.is_empty() && !errors.contains_key("email") && !is_valid_email(&email) {
            errors.insert("email".into(), "Enter a valid e-mail address.".into());
        }
        let tags = match parse_tags(d.tags.unwrap_or_default()) {
            Ok(tags) => tags,
            Err(message) => {
                errors.insert("tags".into(), message);
                Vec::new()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Contact {
            name,
            phone,
            email,
            address,
            company,
            notes,
            tags,
            favorite: d.favorite.unwrap_or(false),
        })
    }
}

/// Optional leading `+`, then 7..15 digits with spaces, `-`, `.`, `(`, `)` between them.
pub fn is_plausible_phone(phone: &str) -> bool {
    let rest = phone.strip_prefix('+').unwrap_or(phone);
    let allowed = rest
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    allowed && (7..=15).contains(&digits)
}

/// The digits of a phone number (search and the duplicate check compare these).
pub fn phone_digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

pub fn is_valid_email(email: &str) -> bool {
    email.len() <= MAX_EMAIL
        && email_address::EmailAddress::parse_with_options(
            email,
            email_address::Options::default().without_display_text(),
        )
        .is_ok_and(|e| e.domain().contains('.'))
}

/// Trims, drops empty entries and repeats (case-insensitively), keeps order.
pub fn parse_tags(raw: Vec<String>) -> Result<Vec<String>, String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw {
        let tag = tag.trim().to_string();
        if tag.is_empty() || tags.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            continue;
        }
        if tag.chars().count() > MAX_TAG {
            return Err(format!("A tag has at most {MAX_TAG} characters."));
        }
        if tag.contains('|') || has_forbidden_chars(&tag, false) {
            return Err("Tags cannot contain '|', control characters or unreadable text.".into());
        }
        tags.push(tag);
    }
    if tags.len() > MAX_TAGS {
        return Err(format!("At most {MAX_TAGS} tags."));
    }
    Ok(tags)
}

/// Splits `work|vip` or `work, vip` into tags (CSV cells and form fields).
pub fn split_tags(cell: &str) -> Vec<String> {
    let sep = if cell.contains('|') { '|' } else { ',' };
    cell.split(sep).map(str::to_string).collect()
}

/// Lower-case with accents removed: the form search and sorting compare.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .collect::<String>()
        .to_lowercase()
}

/// The normalised name of the duplicate check: trimmed, lower-case, single spaces.
pub fn dup_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, phone: &str) -> ContactDraft {
        ContactDraft {
            name: Some(name.into()),
            phone: Some(phone.into()),
            ..ContactDraft::default()
        }
    }

    #[test]
    fn trims_and_accepts_a_minimal_contact() {
        let c = Contact::parse(draft("  Zoë O'Brien ", " +353 (1) 555-0199 ")).unwrap();
        assert_eq!(c.name, "Zoë O'Brien");
        assert_eq!(c.phone, "+353 (1) 555-0199");
        assert_eq!(c.email, "");
        assert!(!c.favorite);
    }

    #[test]
    fn phone_rules() {
        for ok in [
            "+44 7700 000001",
            "555-0100",
            "(030) 901.820",
            "1234567",
            "123456789012345",
        ] {
            assert!(is_plausible_phone(ok), "{ok}");
        }
        for bad in [
            "123456",
            "1234567890123456",
            "+",
            "12a4567",
            "++1234567",
            "555 0100 ext 3",
            "１２３４５６７",
        ] {
            assert!(!is_plausible_phone(bad), "{bad}");
        }
        assert_eq!(phone_digits("+44 (0) 7700-000.001"), "4407700000001");
    }

    #[test]
    fn field_errors_are_reported_together() {
        let d = ContactDraft {
            name: Some("x".repeat(101)),
            phone: Some("12".into()),
            email: Some("not-an-email".into()),
            address: Some("a".repeat(201)),
            company: Some("c".repeat(201)),
            notes: Some("n".repeat(2001)),
            tags: Some(vec!["t".repeat(31)]),
            favorite: None,
        };
        let errors = Contact::parse(d).unwrap_err();
        for field in [
            "name", "phone", "email", "address", "company", "notes", "tags",
        ] {
            assert!(errors.contains_key(field), "{field}");
        }
        let errors = Contact::parse(ContactDraft::default()).unwrap_err();
        assert!(errors.contains_key("name") && errors.contains_key("phone"));
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(Contact::parse(draft(&"é".repeat(100), "5550100123")).is_ok());
        assert!(Contact::parse(draft(&"é".repeat(101), "5550100123")).is_err());
        assert!(Contact::parse(draft("Ann\u{0}", "5550100123")).is_err());
    }

    #[test]
    fn emails() {
        for ok in [
            "alice@example.com",
            "a.b+c@sub.example.co.uk",
            "lena@example.de",
        ] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in [
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            "Alice <a@example.com>",
            "a@localhost",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!is_valid_email(&long));
    }

    #[test]
    fn tags_keep_order_and_drop_repeats() {
        let tags = parse_tags(vec![
            " work".into(),
            "VIP".into(),
            "".into(),
            "vip".into(),
            "de".into(),
        ])
        .unwrap();
        assert_eq!(tags, vec!["work", "VIP", "de"]);
        assert!(parse_tags((0..21).map(|i| format!("t{i}")).collect()).is_err());
        assert!(parse_tags(vec!["a|b".into()]).is_err());
        assert_eq!(split_tags("work|vip"), vec!["work", "vip"]);
        assert_eq!(split_tags("work, vip"), vec!["work", " vip"]);
    }

    #[test]
    fn folding_for_search_and_sort() {
        assert_eq!(fold("Zoë ÅSA"), "zoe asa");
        assert_eq!(dup_name("  Alice   SMITH "), "alice smith");
    }
}

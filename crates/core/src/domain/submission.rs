//! A message from the public contact form, checked field by field.

use std::collections::BTreeMap;

use time::Date;
use time::macros::format_description;

use crate::domain::contact::is_valid_email;
use crate::domain::{FORBIDDEN_CHARS, has_forbidden_chars};

pub const MAX_NAME: usize = 100;
pub const MAX_MESSAGE: usize = 2000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreferredTime {
    Morning,
    Afternoon,
    Evening,
}

impl PreferredTime {
    pub fn parse(s: &str) -> Option<PreferredTime> {
        match s.trim() {
            "morning" => Some(PreferredTime::Morning),
            "afternoon" => Some(PreferredTime::Afternoon),
            "evening" => Some(PreferredTime::Evening),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PreferredTime::Morning => "morning",
            PreferredTime::Afternoon => "afternoon",
            PreferredTime::Evening => "evening",
        }
    }
}

/// The form as posted.
#[derive(Clone, Debug, Default)]
pub struct SubmissionDraft {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub preferred_time: String,
    pub preferred_date: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub preferred_time: PreferredTime,
    pub preferred_date: Option<Date>,
    pub message: String,
}

impl Submission {
    /// Checks every field (the phone only for shape; `spam::phone` checks the number).
    /// `today` is the visitor-independent UTC date: a preferred date before it is refused.
    pub fn parse(d: &SubmissionDraft, today: Date) -> Result<Submission, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let name = d.name.trim().to_string();
        match name.chars().count() {
            0 => {
                errors.insert("name".into(), "Please tell us your name.".into());
            }
            n if n > MAX_NAME => {
                errors.insert("name".into(), format!("At most {MAX_NAME} characters."));
            }
            _ if has_forbidden_chars(&name, false) => {
                errors.insert("name".into(), FORBIDDEN_CHARS.into());
            }
            _ => {}
        }
        let email = d.email.trim().to_string();
        if email.is_empty() {
            errors.insert("email".into(), "Please give an e-mail address.".into());
        } else if has_forbidden_chars(&email, false) || !is_valid_email(&email) {
            errors.insert(
                "email".into(),
                "Enter a valid e-mail address, like name@example.com.".into(),
            );
        }
        let phone = d.phone.trim().to_string();
        if phone.is_empty() {
            errors.insert("phone".into(), "Please give a phone number.".into());
        } else if phone.chars().count() > 32 || has_forbidden_chars(&phone, false) {
            errors.insert(
                "phone".into(),
                "Enter a phone number such as +1 202 555 0143.".into(),
            );
        }
        let preferred_time = PreferredTime::parse(&d.preferred_time);
        if preferred_time.is_none() {
            errors.insert(
                "preferred_time".into(),
                "Choose morning, afternoon or evening.".into(),
            );
        }
        let preferred_date = match d.preferred_date.trim() {
            "" => None,
            s => match Date::parse(s, format_description!("[year]-[month]-[day]")) {
                Ok(date) if date < today => {
                    errors.insert(
                        "preferred_date".into(),
                        "Choose today or a later date.".into(),
                    );
                    None
                }
                Ok(date) => Some(date),
                Err(_) => {
                    errors.insert(
                        "preferred_date".into(),
                        "Enter a date as YYYY-MM-DD.".into(),
                    );
                    None
                }
            },
        };
        let message = d.message.trim().to_string();
        if message.chars().count() > MAX_MESSAGE {
            errors.insert(
                "message".into(),
                format!("At most {MAX_MESSAGE} characters."),
            );
        } else if has_forbidden_chars(&message, true) {
            errors.insert("message".into(), FORBIDDEN_CHARS.into());
        }
        match (preferred_time, errors.is_empty()) {
            (Some(preferred_time), true) => Ok(Submission {
                name,
                email,
                phone,
                preferred_time,
                preferred_date,
                message,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn draft() -> SubmissionDraft {
        SubmissionDraft {
            name: " 李小龍 ".into(),
            email: "bruce@example.com".into(),
            phone: "+1 202 555 0143".into(),
            preferred_time: "evening".into(),
            preferred_date: "2026-11-24".into(),
            message: "Hello\nthere".into(),
        }
    }

    #[test]
    fn accepts_any_script_and_a_future_date() {
        let s = Submission::parse(&draft(), date!(2026 - 11 - 23)).unwrap();
        assert_eq!(s.name, "李小龍");
        assert_eq!(s.preferred_time, PreferredTime::Evening);
        assert_eq!(s.preferred_date, Some(date!(2026 - 11 - 24)));
        let today = SubmissionDraft {
            preferred_date: "2026-11-23".into(),
            ..draft()
        };
        assert!(Submission::parse(&today, date!(2026 - 11 - 23)).is_ok());
        let none = SubmissionDraft {
            preferred_date: "".into(),
            message: "".into(),
            ..draft()
        };
        assert_eq!(
            Submission::parse(&none, date!(2026 - 11 - 23))
                .unwrap()
                .preferred_date,
            None
        );
    }

    #[test]
    fn reports_each_bad_field() {
        let bad = SubmissionDraft {
            name: "x".repeat(101),
            email: "nope".into(),
            phone: "".into(),
            preferred_time: "midnight".into(),
            preferred_date: "2026-11-22".into(),
            message: "m".repeat(2001),
        };
        let errors = Submission::parse(&bad, date!(2026 - 11 - 23)).unwrap_err();
        for f in [
            "name",
            "email",
            "phone",
            "preferred_time",
            "preferred_date",
            "message",
        ] {
            assert!(errors.contains_key(f), "{f}");
        }
        let garbled = SubmissionDraft {
            preferred_date: "23/11/2026".into(),
            ..draft()
        };
        assert!(
            Submission::parse(&garbled, date!(2026 - 11 - 23))
                .unwrap_err()
                .contains_key("preferred_date")
        );
    }
}

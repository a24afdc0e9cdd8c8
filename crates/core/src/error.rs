//! Why a service did not do what it was asked. The faces turn each variant into their own
//! answer (a form re-rendered with field messages, a status page, JSON `{"error"}`); nothing
//! here knows about HTTP.

use std::collections::BTreeMap;

/// Field name → message.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input broke a rule; a message per field.
    #[error("{}", field_summary(.0))]
    Invalid(FieldErrors),
    /// The same contact (name and phone digits) is already in the book: its id, when known.
    #[error("duplicate contact")]
    Duplicate(Option<String>),
    #[error("not found")]
    NotFound,
    /// The caller may not do this to this thing.
    #[error("forbidden")]
    Forbidden,
    /// The request cannot be done in the state things are in (a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// Not done, for the reason given (deleting oneself, an enrolment that has to restart).
    #[error("{0}")]
    Refused(String),
    /// A wrong password or code; the message says which, for the person.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many wrong attempts: try again after this many seconds.
    #[error("too many requests")]
    Locked { retry_after: u64 },
    /// The user's book is under their own keys and this request's credential did not open
    /// them (a sign-in from before the keys existed): sign in again.
    #[error("sign in again to open your book")]
    Sealed,
    /// Something that is not the caller's fault; logged, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// The result of a service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One field's message.
    pub fn field(name: &str, message: impl Into<String>) -> Self {
        Error::Invalid(BTreeMap::from([(name.to_string(), message.into())]))
    }
}

/// `"name: required · phone: not a valid number"`: every field's message on one line.
pub fn field_summary(fields: &FieldErrors) -> String {
    if fields.is_empty() {
        return "invalid input".to_string();
    }
    fields
        .iter()
        .map(|(field, message)| format!("{field}: {message}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

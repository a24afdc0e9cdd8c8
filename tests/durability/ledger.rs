//! What the crash test sent and how each attempt ended.

use serde::Serialize;

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 201 with the new contact's id, or the form's 303 to `/thanks`.
    Acked(Option<String>),
    /// Any other complete answer: must not be stored (and the crash test expects none).
    Refused(u16),
    /// The connection was refused: the request never reached a server.
    NotSent,
    /// Sent, but no complete answer: may or may not be stored, and if stored, whole.
    InDoubt(String),
}

impl Outcome {
    /// Acknowledged writes must be stored; writes in doubt may be; others must not.
    pub fn may_be_stored(&self) -> bool {
        matches!(self, Outcome::Acked(_) | Outcome::InDoubt(_))
    }
}

/// A contact as sent to `POST /api/contacts`, and as it must read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ContactData {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub company: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub favorite: bool,
}

#[derive(Clone, Debug)]
pub struct ContactAttempt {
    pub sent: ContactData,
    pub outcome: Outcome,
}

/// A public-form submission (its phone is always `net::FORM_PHONE`).
#[derive(Clone, Debug)]
pub struct FormAttempt {
    pub name: String,
    pub email: String,
    pub message: String,
    pub outcome: Outcome,
}

impl Outcome {
    /// What a client error says about a request: never sent when the connection was
    /// refused; otherwise it may have reached the server.
    pub fn of_error(e: &reqwest::Error) -> Outcome {
        if e.is_connect() {
            Outcome::NotSent
        } else {
            Outcome::InDoubt(crate::load::causes(e))
        }
    }
}

/// One line of the summary: attempts by outcome.
pub fn print_tally(what: &str, outcomes: &[&Outcome], in_doubt_stored: usize) {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let acked = count(|o| matches!(o, Outcome::Acked(_)));
    let refused = count(|o| matches!(o, Outcome::Refused(_)));
    let not_sent = count(|o| matches!(o, Outcome::NotSent));
    let in_doubt = count(|o| matches!(o, Outcome::InDoubt(_)));
    println!(
        "{what:<26} {} attempts: {acked} acknowledged (all present), {in_doubt} in doubt \
         ({in_doubt_stored} stored whole, {} absent), {not_sent} not sent, {refused} refused (absent)",
        outcomes.len(),
        in_doubt - in_doubt_stored
    );
}

//! What the phone check of the public form found out about a number; kept with the message.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// NumVerify confirmed the number.
    Online,
    /// Only the offline check ran (no key, or NumVerify unavailable).
    Offline,
}

impl Verification {
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Online => "online",
            Verification::Offline => "offline",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneInfo {
    pub verification: Verification,
    pub line_type: Option<String>,
    pub carrier: Option<String>,
    pub country: Option<String>,
}

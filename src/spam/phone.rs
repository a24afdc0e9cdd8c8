//! The phone check of the public form: the `phonenumber` crate first (offline, instant), then
//! NumVerify when a key is configured. Whatever goes wrong with NumVerify (no key, timeout,
//! 5xx, an error body, quota) the offline verdict stands and the submission is marked
//! "offline". The access key is never logged: reqwest errors are logged without their URL.

use std::time::Duration;

use phonenumber::{Mode, country};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

const IMPOSSIBLE: &str =
    "This phone number does not exist. Check it, with the country code if abroad.";

/// How long a visitor may wait for NumVerify.
pub const TIMEOUT: Duration = Duration::from_secs(3);

pub use crate::domain::phone::{PhoneInfo, Verification};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accepted(PhoneInfo),
    Refused(&'static str),
}

/// One shared client with a short timeout, and the settings it needs.
#[derive(Clone)]
pub struct PhoneChecker {
    client: reqwest::Client,
    url: String,
    key: Option<SecretString>,
    default_country: country::Id,
}

/// NumVerify's answer; on failure it sends `{"success": false, "error": {...}}`.
#[derive(Deserialize)]
struct NumVerifyAnswer {
    valid: Option<bool>,
    error: Option<serde_json::Value>,
    line_type: Option<String>,
    carrier: Option<String>,
    country_code: Option<String>,
}

impl PhoneChecker {
    pub fn new(
        url: &str,
        key: Option<SecretString>,
        default_country: &str,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent("contact-vault")
            .build()?;
        let default_country = default_country.parse::<country::Id>().map_err(|_| {
            anyhow::anyhow!("DEFAULT_COUNTRY `{default_country}` is not a known country code")
        })?;
        Ok(PhoneChecker {
            client,
            url: url.to_string(),
            key: key.filter(|k| !k.expose_secret().is_empty()),
            default_country,
        })
    }

    /// The number in E.164 if it is possible for its country, per the offline rules.
    pub fn offline(&self, phone: &str) -> Option<(String, Option<String>)> {
        let parsed = phonenumber::parse(Some(self.default_country), phone).ok()?;
        if !phonenumber::is_valid(&parsed) {
            return None;
        }
        let country = parsed.country().id().map(|id| id.as_ref().to_string());
        Some((parsed.format().mode(Mode::E164).to_string(), country))
    }

    /// The offline check alone: instant, no network.
    pub fn check_offline(&self, phone: &str) -> Result<(), &'static str> {
        self.offline(phone).map(|_| ()).ok_or(IMPOSSIBLE)
    }

    pub async fn check(&self, phone: &str) -> Verdict {
        let Some((e164, offline_country)) = self.offline(phone) else {
            return Verdict::Refused(IMPOSSIBLE);
        };
        let offline = PhoneInfo {
            verification: Verification::Offline,
            line_type: None,
            carrier: None,
            country: offline_country,
        };
        let Some(key) = &self.key else {
            return Verdict::Accepted(offline);
        };
        match self.ask_numverify(key, &e164).await {
            Ok(answer) if answer.error.is_some() => {
                tracing::warn!("NumVerify answered with an error; using the offline check");
                Verdict::Accepted(offline)
            }
            Ok(NumVerifyAnswer {
                valid: Some(false), ..
            }) => Verdict::Refused("This phone number is not valid."),
            Ok(NumVerifyAnswer {
                valid: Some(true),
                line_type,
                carrier,
                country_code,
                ..
            }) => Verdict::Accepted(PhoneInfo {
                verification: Verification::Online,
                line_type: line_type.filter(|s| !s.is_empty()),
                carrier: carrier.filter(|s| !s.is_empty()),
                country: country_code.filter(|s| !s.is_empty()).or(offline.country),
            }),
            Ok(_) => {
                tracing::warn!("NumVerify gave no verdict; using the offline check");
                Verdict::Accepted(offline)
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "NumVerify unavailable; using the offline check");
                Verdict::Accepted(offline)
            }
        }
    }

    async fn ask_numverify(
        &self,
        key: &SecretString,
        e164: &str,
    ) -> Result<NumVerifyAnswer, reqwest::Error> {
        let number = e164.trim_start_matches('+');
        self.client
            .get(&self.url)
            .query(&[("access_key", key.expose_secret()), ("number", number)])
            .send()
            .await?
            .error_for_status()?
            .json::<NumVerifyAnswer>()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offline_rules_use_the_default_country() {
        let us = PhoneChecker::new("http://127.0.0.1:9", None, "US").unwrap();
        assert_eq!(
            us.offline("(202) 555-0143").map(|p| p.0),
            Some("+12025550143".to_string())
        );
        assert_eq!(
            us.offline("+44 20 7946 0958").map(|p| p.1),
            Some(Some("GB".to_string()))
        );
        assert!(us.offline("123").is_none());
        assert!(us.offline("not a number").is_none());
        let de = PhoneChecker::new("http://127.0.0.1:9", None, "DE").unwrap();
        assert!(de.offline("030 901820").is_some());
        assert!(PhoneChecker::new("http://x", None, "XX").is_err());
    }
}

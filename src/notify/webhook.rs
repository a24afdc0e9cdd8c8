//! A webhook: `POST` of a small JSON body (the [`Note`], with `text` for chat webhooks),
//! signed so the receiver can tell it came from this server and was not replayed:
//! `X-Contact-Vault-Timestamp: <unix seconds>` and
//! `X-Contact-Vault-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under
//! NOTIFY_WEBHOOK_SECRET>`.

use std::time::Duration;

use anyhow::{Context, bail};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::Note;
use crate::config::Settings;

pub const SIGNATURE_HEADER: &str = "X-Contact-Vault-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Contact-Vault-Timestamp";

pub struct Webhook {
    url: String,
    secret: SecretString,
    client: reqwest::Client,
}

/// The signature of `body` sent at `timestamp`, as the header carries it.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> Result<String, String> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .map_err(|_| "the webhook secret cannot key an HMAC".to_string())?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Ok(format!(
        "sha256={}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

impl Webhook {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Webhook>> {
        let Some(url) = settings.notify_webhook_url.clone() else {
            return Ok(None);
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            bail!("NOTIFY_WEBHOOK_URL must start with https:// (or http://)");
        }
        let Some(secret) = settings.notify_webhook_secret.clone() else {
            bail!("NOTIFY_WEBHOOK_URL needs NOTIFY_WEBHOOK_SECRET (or _FILE) to sign its requests");
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("the webhook's HTTP client")?;
        Ok(Some(Webhook {
            url,
            secret,
            client,
        }))
    }

    pub async fn send(&self, note: &Note) -> Result<(), String> {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            event: &'static str,
            text: String,
            #[serde(flatten)]
            note: &'a Note,
        }
        let body = serde_json::to_vec(&Body {
            event: if note.test { "test" } else { "messages" },
            text: format!("{}\n{}", note.subject(), note.text()),
            note,
        })
        .map_err(|e| e.to_string())?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signed = signature(self.secret.expose_secret().as_bytes(), timestamp, &body)?;
        let resp = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await
            // Without the URL: it may carry a token of the receiver's.
            .map_err(|e| format!("webhook: {}", e.without_url()))?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {}", resp.status().as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_needs_a_secret_and_an_http_url() {
        let mut s = Settings::with_data_dir("/nonexistent".into());
        assert!(
            Webhook::from_settings(&s).unwrap().is_none(),
            "off unless set"
        );
        s.notify_webhook_url = Some("https://hooks.example.org/x".into());
        let unsigned = Webhook::from_settings(&s).err().expect("refused");
        assert!(unsigned.to_string().contains("NOTIFY_WEBHOOK_SECRET"));
        s.notify_webhook_secret = Some(SecretString::from("s3cret"));
        assert!(Webhook::from_settings(&s).unwrap().is_some());
        s.notify_webhook_url = Some("ftp://hooks.example.org/x".into());
        assert!(Webhook::from_settings(&s).is_err());
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // RFC 4231 test case 2's key and message, split as "timestamp.body" would be.
        let sig = signature(b"Jefe", 0, b"").unwrap();
        assert_eq!(sig.len(), "sha256=".len() + 64);
        assert_ne!(sig, signature(b"Jefe", 1, b"").unwrap());
        assert_ne!(sig, signature(b"Jefe", 0, b"x").unwrap());
    }
}

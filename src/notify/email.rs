//! E-mail over SMTP with lettre: `SMTP_URL` in lettre's URL form
//! (`smtp://user:pass@host:587?tls=required` for STARTTLS, `smtps://…:465` for TLS),
//! from `NOTIFY_EMAIL_FROM` to every address of `NOTIFY_EMAIL_TO`.

use anyhow::{Context, bail};
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use super::Note;
use crate::config::Settings;

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

impl Email {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Option<Email>> {
        let Some(url) = &settings.smtp_url else {
            return Ok(None);
        };
        // The URL holds the password: no error here repeats it.
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("SMTP_URL is not a valid smtp:// or smtps:// URL"))?
            .timeout(Some(std::time::Duration::from_secs(15)))
            .build();
        let Some(from) = &settings.notify_email_from else {
            bail!("SMTP_URL needs NOTIFY_EMAIL_FROM (the sender's address)");
        };
        let from: Mailbox = from
            .parse()
            .with_context(|| format!("NOTIFY_EMAIL_FROM is not an e-mail address: {from}"))?;
        let to = settings
            .notify_email_to
            .iter()
            .map(|a| {
                a.parse::<Mailbox>()
                    .with_context(|| format!("NOTIFY_EMAIL_TO holds a bad address: {a}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if to.is_empty() {
            bail!("SMTP_URL needs NOTIFY_EMAIL_TO (comma-separated addresses of the admins)");
        }
        Ok(Some(Email {
            transport,
            from,
            to,
        }))
    }

    pub async fn send(&self, note: &Note) -> Result<(), String> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(note.subject())
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            message = message.to(to.clone());
        }
        let message = message.body(note.text()).map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("smtp: {e}"))
    }
}

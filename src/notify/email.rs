//! E-mail over SMTP with lettre: `SMTP_URL` in lettre's URL form
//! (`smtp://user:pass@host:587?tls=required` for STARTTLS, `smtps://…:465` for TLS),
//! from `NOTIFY_EMAIL_FROM` to every address of `NOTIFY_EMAIL_TO` and to the admins who asked
//! for mail on their account page. The admins' own addresses go in `Bcc` (lettre keeps them
//! in the envelope and out of the headers), so no admin learns another's address.

use anyhow::{Context, bail};
use std::path::Path;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
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
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("SMTP_URL is not a valid smtp:// or smtps:// URL"))?
            .timeout(Some(std::time::Duration::from_secs(15)));
        if let Some(ca_file) = &settings.smtp_ca_file {
            builder = builder.tls(tls_trusting(url.expose_secret(), ca_file)?);
        }
        let transport = builder.build();
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
            tracing::info!(
                "NOTIFY_EMAIL_TO is empty: notification mail goes only to the admins who give their address on the account page"
            );
        }
        Ok(Some(Email {
            transport,
            from,
            to,
        }))
    }

    /// Sends `note` to `NOTIFY_EMAIL_TO` and, in `Bcc`, to `admins` (the addresses admins
    /// gave, each checked when it was saved; one also in `NOTIFY_EMAIL_TO` is not repeated).
    pub async fn send(&self, note: &Note, admins: &[String]) -> Result<(), String> {
        let mut message = Message::builder()
            .from(self.from.clone())
            .subject(note.subject())
            .header(ContentType::TEXT_PLAIN);
        let mut seen: Vec<String> = Vec::new();
        for to in &self.to {
            seen.push(to.email.to_string().to_lowercase());
            message = message.to(to.clone());
        }
        for admin in admins {
            if seen.contains(&admin.to_lowercase()) {
                continue;
            }
            // A stored address that no longer parses (it was checked when saved) is skipped,
            // and named nowhere.
            let Ok(mailbox) = admin.parse::<Mailbox>() else {
                continue;
            };
            seen.push(admin.to_lowercase());
            message = message.bcc(mailbox);
        }
        if seen.is_empty() {
            return Err(
                "no recipient: NOTIFY_EMAIL_TO is empty and no admin asked for mail on their account page"
                    .into(),
            );
        }
        let message = message.body(note.text()).map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("smtp: {e}"))
    }
}

/// The TLS mode `SMTP_URL` asks for, trusting the certificates of `SMTP_CA_FILE` as well as
/// the system's. A URL without TLS is refused: the file would silently do nothing.
fn tls_trusting(smtp_url: &str, ca_file: &Path) -> anyhow::Result<Tls> {
    let pem = std::fs::read(ca_file)
        .with_context(|| format!("SMTP_CA_FILE: cannot read {}", ca_file.display()))?;
    if !pem.windows(17).any(|w| w == b"BEGIN CERTIFICATE") {
        bail!(
            "SMTP_CA_FILE holds no PEM certificate: {}",
            ca_file.display()
        );
    }
    let certificate = Certificate::from_pem(&pem).map_err(|_| {
        anyhow::anyhow!(
            "SMTP_CA_FILE holds a bad certificate: {}",
            ca_file.display()
        )
    })?;
    // The URL holds the password: no error here repeats it.
    let url =
        url::Url::parse(smtp_url).map_err(|_| anyhow::anyhow!("SMTP_URL is not a valid URL"))?;
    let host = url
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("SMTP_URL names no host"))?;
    let parameters = TlsParameters::builder(host.to_string())
        .add_root_certificate(certificate)
        .build()
        .map_err(|e| anyhow::anyhow!("SMTP_CA_FILE: {e}"))?;
    let asked = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    Ok(match (url.scheme(), asked.as_deref()) {
        ("smtps", _) => Tls::Wrapper(parameters),
        ("smtp", Some("required")) => Tls::Required(parameters),
        ("smtp", Some("opportunistic")) => Tls::Opportunistic(parameters),
        _ => bail!(
            "SMTP_CA_FILE is set but SMTP_URL asks for no TLS: use smtps://… or smtp://…?tls=required"
        ),
    })
}

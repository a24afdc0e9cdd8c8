//! Telling the admins of new messages (issue 17): the senders behind the core's outbox
//! (`vault_core::notify`). A background task takes the due notifications every
//! [`POLL`], delivers each by e-mail (`email.rs`, lettre over SMTP) or webhook (`webhook.rs`,
//! an HMAC-signed `POST`), and records the outcome; failures are retried with a backoff.
//! A notification names no visitor and quotes nothing they wrote: how many messages arrived,
//! how many wait, and the link to the inbox.

pub mod email;
pub mod webhook;

use std::time::Duration;

use actix_web::web;
use vault_core::Vault;
use vault_core::notify::{self, Channel, Plan};

use crate::config::Settings;
use crate::state::AppState;

/// How often the outbox is looked at.
pub const POLL: Duration = Duration::from_secs(1);

/// What a notification says.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Note {
    /// Messages arrived that this notification tells of.
    pub new: i64,
    /// Messages in the inbox nobody has handled yet.
    pub waiting: i64,
    /// The admins' inbox.
    pub url: String,
    /// True for `contact-vault notify test`.
    pub test: bool,
}

impl Note {
    pub fn subject(&self) -> String {
        if self.test {
            return "Contact Vault: test notification".into();
        }
        match self.new {
            1 => "Contact Vault: a new message".into(),
            n => format!("Contact Vault: {n} new messages"),
        }
    }

    /// The text of the mail, and the `text` of the webhook's body (what chat webhooks show).
    pub fn text(&self) -> String {
        if self.test {
            return format!(
                "This is a test of Contact Vault's notifications; they work.\n\
                 The inbox: {}\n",
                self.url
            );
        }
        let arrived = match self.new {
            1 => "A new message arrived".to_string(),
            n => format!("{n} new messages arrived"),
        };
        format!(
            "{arrived} through the contact form. {} waiting in the inbox.\n\
             Read them there (sign-in needed): {}\n",
            match self.waiting {
                1 => "1 is".to_string(),
                n => format!("{n} are"),
            },
            self.url
        )
    }
}

/// The configured channels, ready to send.
pub struct Senders {
    pub email: Option<email::Email>,
    pub webhook: Option<webhook::Webhook>,
    inbox_url: String,
}

impl Senders {
    /// From the settings; an incomplete channel is an error at start, not at the first message.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Senders> {
        let base = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", settings.bind));
        Ok(Senders {
            email: email::Email::from_settings(settings)?,
            webhook: webhook::Webhook::from_settings(settings)?,
            inbox_url: format!("{base}/admin/submissions"),
        })
    }

    /// The outbox's plan for these channels.
    pub fn plan(&self, settings: &Settings) -> Plan {
        let mut channels = Vec::new();
        if self.email.is_some() {
            channels.push(Channel::Email);
        }
        if self.webhook.is_some() {
            channels.push(Channel::Webhook);
        }
        Plan {
            channels,
            digest_seconds: settings.notify_digest_seconds,
            retry_seconds: settings.notify_retry_seconds,
            ..Plan::default()
        }
    }

    pub fn note(&self, new: i64, waiting: i64, test: bool) -> Note {
        Note {
            new,
            waiting,
            url: self.inbox_url.clone(),
            test,
        }
    }

    /// Delivers `note` over `channel`. The error holds no personal data (a status code, an
    /// SMTP reply, a connection error).
    pub async fn send(&self, vault: &Vault, channel: Channel, note: &Note) -> Result<(), String> {
        match channel {
            Channel::Email => match &self.email {
                Some(e) => {
                    let admins = vault_core::accounts::mail_recipients(vault)
                        .await
                        .map_err(|_| "the admins' addresses could not be read".to_string())?;
                    e.send(note, &admins).await
                }
                None => Err("e-mail is not configured".into()),
            },
            Channel::Webhook => match &self.webhook {
                Some(w) => w.send(note).await,
                None => Err("the webhook is not configured".into()),
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.webhook.is_none()
    }
}

/// Delivers what is due, then waits [`POLL`]; forever. Resumes whatever an earlier run left.
pub fn spawn(state: web::Data<AppState>, senders: std::sync::Arc<Senders>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = deliver_due(&state, &senders).await {
                tracing::warn!(error = %e, "notification outbox");
            }
        }
    });
}

async fn deliver_due(state: &AppState, senders: &Senders) -> anyhow::Result<()> {
    for due in notify::take_due(state).await? {
        let note = senders.note(due.messages, due.waiting, false);
        match senders.send(state, due.channel, &note).await {
            Ok(()) => {
                notify::delivered(state, &due).await?;
                tracing::info!(
                    channel = due.channel.as_str(),
                    id = due.id,
                    new = due.messages,
                    "notification sent"
                );
            }
            Err(error) => {
                let again = notify::failed(state, &state.notify, &due, &error).await?;
                tracing::warn!(channel = due.channel.as_str(), id = due.id, attempt = due.attempts + 1, retry = again, %error, "notification not delivered");
            }
        }
    }
    Ok(())
}

//! Telling the admins that messages arrived (issue 17): the outbox. A submission adds itself
//! to each configured channel's pending notification in its own transaction; a sender (the
//! binary's `notify` worker) takes the due ones, delivers them and records how it went. What a
//! notification says is only how many messages arrived and are waiting, never who wrote them
//! or what: the contents stay in the encrypted inbox.
//!
//! Delivery is at least once: an instance killed after delivering but before recording it
//! sends that notification again once its lease has run out.

use crate::error::Error;
use crate::store::Conn;
use crate::store::notify::{self as rows, OutboxRow};
use crate::vault::Vault;

/// Where notifications go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    fn parse(s: &str) -> Option<Channel> {
        match s {
            "email" => Some(Channel::Email),
            "webhook" => Some(Channel::Webhook),
            _ => None,
        }
    }
}

/// Which channels are on, and how they pace themselves.
#[derive(Clone, Debug)]
pub struct Plan {
    pub channels: Vec<Channel>,
    /// A channel sends at most one notification in this many seconds; what arrives meanwhile
    /// goes into the next one (the digest).
    pub digest_seconds: i64,
    /// The wait after the first failed attempt; it doubles with each further one, up to an hour.
    pub retry_seconds: i64,
    /// Attempts before a notification is marked failed.
    pub max_attempts: i64,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            channels: Vec::new(),
            digest_seconds: 60,
            retry_seconds: 30,
            max_attempts: 10,
        }
    }
}

/// How long the record of a sent or failed notification is kept (for the admins' page).
pub const KEEP_DAYS: i64 = 30;

/// How long a sender holds a notification it took before another may take it.
pub const LEASE_SECONDS: i64 = 120;

/// Adds one arrived message to every channel of the plan, in the submission's transaction.
pub(crate) async fn queue_in(db: &mut Conn, plan: &Plan, now: i64) -> Result<(), Error> {
    for channel in &plan.channels {
        let channel = channel.as_str();
        if rows::gather(db, channel).await? {
            continue;
        }
        let due = match rows::last_sent(db, channel).await? {
            Some(sent) => now.max(sent + plan.digest_seconds),
            None => now,
        };
        rows::insert(db, channel, now, due).await?;
    }
    Ok(())
}

/// A notification taken for delivery.
#[derive(Clone, Debug)]
pub struct Due {
    pub id: i64,
    pub channel: Channel,
    /// Messages arrived that it tells of.
    pub messages: i64,
    /// Messages waiting in the inbox (status new) as it is sent.
    pub waiting: i64,
    pub attempts: i64,
}

/// Takes the notifications due by now (for [`LEASE_SECONDS`]; another instance skips them).
pub async fn take_due(vault: &Vault) -> Result<Vec<Due>, Error> {
    let now = vault.clock.now();
    let found = rows::due(&vault.db, now, 20).await?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let waiting = rows::waiting(&vault.db).await?;
    let mut taken = Vec::new();
    for row in found {
        let Some(channel) = Channel::parse(&row.channel) else {
            continue;
        };
        if rows::claim(&vault.db, &row, now + LEASE_SECONDS).await? {
            taken.push(Due {
                id: row.id,
                channel,
                messages: row.messages,
                waiting,
                attempts: row.attempts,
            });
        }
    }
    Ok(taken)
}

/// Records that `due` went out. Messages gathered into it while it was being sent were not
/// in it: they stay pending, for the next notification after the digest window.
pub async fn delivered(vault: &Vault, due: &Due) -> Result<(), Error> {
    let now = vault.clock.now();
    let mut tx = crate::store::begin_write(&vault.db).await?;
    if !rows::mark_sent(&mut tx, due.id, due.messages, now).await? {
        let next = now + vault.notify.digest_seconds;
        rows::split_sent(&mut tx, due.id, due.messages, now, next).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records a failed attempt; `error` must hold no personal data (a status, an SMTP reply).
/// Returns whether it will be tried again.
pub async fn failed(vault: &Vault, plan: &Plan, due: &Due, error: &str) -> Result<bool, Error> {
    let attempts = due.attempts + 1;
    let give_up = attempts >= plan.max_attempts;
    let wait = plan
        .retry_seconds
        .max(1)
        .saturating_mul(1 << (attempts - 1).clamp(0, 20))
        .min(3600);
    let error: String = error.chars().take(300).collect();
    rows::mark_failed_attempt(&vault.db, due.id, &error, vault.clock.now() + wait, give_up).await?;
    Ok(!give_up)
}

/// The newest notifications and how they went, for admins.
pub async fn recent(vault: &Vault, limit: i64) -> Result<Vec<OutboxRow>, Error> {
    Ok(rows::recent(&vault.db, limit).await?)
}

/// Messages waiting in the inbox (status new).
pub async fn waiting(vault: &Vault) -> Result<i64, Error> {
    Ok(rows::waiting(&vault.db).await?)
}

/// Opens a write transaction of its own to queue: for tests of the outbox alone.
#[cfg(test)]
pub(crate) async fn queue(vault: &Vault, now: i64) -> Result<(), Error> {
    let mut tx = crate::store::begin_write(&vault.db).await?;
    queue_in(&mut tx, &vault.notify, now).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[tokio::test]
    async fn a_burst_gathers_into_one_notification_and_the_next_waits_for_the_digest() {
        let mut v = testing::vault().await;
        v.vault.notify = Plan {
            channels: vec![Channel::Webhook, Channel::Email],
            digest_seconds: 600,
            ..Plan::default()
        };
        let now = v.clock.now();
        queue(&v, now).await.unwrap();
        queue(&v, now).await.unwrap();
        let due = take_due(&v).await.unwrap();
        assert_eq!(due.len(), 2, "one a channel");
        assert!(due.iter().all(|d| d.messages == 2 && d.attempts == 0));
        // Taken: another sender finds nothing until the lease runs out.
        assert!(take_due(&v).await.unwrap().is_empty());
        for d in &due {
            delivered(&v, d).await.unwrap();
        }
        // The next message waits out the digest window after the last sending.
        queue(&v, v.clock.now()).await.unwrap();
        assert!(take_due(&v).await.unwrap().is_empty());
        v.clock.advance(600);
        let next = take_due(&v).await.unwrap();
        assert_eq!(next.len(), 2);
        assert!(next.iter().all(|d| d.messages == 1));
    }

    #[tokio::test]
    async fn a_message_that_arrives_while_its_notification_is_being_sent_is_told_next() {
        let mut v = testing::vault().await;
        v.vault.notify = Plan {
            channels: vec![Channel::Webhook],
            digest_seconds: 600,
            ..Plan::default()
        };
        queue(&v, v.clock.now()).await.unwrap();
        let taken = take_due(&v).await.unwrap().pop().expect("due");
        assert_eq!(taken.messages, 1);
        // Gathered into the notification on its way out.
        queue(&v, v.clock.now()).await.unwrap();
        delivered(&v, &taken).await.unwrap();
        let rows = recent(&v, 10).await.unwrap();
        let sent: Vec<_> = rows.iter().filter(|r| r.status == "sent").collect();
        let pending: Vec<_> = rows.iter().filter(|r| r.status == "pending").collect();
        assert_eq!((sent.len(), sent[0].messages), (1, 1), "the one it told of");
        assert_eq!(
            (pending.len(), pending[0].messages),
            (1, 1),
            "the one it did not"
        );
        assert!(
            take_due(&v).await.unwrap().is_empty(),
            "after the digest window"
        );
        v.clock.advance(600);
        let next = take_due(&v).await.unwrap().pop().expect("due then");
        assert_eq!((next.messages, next.attempts), (1, 0));
    }

    #[tokio::test]
    async fn a_notification_whose_sender_died_is_taken_again_when_its_lease_runs_out() {
        let mut v = testing::vault().await;
        v.vault.notify = Plan {
            channels: vec![Channel::Webhook],
            ..Plan::default()
        };
        queue(&v, v.clock.now()).await.unwrap();
        // Taken by a sender that is then killed: it records neither success nor failure.
        let lost = take_due(&v).await.unwrap().pop().expect("due");
        v.clock.advance(LEASE_SECONDS - 1);
        assert!(take_due(&v).await.unwrap().is_empty(), "still leased");
        v.clock.advance(1);
        let again = take_due(&v).await.unwrap().pop().expect("due again");
        assert_eq!((again.id, again.messages), (lost.id, 1));
        delivered(&v, &again).await.unwrap();
        let rows = recent(&v, 10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "sent");
    }

    #[tokio::test]
    async fn sent_notifications_are_forgotten_after_a_month_and_pending_ones_never() {
        let mut v = testing::vault().await;
        v.vault.notify = Plan {
            channels: vec![Channel::Webhook],
            digest_seconds: 0,
            ..Plan::default()
        };
        queue(&v, v.clock.now()).await.unwrap();
        let sent = take_due(&v).await.unwrap().pop().expect("due");
        delivered(&v, &sent).await.unwrap();
        v.clock.advance(KEEP_DAYS * 86_400 - 10);
        queue(&v, v.clock.now()).await.unwrap(); // pending, never taken
        crate::ops::purge_expired(&v, v.clock.now()).await;
        assert_eq!(
            recent(&v, 10).await.unwrap().len(),
            2,
            "not a month old yet"
        );
        v.clock.advance(20);
        let purged = crate::ops::purge_expired(&v, v.clock.now()).await;
        assert!(purged.failures.is_empty());
        let left = recent(&v, 10).await.unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].status, "pending");
        v.clock.advance(KEEP_DAYS * 86_400);
        crate::ops::purge_expired(&v, v.clock.now()).await;
        assert_eq!(recent(&v, 10).await.unwrap().len(), 1, "pending is kept");
    }

    #[tokio::test]
    async fn failures_back_off_and_give_up_after_the_last_attempt() {
        let mut v = testing::vault().await;
        v.vault.notify = Plan {
            channels: vec![Channel::Webhook],
            retry_seconds: 30,
            max_attempts: 3,
            ..Plan::default()
        };
        queue(&v, v.clock.now()).await.unwrap();
        let plan = v.notify.clone();
        for attempt in 1..=3i64 {
            let d = take_due(&v).await.unwrap().pop().expect("due");
            assert_eq!(d.attempts, attempt - 1);
            let before = v.clock.now();
            let again = failed(&v, &plan, &d, "webhook answered 503").await.unwrap();
            assert_eq!(again, attempt < 3);
            if again {
                let row = recent(&v, 1).await.unwrap().remove(0);
                assert_eq!(row.due - before, 30 << (attempt - 1), "30 s, then 60 s");
                assert!(
                    take_due(&v).await.unwrap().is_empty(),
                    "not before its time"
                );
                v.clock.advance(row.due - before);
            }
        }
        let row = recent(&v, 1).await.unwrap().remove(0);
        assert_eq!((row.status.as_str(), row.attempts), ("failed", 3));
        assert_eq!(row.last_error.as_deref(), Some("webhook answered 503"));
        assert!(take_due(&v).await.unwrap().is_empty());
    }
}

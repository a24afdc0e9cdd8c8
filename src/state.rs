//! What every handler can reach: the core's [`Vault`] (through `Deref`), the settings, the
//! phone check and the per-user limits.

use std::ops::Deref;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::keys::{self, KeyOrigin};
use crate::ratelimit::UserLimits;
use crate::ratelimit::shared::Redis;
use crate::spam::phone::PhoneChecker;
use vault_core::Vault;

pub struct AppState {
    pub vault: Vault,
    pub settings: Settings,
    /// The public form's phone check (one shared HTTP client).
    pub phone: PhoneChecker,
    /// Per-user limits of API calls and CSV imports.
    pub limits: UserLimits,
    /// Where every limit is counted when `REDIS_URL` is set (the per-address limits of
    /// `startup.rs` too), so that all instances share them.
    pub redis: Option<std::sync::Arc<Redis>>,
    /// The channels that tell admins of new messages (`notify/`).
    pub senders: std::sync::Arc<crate::notify::Senders>,
}

impl Deref for AppState {
    type Target = Vault;

    fn deref(&self) -> &Vault {
        &self.vault
    }
}

impl AppState {
    /// Keys and database for `settings`, as the server and the CLI both need them.
    /// Also returns where the keys came from, for one log line.
    pub async fn open(settings: Settings, clock: Clock) -> anyhow::Result<(AppState, KeyOrigin)> {
        crate::ops::create_data_dir(&settings.data_dir)?;
        let (keys, origin) = keys::load_or_generate(&settings.keys, &settings.data_dir)?;
        let senders = crate::notify::Senders::from_settings(&settings)?;
        let redis = match &settings.redis_url {
            Some(url) => Some(std::sync::Arc::new(Redis::new(url, &keys.secret_key)?)),
            None => None,
        };
        let mut vault = Vault::open(
            &settings.database_url,
            keys,
            clock,
            settings.token_ttl_seconds,
            settings.directory_cache_mb.saturating_mul(1024 * 1024),
        )
        .await?;
        let phone = PhoneChecker::new(
            &settings.numverify_url,
            settings.numverify_api_key.clone(),
            &settings.default_country,
        )?;
        let limits = UserLimits::new(
            settings.api_rate_per_second,
            settings.import_burst,
            redis.clone(),
        )?;
        vault.notify = senders.plan(&settings);
        let state = AppState {
            vault,
            settings,
            phone,
            limits,
            redis,
            senders: std::sync::Arc::new(senders),
        };
        Ok((state, origin))
    }

    pub fn idle_seconds(&self) -> i64 {
        self.settings.session_idle_minutes * 60
    }
}

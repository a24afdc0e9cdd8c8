//! What every handler can reach: the database, keys, settings and the clock.

use std::sync::Mutex;

use sqlx::SqlitePool;

use crate::auth::lockout::Turns;
use crate::book::DirectoryCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::keys::{self, KeyOrigin, Keys};
use crate::crypto::token::sha256_hex;
use crate::ratelimit::UserLimits;
use crate::spam::phone::PhoneChecker;
use crate::store;

/// Memory the decrypted directories may use in total (about 250 bytes a contact).
pub const DIRECTORY_BUDGET_BYTES: usize = 96 * 1024 * 1024;

pub struct AppState {
    pub db: SqlitePool,
    pub keys: Keys,
    pub settings: Settings,
    pub clock: Clock,
    /// The public form's phone check (one shared HTTP client).
    pub phone: PhoneChecker,
    /// Decrypted search directories of recently used contact books.
    pub directories: DirectoryCache,
    /// SHA-256 of the one-time first-run setup token, while no admin exists.
    pub setup_token_hash: Mutex<Option<String>>,
    /// Password attempts for one account take turns (see `auth::lockout`).
    pub sign_in_turns: Turns,
    /// Per-user limits of API calls and CSV imports.
    pub limits: UserLimits,
}

impl AppState {
    /// Keys and database for `settings`, as the server and the CLI both need them.
    /// Also returns where the keys came from, for one log line.
    pub async fn open(settings: Settings, clock: Clock) -> anyhow::Result<(AppState, KeyOrigin)> {
        std::fs::create_dir_all(&settings.data_dir)?;
        let (keys, origin) = keys::load_or_generate(&settings.keys, &settings.data_dir)?;
        let db = store::connect(&settings.database_url).await?;
        let phone = PhoneChecker::new(
            &settings.numverify_url,
            settings.numverify_api_key.clone(),
            &settings.default_country,
        )?;
        let settings_limits = (settings.api_rate_per_second, settings.import_burst);
        let state = AppState {
            db,
            keys,
            settings,
            clock,
            phone,
            directories: DirectoryCache::new(DIRECTORY_BUDGET_BYTES),
            setup_token_hash: Mutex::new(None),
            sign_in_turns: Turns::default(),
            limits: UserLimits::new(settings_limits.0, settings_limits.1),
        };
        Ok((state, origin))
    }

    /// Is this the live setup token? Compared by digest, so timing reveals nothing useful.
    pub fn setup_token_matches(&self, token: &str) -> bool {
        let digest = sha256_hex(token);
        self.setup_token_hash
            .lock()
            .map(|guard| guard.as_deref() == Some(digest.as_str()))
            .unwrap_or(false)
    }

    /// Closes the setup link if `token` is the live one, atomically: of several requests with
    /// the token, exactly one gets `true`. Give it back with [`AppState::open_setup`] when the
    /// attempt fails before an admin exists (a form error).
    pub fn take_setup(&self, token: &str) -> bool {
        let digest = sha256_hex(token);
        self.setup_token_hash
            .lock()
            .map(|mut guard| {
                if guard.as_deref() == Some(digest.as_str()) {
                    *guard = None;
                    true
                } else {
                    false
                }
            })
            .unwrap_or(false)
    }

    /// Opens the first-run setup with this token's digest.
    pub fn open_setup(&self, token: &str) {
        if let Ok(mut guard) = self.setup_token_hash.lock() {
            *guard = Some(sha256_hex(token));
        }
    }

    pub fn idle_seconds(&self) -> i64 {
        self.settings.session_idle_minutes * 60
    }
}

//! [`Vault`]: the one handle every service takes. It owns the database (private to this
//! crate: a second backend changes `store/` and this file, nothing above), the keys, the
//! clock, the decrypted directories and the in-process sign-in turns.

use std::sync::Mutex;

use crate::accounts::lockout::Turns;
use crate::book::DirectoryCache;
use crate::clock::Clock;
use crate::crypto::keys::Keys;
use crate::crypto::token::sha256_hex;
use crate::store;

/// Memory the decrypted directories may use in total, unless `DIRECTORY_CACHE_MB` says
/// otherwise (docs/BENCHMARKS.md measures what a contact takes).
pub const DIRECTORY_BUDGET_BYTES: usize = 128 * 1024 * 1024;

pub struct Vault {
    pub(crate) db: crate::store::Db,
    pub keys: Keys,
    pub clock: Clock,
    /// Decrypted search directories of recently used contact books.
    pub directories: DirectoryCache,
    /// Which channels tell the admins of new messages (none unless the binary sets them).
    pub notify: crate::notify::Plan,
    /// Password attempts for one account take turns (see `accounts::lockout`).
    pub(crate) sign_in_turns: Turns,
    /// SHA-256 of the one-time first-run setup token, while no admin exists.
    setup_token_hash: Mutex<Option<String>>,
    /// How long an API token lives.
    pub(crate) token_ttl_seconds: i64,
}

impl Vault {
    /// Opens (creating and migrating if needed) the database at `database_url`.
    pub async fn open(
        database_url: &str,
        keys: Keys,
        clock: Clock,
        token_ttl_seconds: i64,
        directory_budget_bytes: usize,
    ) -> anyhow::Result<Vault> {
        let db = store::connect(database_url).await?;
        Ok(Vault {
            db,
            keys,
            clock,
            directories: DirectoryCache::new(directory_budget_bytes),
            notify: crate::notify::Plan::default(),
            sign_in_turns: Turns::default(),
            setup_token_hash: Mutex::new(None),
            token_ttl_seconds,
        })
    }

    /// Closes the database once the work under way is done (at shutdown).
    pub async fn close(&self) {
        self.db.close().await;
    }

    /// Can the database answer? For the health check.
    pub async fn ping(&self) -> bool {
        store::ping(&self.db).await
    }

    /// The records behind the sign-in sessions, for the session middleware.
    pub fn session_records(&self) -> crate::accounts::sessions::SessionRecords {
        crate::accounts::sessions::SessionRecords::new(self.db.clone())
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
    /// the token, exactly one gets `true`. Give it back with [`Vault::open_setup`] when the
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
}

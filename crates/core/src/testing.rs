//! What the core's own tests share: a [`Vault`] on a fresh SQLite file in a temporary folder
//! with fresh keys and a clock the test moves, and accounts made through the real services.

use tempfile::TempDir;

use crate::accounts::{self, UserRow};
use crate::audit::{self, Actor};
use crate::clock::Clock;
use crate::crypto::keys::{self, BLIND_INDEX_KEY, FERNET_KEYS, SECRET_KEY};
use crate::vault::Vault;

/// A password every rule accepts.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestVault {
    pub vault: Vault,
    _dir: TempDir,
}

impl std::ops::Deref for TestVault {
    type Target = Vault;
    fn deref(&self) -> &Vault {
        &self.vault
    }
}

pub async fn vault() -> TestVault {
    let dir = tempfile::tempdir().expect("temp dir");
    let set = keys::generate_set();
    let value = |name: &str| {
        set.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .expect("generated")
    };
    let keys = keys::parse_keys(
        (&value(FERNET_KEYS), FERNET_KEYS),
        (&value(BLIND_INDEX_KEY), BLIND_INDEX_KEY),
        (&value(SECRET_KEY), SECRET_KEY),
    )
    .expect("keys");
    let url = format!("sqlite://{}", dir.path().join("vault.db").display());
    let vault = Vault::open(
        &url,
        keys,
        Clock::default(),
        3600,
        crate::vault::DIRECTORY_BUDGET_BYTES,
    )
    .await
    .expect("vault opens");
    TestVault { vault, _dir: dir }
}

/// An account made the way the pages and the API make one, its keys opened (as a signed-in
/// request has them).
pub async fn user(vault: &Vault, name: &str, role: &str) -> UserRow {
    let by = Actor {
        user_id: None,
        username: "test",
    };
    accounts::create_user(vault, by, name, PASSWORD, role)
        .await
        .expect("user created");
    let mut row = accounts::user_by_name(vault, name)
        .await
        .expect("query")
        .expect("user exists");
    accounts::keys::unlock_with_password(&mut row, PASSWORD)
        .await
        .expect("the password opens the keys");
    row
}

/// Every audit action so far, oldest first.
pub async fn actions(vault: &Vault) -> Vec<String> {
    audit::all(vault)
        .await
        .expect("audit rows")
        .into_iter()
        .map(|row| row.action)
        .collect()
}

//! actix-session's `SessionStore` over the `sessions` table. The cookie carries only a random
//! key; the database keeps its SHA-256, the state, and two deadlines: the idle one (moved on
//! every request) and the absolute one (fixed at creation). Deleting rows revokes sessions.

use std::collections::HashMap;

use crate::clock::Clock;
use crate::crypto::token::{new_token, sha256_hex};
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use vault_core::accounts::sessions::{Labels, SessionRecords};

/// The key actix-identity stores the signed-in user id under.
pub const IDENTITY_KEY: &str = "actix_identity.user_id";

#[derive(Clone)]
pub struct SqliteSessionStore {
    db: SessionRecords,
    clock: Clock,
    absolute_seconds: i64,
}

impl SqliteSessionStore {
    pub fn new(db: SessionRecords, clock: Clock, absolute_seconds: i64) -> Self {
        SqliteSessionStore {
            db,
            clock,
            absolute_seconds,
        }
    }
}

/// The digest under which a session key is stored.
pub fn key_hash(key: &str) -> String {
    sha256_hex(key)
}

/// The key of a signed-in session's public label (see `sessions.sid`).
pub const SID_KEY: &str = "sid";
/// The key of the browser summary shown beside it.
pub const AGENT_KEY: &str = "ua";

/// A string value of the session state (actix-session keeps each as JSON).
fn text(state: &HashMap<String, String>, key: &str) -> Option<String> {
    serde_json::from_str::<String>(state.get(key)?).ok()
}

/// The signed-in user recorded in a session state, if any.
fn user_id(state: &HashMap<String, String>) -> Option<i64> {
    text(state, IDENTITY_KEY)?.parse().ok()
}

/// What the sessions table keeps beside the state, to list and revoke a user's sessions.
fn columns(state: &HashMap<String, String>) -> Labels {
    Labels {
        user_id: user_id(state),
        sid: text(state, SID_KEY),
        user_agent: text(state, AGENT_KEY),
    }
}

impl SessionStore for SqliteSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let hash = key_hash(session_key.as_ref());
        let Some(row) = self
            .db
            .load(&hash)
            .await
            .map_err(|e| LoadError::Other(e.into()))?
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        if row.expires <= now || row.created + self.absolute_seconds <= now {
            self.db
                .delete(&hash)
                .await
                .map_err(|e| LoadError::Other(e.into()))?;
            return Ok(None);
        }
        serde_json::from_str(&row.state)
            .map(Some)
            .map_err(|e| LoadError::Deserialization(e.into()))
    }

    async fn save(
        &self,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, SaveError> {
        let json = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let key = new_token();
        let now = self.clock.now();
        self.db
            .insert(
                &key_hash(&key),
                &columns(&state),
                &json,
                now,
                now + ttl.whole_seconds(),
            )
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        SessionKey::try_from(key).map_err(|e| SaveError::Other(e.into()))
    }

    async fn update(
        &self,
        session_key: SessionKey,
        state: HashMap<String, String>,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let json =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let expires = self.clock.now() + ttl.whole_seconds();
        let hash = key_hash(session_key.as_ref());
        let updated = self
            .db
            .update(&hash, &columns(&state), &json, expires)
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if updated {
            return Ok(session_key);
        }
        // The row was revoked or expired meanwhile: never bring the old key back to life.
        self.save(state, ttl).await.map_err(|e| match e {
            SaveError::Serialization(e) => UpdateError::Serialization(e),
            SaveError::Other(e) => UpdateError::Other(e),
        })
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        ttl: &Duration,
    ) -> Result<(), anyhow::Error> {
        let expires = self.clock.now() + ttl.whole_seconds();
        self.db
            .touch(&key_hash(session_key.as_ref()), expires)
            .await?;
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        self.db.delete(&key_hash(session_key.as_ref())).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_identity_user_id() {
        let mut state = HashMap::new();
        assert_eq!(user_id(&state), None);
        state.insert(IDENTITY_KEY.to_string(), "\"42\"".to_string());
        assert_eq!(user_id(&state), Some(42));
        state.insert(IDENTITY_KEY.to_string(), "\"x\"".to_string());
        assert_eq!(user_id(&state), None);
    }
}

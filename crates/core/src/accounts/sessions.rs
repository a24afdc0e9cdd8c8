//! The stored side of sign-in sessions, for the session middleware of the faces: each row is
//! found by the SHA-256 of the cookie's random key and holds the session state (JSON), the
//! user it belongs to and two deadlines. Deleting a row revokes the session.

use crate::error::Result;
use crate::store::sessions;

pub use crate::store::sessions::{Labels, SessionRow};

/// A cheap handle on the sessions table (clone it into the middleware).
#[derive(Clone)]
pub struct SessionRecords {
    db: crate::store::Db,
}

impl SessionRecords {
    pub(crate) fn new(db: crate::store::Db) -> Self {
        SessionRecords { db }
    }

    pub async fn load(&self, key_hash: &str) -> Result<Option<SessionRow>> {
        Ok(sessions::load(&self.db, key_hash).await?)
    }

    pub async fn insert(
        &self,
        key_hash: &str,
        labels: &Labels,
        state: &str,
        now: i64,
        expires: i64,
    ) -> Result<()> {
        sessions::insert(&self.db, key_hash, labels, state, now, expires).await?;
        Ok(())
    }

    /// `false` when the row is gone (revoked or expired meanwhile).
    pub async fn update(
        &self,
        key_hash: &str,
        labels: &Labels,
        state: &str,
        expires: i64,
    ) -> Result<bool> {
        Ok(sessions::update(&self.db, key_hash, labels, state, expires).await?)
    }

    pub async fn touch(&self, key_hash: &str, expires: i64) -> Result<()> {
        Ok(sessions::touch(&self.db, key_hash, expires).await?)
    }

    pub async fn delete(&self, key_hash: &str) -> Result<()> {
        Ok(sessions::delete(&self.db, key_hash).await?)
    }
}

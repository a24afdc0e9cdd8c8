//! Statements about the database file itself, for `contact-vault backup` and `restore`.

use super::{Db, DbResult};

/// A consistent copy of the whole database into `path` (an existing empty file keeps its
/// mode), while the server goes on serving.
pub async fn vacuum_into(db: &Db, path: &str) -> DbResult<()> {
    sqlx::query("VACUUM INTO ?").bind(path).execute(db).await?;
    Ok(())
}

/// SQLite's own check of the file: `ok`, or its first finding.
pub async fn integrity_check(db: &Db) -> DbResult<String> {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(db)
        .await
}

/// How many migrations were applied to the file (0: not a database of this app).
pub async fn migrations_applied(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(db)
        .await
}

//! Every SQL statement of the application, one file per table group.
//! Functions take an executor so callers can group writes in one transaction.

pub mod admin_mail;
pub mod app_passwords;
pub mod audit;
pub mod contacts;
pub mod dav;
pub mod form_tickets;
pub mod login_guard;
pub mod maintenance;
pub mod notify;
pub mod private;
pub mod rotation;
pub mod sessions;
pub mod submissions;
pub mod tokens;
pub mod users;

use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

/// The database handle, one connection (or a transaction, which derefs to one) and a write
/// transaction, as the services above name them; with [`DbResult`] the only database types
/// they see. A second backend changes these and the statements of this folder, not the
/// services.
pub(crate) type Db = SqlitePool;
pub(crate) type Conn = SqliteConnection;
pub(crate) type WriteTx = Transaction<'static, Sqlite>;
/// What a statement returns.
pub(crate) type DbResult<T> = sqlx::Result<T>;

/// A failed statement is the server's fault, never the caller's: logged, not shown.
impl From<sqlx::Error> for crate::error::Error {
    fn from(e: sqlx::Error) -> Self {
        crate::error::Error::Internal(e.into())
    }
}

/// Opens (creating if needed, mode 0600) the database in WAL mode and runs the migrations.
pub async fn connect(database_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)?;
    let file = options.get_filename();
    if !file.as_os_str().is_empty() && file != Path::new(":memory:") {
        // Before SQLite opens it: SQLite would create it with the umask's mode (0644).
        private::prepare_database_file(file)
            .with_context(|| format!("cannot create {}", file.display()))?;
    }
    let options = options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    // No ping before each use: a SQLite connection is a file handle that cannot go stale, and
    // the ping was one more round trip to the connection's thread for every query.
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    sqlx::migrate!("../../migrations").run(&pool).await?;
    Ok(pool)
}

/// Opens an existing database without creating or migrating it (to inspect a backup).
pub async fn open_existing(database_url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(database_url)?.read_only(true);
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// A write transaction that takes SQLite's write lock up front (`BEGIN IMMEDIATE`), so a
/// transaction that reads before it writes cannot fail half-way with SQLITE_BUSY.
/// A read transaction: several statements see one snapshot of the database (WAL), and no
/// writer waits for it.
pub async fn begin_read(pool: &Db) -> DbResult<WriteTx> {
    pool.begin().await
}

pub async fn begin_write(pool: &Db) -> DbResult<WriteTx> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// `SELECT 1`, for the health check.
pub async fn ping(pool: &SqlitePool) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(pool)
        .await
        .is_ok()
}

//! Every SQL statement of the application, one file per table group.
//! Functions take an executor so callers can group writes in one transaction.

pub mod admin_mail;
pub mod app_passwords;
pub mod audit;
pub mod contacts;
pub mod copy;
pub mod dav;
pub mod form_tickets;
pub mod inbox_key;
pub mod login_guard;
pub mod maintenance;
pub mod notify;
pub mod private;
pub mod rotation;
pub mod sessions;
pub mod submissions;
pub mod tokens;
pub mod user_keys;
pub mod users;

use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, bail};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};

/// The database handle, one connection (or a transaction, which derefs to one) and a write
/// transaction, as the services above name them; with [`DbResult`] the only database types
/// they see. Through sqlx's `Any` driver the same statements run on SQLite and PostgreSQL:
/// every placeholder is `$N`, every integer an `i64`, flags are 0/1 integers.
pub(crate) type Db = AnyPool;
pub(crate) type Conn = AnyConnection;
pub(crate) type WriteTx = Transaction<'static, Any>;
/// What a statement returns.
pub(crate) type DbResult<T> = sqlx::Result<T>;

/// A failed statement is the server's fault, never the caller's: logged, not shown. With
/// one exception: a string PostgreSQL cannot hold (a NUL character, SQLSTATE 22021) can only
/// have come from outside, in a lookup (every text column the app writes in the clear holds
/// hex, base64 or a validated name), and matches no row, as it does on SQLite.
impl From<sqlx::Error> for crate::error::Error {
    fn from(e: sqlx::Error) -> Self {
        let unstorable = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|code| code == "22021");
        if unstorable {
            return crate::error::Error::NotFound;
        }
        crate::error::Error::Internal(e.into())
    }
}

/// A log filter directive for the binary's default filter: PostgreSQL's notices ("relation
/// … already exists, skipping", sent at every start by the migrations) only from `warn`, so
/// that they do not fill the log nor a CLI command's output.
pub const LOG_FILTER: &str = "sqlx::postgres::notice=warn";

/// The database a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(database_url: &str) -> anyhow::Result<Self> {
        match database_url.split_once(':').map(|(scheme, _)| scheme) {
            Some("sqlite") => Ok(Self::Sqlite),
            Some("postgres" | "postgresql") => Ok(Self::Postgres),
            _ => bail!("DATABASE_URL must start with sqlite:// or postgres://"),
        }
    }

    /// The backend of an open pool.
    pub fn of(pool: &Db) -> Self {
        match pool.connect_options().database_url.scheme() {
            "sqlite" => Self::Sqlite,
            _ => Self::Postgres,
        }
    }
}

/// The key of PostgreSQL's advisory lock that every write transaction takes first: writers
/// on all instances take turns, as SQLite's single writer does on one machine, so whatever a
/// transaction reads before it writes (the audit chain's head, a book's version, a TOTP step,
/// a duplicate check) is still true when it commits. ("CVwrite" in ASCII.)
const WRITE_LOCK: i64 = 0x0043_5677_7269_7465;

/// Opens the database and runs the migrations. SQLite: the file is created if needed (mode
/// 0600), in WAL mode. PostgreSQL: the database must exist; the tables are made here.
pub async fn connect(database_url: &str) -> anyhow::Result<Db> {
    sqlx::any::install_default_drivers();
    let pool = match Backend::of_url(database_url)? {
        Backend::Sqlite => {
            let file = SqliteConnectOptions::from_str(database_url)?
                .get_filename()
                .to_owned();
            if !file.as_os_str().is_empty() && file != Path::new(":memory:") {
                // Before SQLite opens it: SQLite would create it with the umask's mode (0644).
                private::prepare_database_file(&file)
                    .with_context(|| format!("cannot create {}", file.display()))?;
            }
            let pool = sqlite_pool(database_url, 8).await?;
            sqlx::migrate!("../../migrations/sqlite").run(&pool).await?;
            pool
        }
        Backend::Postgres => {
            if let Some(warning) = unverified_transport(database_url) {
                tracing::warn!("{warning}");
            }
            let pool = AnyPoolOptions::new()
                .max_connections(8)
                .connect(database_url)
                .await
                .context("cannot connect to PostgreSQL")?;
            sqlx::migrate!("../../migrations/postgres")
                .run(&pool)
                .await?;
            pool
        }
    };
    Ok(pool)
}

/// A warning when a PostgreSQL URL reaches another machine without a verified TLS connection
/// (`sslmode=verify-full` or `verify-ca`): the default, `prefer`, may fall back to plain text
/// and never checks whose certificate it got. A Unix socket and loopback need neither.
pub(crate) fn unverified_transport(database_url: &str) -> Option<&'static str> {
    use sqlx::postgres::{PgConnectOptions, PgSslMode};
    let options = PgConnectOptions::from_str(database_url).ok()?;
    let host = options.get_host();
    let local = options.get_socket().is_some()
        || host.starts_with('/')
        || host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let verified = matches!(
        options.get_ssl_mode(),
        PgSslMode::VerifyFull | PgSslMode::VerifyCa
    );
    (!local && !verified).then_some(
        "DATABASE_URL reaches PostgreSQL on another host without sslmode=verify-full: the \
         connection may be in clear and its server is not verified (docs/SCALING.md, TLS)",
    )
}

/// A pool on a SQLite file with the settings every connection needs.
async fn sqlite_pool(database_url: &str, connections: u32) -> anyhow::Result<Db> {
    let options = AnyConnectOptions::from_str(database_url)?;
    // No ping before each use: a SQLite connection is a file handle that cannot go stale, and
    // the ping was one more round trip to the connection's thread for every query.
    Ok(AnyPoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                     PRAGMA secure_delete = ON;",
                )
                .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}

/// Moves what the WAL holds into the database file and empties the WAL (SQLite; nothing to
/// do on PostgreSQL). With `secure_delete` on, the old versions of rewritten rows (a key that
/// was replaced) are then gone from both files. Best effort: a reader still in an older
/// snapshot keeps the WAL until the next checkpoint.
pub async fn checkpoint(pool: &Db) -> DbResult<()> {
    if Backend::of(pool) == Backend::Sqlite {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// Opens an existing SQLite database read-only, without creating or migrating it (to
/// inspect a backup).
pub async fn open_existing(database_url: &str) -> anyhow::Result<Db> {
    sqlx::any::install_default_drivers();
    let joint = if database_url.contains('?') { '&' } else { '?' };
    let options = AnyConnectOptions::from_str(&format!("{database_url}{joint}mode=ro"))?;
    Ok(AnyPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// A read transaction: several statements see one snapshot of the database (SQLite's WAL;
/// PostgreSQL's repeatable read), and no writer waits for it.
pub async fn begin_read(pool: &Db) -> DbResult<WriteTx> {
    match Backend::of(pool) {
        Backend::Sqlite => pool.begin().await,
        Backend::Postgres => {
            pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await
        }
    }
}

/// A write transaction that holds the write lock from its first statement: SQLite's
/// (`BEGIN IMMEDIATE`), or on PostgreSQL the advisory lock [`WRITE_LOCK`], released at
/// commit or rollback. A transaction that reads before it writes therefore cannot fail
/// half-way with SQLITE_BUSY nor act on a read another instance has made stale.
pub async fn begin_write(pool: &Db) -> DbResult<WriteTx> {
    match Backend::of(pool) {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut *tx)
                .await?;
            Ok(tx)
        }
    }
}

/// `SELECT 1`, for the health check.
pub async fn ping(pool: &Db) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT 1")
        .fetch_one(pool)
        .await
        .is_ok()
}

/// A flag read into a `bool`: a 0/1 integer column (SQLite has no boolean type, so flags
/// are integers on both backends and bound as `i64::from(flag)`) or a boolean expression
/// such as `EXISTS (…)`, which is an integer on SQLite and a boolean on PostgreSQL. Fields
/// take it with `#[sqlx(try_from = "Flag")]`.
pub(crate) struct Flag(pub bool);

impl sqlx::Type<Any> for Flag {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <i64 as sqlx::Type<Any>>::type_info()
    }

    fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
        <i64 as sqlx::Type<Any>>::compatible(ty) || <bool as sqlx::Type<Any>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match <i64 as sqlx::Decode<Any>>::decode(value.clone()) {
            Ok(n) => Ok(Flag(n != 0)),
            Err(_) => <bool as sqlx::Decode<Any>>::decode(value).map(Flag),
        }
    }
}

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

#[cfg(test)]
mod transport_tests {
    use super::unverified_transport;

    #[test]
    fn a_remote_postgres_without_verified_tls_is_named() {
        for url in [
            "postgres://vault@db.internal/vault",
            "postgres://vault@10.0.0.5:5432/vault?sslmode=require",
            "postgres://vault@postgres/vault?sslmode=prefer",
        ] {
            assert!(unverified_transport(url).is_some(), "{url}");
        }
        for url in [
            "postgres://vault@127.0.0.1:5432/vault",
            "postgres://vault@localhost/vault",
            "postgres://vault@[::1]/vault",
            "postgres://vault@db.internal/vault?sslmode=verify-full&sslrootcert=/ca.pem",
            "postgres://vault@10.0.0.5/vault?sslmode=verify-ca",
            "postgres:///vault?host=/run/postgresql",
        ] {
            assert!(unverified_transport(url).is_none(), "{url}");
        }
    }
}

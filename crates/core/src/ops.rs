//! Operations: key rotation, online backup and restore.

use std::path::Path;

use anyhow::{Context, bail};

use crate::audit::{self, Actor, action};
use crate::crypto::keys::Keys;
use crate::store::{self, rotation};
use crate::vault::Vault;

/// Creates the data directory (and its missing parents) readable by its owner only (0700);
/// one that exists is left as it is.
pub fn create_data_dir(dir: &Path) -> std::io::Result<()> {
    store::private::create_dir(dir)
}

/// What a rotation did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub rows: u64,
    pub reencrypted: u64,
}

/// Re-encrypts every encrypted value that is not yet under the primary (first) key, in
/// batches, each batch one write transaction that reads and rewrites its rows (so a server
/// writing at the same time never loses an update). Safe to stop at any point and run again:
/// finished batches stay done, values already under the primary key are left alone.
pub async fn rotate(
    vault: &Vault,
    batch_size: i64,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<RotationReport> {
    // Messages still under the server keys (from before the inbox had its key) are sealed to
    // the inbox key first: after this rotation the old keys may be gone.
    crate::inbox::key::settle(vault).await?;
    let cipher = &vault.keys.cipher;
    let mut total = 0u64;
    {
        let mut conn = vault.db.acquire().await?;
        for t in rotation::ENCRYPTED {
            total += rotation::count(&mut conn, t).await? as u64;
        }
    }
    let mut report = RotationReport::default();
    for t in rotation::ENCRYPTED {
        let mut after = 0i64;
        loop {
            let mut tx = store::begin_write(&vault.db).await?;
            let rows = rotation::batch(&mut tx, t, after, batch_size.max(1)).await?;
            let Some(last) = rows.last().map(|r| r.rowid) else {
                break;
            };
            for row in &rows {
                let rowid = &row.rowid;
                let mut changed = false;
                let mut fresh = Vec::with_capacity(row.values.len());
                for value in &row.values {
                    match value {
                        Some(token) if !cipher.is_under_primary(token) => {
                            let Ok(plain) = cipher.decrypt_bytes(token) else {
                                // Under the owner's own keys: not the server's to rotate.
                                if row.owner_keyed {
                                    fresh.push(value.clone());
                                    continue;
                                }
                                anyhow::bail!(
                                    "{} row {rowid}: no configured key decrypts it",
                                    t.table
                                );
                            };
                            fresh.push(Some(cipher.encrypt_bytes(&plain)));
                            changed = true;
                        }
                        other => fresh.push(other.clone()),
                    }
                }
                if changed {
                    rotation::update(&mut tx, t, *rowid, &fresh).await?;
                    report.reencrypted += 1;
                }
            }
            report.rows += rows.len() as u64;
            tx.commit().await?;
            after = last;
            progress(report.rows, total);
        }
    }
    let detail = format!(
        "rows={} reencrypted={} primary={}",
        report.rows,
        report.reencrypted,
        cipher.fingerprints()[0]
    );
    audit::record_alone(
        &vault.db,
        &vault.keys.audit,
        vault.clock.now(),
        Actor {
            user_id: None,
            username: "cli",
        },
        action::KEYS_ROTATED,
        &detail,
    )
    .await?;
    Ok(report)
}

/// A consistent copy of the live database (`VACUUM INTO`), safe while the server runs, in a
/// new file of mode 0600. Keys are not in it: back them up separately.
pub async fn backup(vault: &Vault, target: &Path) -> anyhow::Result<()> {
    if store::Backend::of(&vault.db) == store::Backend::Postgres {
        bail!("{POSTGRES_BACKUP}");
    }
    if target.exists() {
        bail!(
            "{} exists already; choose a new file name",
            target.display()
        );
    }
    let path = target
        .to_str()
        .context("the backup path must be valid UTF-8")?;
    // An empty file of mode 0600 first: SQLite writes into it and keeps its mode (it would
    // create a new one with the umask's, 0644).
    store::private::create_new(target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    if let Err(e) = store::maintenance::vacuum_into(&vault.db, path).await {
        let _ = std::fs::remove_file(target);
        return Err(e.into());
    }
    Ok(())
}

/// What `backup` and `restore` say on PostgreSQL, where they would write or read the wrong
/// thing: the database's own tools do it, consistently while the instances serve.
pub const POSTGRES_BACKUP: &str = "this installation runs on PostgreSQL: back it up with \
    `pg_dump --format=custom --file=vault.dump \"$DATABASE_URL\"` and restore it with \
    `pg_restore --clean --if-exists --dbname=\"$DATABASE_URL\" vault.dump` \
    (keep keys.env or the key variables beside the dump, as with a SQLite backup)";

/// What `migrate-db` did: each table's rows, and the audit chain checked on the target.
#[derive(Debug)]
pub struct Migrated {
    pub tables: Vec<(String, i64)>,
    pub audit_events: usize,
}

/// Moves an installation from SQLite to PostgreSQL: every row of `from` (a sqlite:// URL,
/// read-only, one snapshot) into `to` (a postgres:// URL whose database is new and empty; its
/// tables are made here), in one transaction: all of it or nothing. Then the copy's audit
/// chain is verified with `keys`, the installation's own. Stop the servers first: what they
/// write after the snapshot would not be in the copy.
pub async fn migrate_db(from: &str, to: &str, keys: &Keys) -> anyhow::Result<Migrated> {
    if store::Backend::of_url(from)? != store::Backend::Sqlite
        || store::Backend::of_url(to)? != store::Backend::Postgres
    {
        bail!("migrate-db copies a sqlite:// database (--from) into a postgres:// one (--to)");
    }
    let source = store::open_existing(from)
        .await
        .with_context(|| format!("cannot open {from}"))?;
    let target = store::connect(to)
        .await
        .context("cannot open the target database")?;
    let copied = store::copy::sqlite_to_postgres(&source, &target).await;
    source.close().await;
    let copied = match copied {
        Ok(copied) => copied,
        Err(e) => {
            target.close().await;
            return Err(e.context("nothing was copied"));
        }
    };
    let rows = store::audit::all(&target).await?;
    target.close().await;
    match audit::verify_rows(&rows, &keys.audit, None) {
        audit::Verdict::Ok { rows } => Ok(Migrated {
            tables: copied
                .into_iter()
                .map(|c| (c.table, c.target_rows))
                .collect(),
            audit_events: rows,
        }),
        audit::Verdict::Broken { id, reason } => bail!(
            "copied, but the audit chain of the copy does not verify with these keys (event {id}: \
             {reason}): is DATA_DIR (or SECRET_KEY) the source installation's?"
        ),
    }
}

/// Replaces the database file with a backup. Refuses when a database exists unless `force`.
/// Stop the server first: a running server keeps the old file open.
pub async fn restore(database_url: &str, source: &Path, force: bool) -> anyhow::Result<()> {
    let db_path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .with_context(|| match store::Backend::of_url(database_url) {
            Ok(store::Backend::Postgres) => POSTGRES_BACKUP.to_string(),
            _ => "restore works on a sqlite: DATABASE_URL".to_string(),
        })?;
    let db_path = Path::new(db_path.split('?').next().unwrap_or(db_path));
    if !source.is_file() {
        bail!("{} is not a file", source.display());
    }
    if db_path.exists() && !force {
        bail!(
            "{} exists: stop the server and run again with --force to overwrite it",
            db_path.display()
        );
    }
    // Check the backup before touching anything.
    let check = store::open_existing(&format!("sqlite://{}", source.display())).await?;
    let verdict = store::maintenance::integrity_check(&check).await?;
    let migrated = store::maintenance::migrations_applied(&check).await?;
    check.close().await;
    if verdict != "ok" || migrated == 0 {
        bail!(
            "{} is not a Contact Vault backup in good order ({verdict})",
            source.display()
        );
    }
    if let Some(dir) = db_path.parent() {
        store::private::create_dir(dir)?;
    }
    // Copied into a file of mode 0600 (`fs::copy` would take the backup file's mode).
    let tmp = db_path.with_extension("restore-tmp");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut into = store::private::create_new(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut from = std::fs::File::open(source)?;
        std::io::copy(&mut from, &mut into)?;
        into.sync_all()?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", db_path.display());
        let _ = std::fs::remove_file(side);
    }
    std::fs::rename(&tmp, db_path)?;
    Ok(())
}

/// What [`purge_expired`] removed, table by table, or why it could not.
pub struct Purged {
    pub failures: Vec<(&'static str, crate::error::Error)>,
}

/// Deletes expired sessions, API tokens, remembered devices and form tickets, sign-in
/// counters nobody has added to for a day, CardDAV tombstones past their days, and the
/// records of notifications sent or failed more than a month ago. Each
/// table on its own: one failing does not stop the rest; the failures are returned for the
/// log.
pub async fn purge_expired(vault: &Vault, now: i64) -> Purged {
    let db = &vault.db;
    let stale = now - crate::accounts::lockout::FORGET_SECONDS;
    let results = [
        ("sessions", store::sessions::purge_expired(db, now).await),
        ("API tokens", store::tokens::purge_expired(db, now).await),
        (
            "sign-in counters",
            store::login_guard::purge_failures(db, stale).await,
        ),
        (
            "remembered devices",
            store::login_guard::purge_devices(db, now).await,
        ),
        (
            "form tickets",
            store::form_tickets::purge_expired(db, now).await,
        ),
        (
            "CardDAV tombstones",
            store::dav::purge_tombstones(db, now - crate::book::dav::TOMBSTONE_DAYS * 86_400).await,
        ),
        (
            "notifications",
            store::notify::purge_done(db, now - crate::notify::KEEP_DAYS * 86_400).await,
        ),
    ];
    Purged {
        failures: results
            .into_iter()
            .filter_map(|(what, result)| result.err().map(|e| (what, e.into())))
            .collect(),
    }
}

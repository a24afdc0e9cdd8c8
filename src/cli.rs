//! The command line: `serve` (default), `user add`, `keys generate`, `audit verify`,
//! `import-legacy`, `notify test`.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::accounts;
use crate::audit::{self, Actor, Verdict};
use crate::book::legacy;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::keys;
use crate::crypto::totp;
use crate::ops;
use crate::startup::Application;
use crate::state::AppState;

#[derive(Parser)]
#[command(
    name = "contact-vault",
    version,
    about = "Contact Vault: contacts kept encrypted at rest"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the web server (the default).
    Serve,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Key material.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Write a consistent copy of the database to FILE (safe while the server runs).
    Backup { file: PathBuf },
    /// Replace the database with FILE. Refuses to overwrite an existing one without --force.
    Restore {
        file: PathBuf,
        /// Overwrite the existing database (stop the server first).
        #[arg(long)]
        force: bool,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Import an old secure_contact_book data folder (key.key, user_db.json, contact_db.json,
    /// audit_log.json): users, contacts and audit trail, all or nothing; re-runs add nothing.
    ImportLegacy { dir: PathBuf },
    /// Move an installation from SQLite to PostgreSQL: every table into a new, empty
    /// database, in one transaction (all or nothing), the audit chain verified on the copy
    /// with this installation's keys (DATA_DIR's keys.env or the key variables). Stop the
    /// servers first.
    MigrateDb {
        /// The database to copy (sqlite://…), opened read-only.
        #[arg(long, value_name = "SQLITE_URL")]
        from: String,
        /// The database to fill (postgres://…): it must exist and hold no rows.
        #[arg(long, value_name = "POSTGRES_URL")]
        to: String,
    },
    /// Notifications of new messages.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
}

#[derive(Subcommand)]
pub enum NotifyCommand {
    /// Send a test notification over every configured channel (SMTP_URL, NOTIFY_WEBHOOK_URL)
    /// now, and say how each went.
    Test,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user. Admins get TOTP enrolled at once; the otpauth:// URI is printed.
    Add {
        name: String,
        #[arg(long, default_value = "user", value_parser = ["admin", "user"])]
        role: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Print a fresh FERNET_KEYS, BLIND_INDEX_KEY and SECRET_KEY.
    Generate,
    /// Re-encrypt every encrypted field under the first Fernet key, in batches; can be
    /// stopped and run again. With --new-key, first add a fresh key in front (keys.env only).
    Rotate {
        /// Put a fresh key in front of FERNET_KEYS in DATA_DIR/keys.env first.
        #[arg(long)]
        new_key: bool,
        /// Seconds to wait after --new-key so running servers load it (they look every 5 s).
        #[arg(long, default_value_t = 12)]
        wait_seconds: u64,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: i64,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero at the first broken link.
    Verify {
        /// A head from the log (`audit_head_id:audit_head_hash`): the chain must still hold
        /// that event with that hash, so rows cut off the end are found.
        #[arg(long, value_name = "ID:HASH")]
        head: Option<audit::Head>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await,
        Command::User {
            command: UserCommand::Add { name, role, .. },
        } => user_add(&name, &role).await,
        Command::Keys {
            command: KeysCommand::Generate,
        } => {
            for (name, value) in keys::generate_set() {
                println!("{name}={value}");
            }
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Rotate {
                    new_key,
                    wait_seconds,
                    batch_size,
                },
        } => keys_rotate(new_key, wait_seconds, batch_size).await,
        Command::Backup { file } => {
            let (state, _) = AppState::open(Settings::from_env()?, Clock::default()).await?;
            ops::backup(&state, &file).await?;
            println!(
                "backup written to {} (keys are not in it: back them up separately)",
                file.display()
            );
            Ok(())
        }
        Command::Restore { file, force } => {
            let settings = Settings::from_env()?;
            ops::restore(&settings.database_url, &file, force).await?;
            println!(
                "restored {} (start the server with the keys of that backup)",
                file.display()
            );
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { head },
        } => audit_verify(head).await,
        Command::ImportLegacy { dir } => import_legacy(&dir).await,
        Command::MigrateDb { from, to } => migrate_db(&from, &to).await,
        Command::Notify {
            command: NotifyCommand::Test,
        } => notify_test().await,
    }
}

async fn notify_test() -> anyhow::Result<()> {
    let (state, _) = AppState::open(Settings::from_env()?, Clock::default()).await?;
    let channels = state.notify.channels.clone();
    if channels.is_empty() {
        bail!(
            "no notification channel is configured: set SMTP_URL (with NOTIFY_EMAIL_FROM, and NOTIFY_EMAIL_TO or admins' own addresses) or NOTIFY_WEBHOOK_URL (with NOTIFY_WEBHOOK_SECRET)"
        );
    }
    let waiting = vault_core::notify::waiting(&state).await?;
    let note = state.senders.note(0, waiting, true);
    let mut failed = 0;
    for channel in channels {
        match state.senders.send(&state, channel, &note).await {
            Ok(()) => println!("{}: sent", channel.as_str()),
            Err(e) => {
                failed += 1;
                println!("{}: failed: {e}", channel.as_str());
            }
        }
    }
    state.close().await;
    if failed > 0 {
        bail!("{failed} channel(s) failed");
    }
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let app = Application::build(settings.clone(), Clock::default()).await?;
    tracing::info!(bind = %settings.bind, port = app.port(), "Contact Vault is listening");
    if let Some(url) = app.setup_url() {
        // Printed to the console, not the log: the link is a one-time secret.
        eprintln!(
            "\n  No admin exists yet. Create the first one here (works once):\n\n    {url}\n"
        );
    }
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn user_add(name: &str, role: &str) -> anyhow::Result<()> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let (state, _) = AppState::open(Settings::from_env()?, Clock::default()).await?;
    let by = Actor {
        user_id: None,
        username: "cli",
    };
    let (username, role) = match accounts::create_user(&state, by, name, password, role).await {
        Ok(created) => created,
        Err(vault_core::Error::Invalid(fields)) => {
            let msgs: Vec<String> = fields
                .into_iter()
                .map(|(f, m)| format!("{f}: {m}"))
                .collect();
            bail!("{}", msgs.join("; "));
        }
        Err(other) => bail!("{other}"),
    };
    println!("created {role} {username}", role = role.as_str());
    if role == crate::domain::Role::Admin {
        let mut user = accounts::user_by_name(&state, username.as_str())
            .await?
            .context("the new user vanished")?;
        // The TOTP secret is sealed with the admin's own keys, which the password opens.
        accounts::keys::unlock_with_password(&mut user, password)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (secret, codes) = accounts::enrol_totp_headless(&state, &user)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let uri = totp::otpauth_uri(&secret, username.as_str());
        println!("{uri}");
        if std::io::stdout().is_terminal() {
            println!("{}", crate::auth::qr::qr_terminal(&uri));
            println!("Recovery codes (each works once; store them offline):");
            for code in codes {
                println!("  {code}");
            }
        }
    }
    Ok(())
}

async fn audit_verify(head: Option<audit::Head>) -> anyhow::Result<()> {
    let (state, _) = AppState::open(Settings::from_env()?, Clock::default()).await?;
    match audit::verify(&state, head.as_ref()).await? {
        Verdict::Ok { rows } => {
            match head {
                Some(head) => println!("ok ({rows} events, head {} matches)", head.id),
                None => println!("ok ({rows} events)"),
            }
            Ok(())
        }
        Verdict::Broken { id, reason } => bail!("audit chain broken at event {id}: {reason}"),
    }
}

async fn migrate_db(from: &str, to: &str) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let (keys, _) = keys::load_or_generate(&settings.keys, &settings.data_dir)?;
    let done = ops::migrate_db(from, to, &keys).await?;
    for (table, rows) in &done.tables {
        println!("{table}: {rows} rows");
    }
    println!(
        "copied; audit chain ok ({} events). Set DATABASE_URL to the new database and start the servers.",
        done.audit_events
    );
    Ok(())
}

async fn import_legacy(dir: &Path) -> anyhow::Result<()> {
    let (state, _) = AppState::open(Settings::from_env()?, Clock::default()).await?;
    let summary = legacy::import_dir(&state, dir)
        .await
        .context("legacy import failed, nothing was imported")?;
    println!("{summary}");
    Ok(())
}

async fn keys_rotate(new_key: bool, wait_seconds: u64, batch_size: i64) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    if new_key {
        if settings.keys.fernet_keys.is_some() {
            bail!(
                "FERNET_KEYS comes from the environment, so it cannot be changed here. With one \
                 server: put a key from `contact-vault keys generate` in front of the list, restart \
                 it, then run `contact-vault keys rotate`. With several: first add the new key at \
                 the end of every instance's list and restart them one by one (all can then read \
                 it), then move it to the front on each and restart them again, then run \
                 `contact-vault keys rotate`; the old key may go once a second run re-encrypts 0 \
                 rows (docs/SCALING.md)"
            );
        }
        let fp = keys::add_primary_fernet_key(&settings.data_dir)?;
        println!("new primary key {fp} written to keys.env");
        if wait_seconds > 0 {
            println!("waiting {wait_seconds} s for running servers to load it");
            tokio::time::sleep(std::time::Duration::from_secs(wait_seconds)).await;
        }
    }
    let (state, _) = AppState::open(settings, Clock::default()).await?;
    let fingerprints = state.keys.cipher.fingerprints();
    let tty = std::io::stdout().is_terminal();
    let report = ops::rotate(&state, batch_size, |done, total| {
        if tty {
            print!("\rre-encrypting: {done}/{total} rows");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        } else {
            println!("progress {done}/{total}");
        }
    })
    .await?;
    if tty {
        println!();
    }
    println!(
        "done: {} rows checked, {} re-encrypted; everything is under key {}",
        report.rows, report.reencrypted, fingerprints[0]
    );
    if fingerprints.len() > 1 {
        println!(
            "keys {} can now be removed from FERNET_KEYS",
            fingerprints[1..].join(", ")
        );
    }
    Ok(())
}

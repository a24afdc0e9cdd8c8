//! Database files are private (0600), and a new data directory too (0700), under a permissive
//! umask (issue 12, item 13).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::helpers::{cli, cli_command, spawn_app, spawn_app_in};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The usual umask, which lets SQLite create files 0644. Process-wide, and the same for every
/// test that sets it.
fn permissive_umask() {
    // SAFETY: umask only swaps the process's file mode mask.
    unsafe {
        libc::umask(0o022);
    }
}

#[tokio::test]
async fn the_database_its_wal_and_shm_are_created_0600() {
    permissive_umask();
    let app = spawn_app().await;
    app.create_user("ann", "user").await; // a write, so the WAL has content
    let db = app.dir.path().join("contact-vault.db");
    for file in [
        db.clone(),
        app.dir.path().join("contact-vault.db-wal"),
        app.dir.path().join("contact-vault.db-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
}

#[tokio::test]
async fn a_new_data_directory_lists_its_files_to_its_owner_only() {
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new").join("data");
    let out = cli_command(dir.path(), &["audit", "verify"])
        .env("DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&data.join("contact-vault.db")), 0o600);
    // One that exists is left as the operator made it.
    let mounted = dir.path().join("mounted");
    std::fs::create_dir(&mounted).unwrap();
    std::fs::set_permissions(&mounted, std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = cli_command(dir.path(), &["audit", "verify"])
        .env("DATA_DIR", &mounted)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(mode(&mounted), 0o750);
}

#[tokio::test]
async fn an_existing_readable_database_is_made_private_at_start() {
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["audit", "verify"], "");
    assert!(out.status.success());
    let db = dir.path().join("contact-vault.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = spawn_app_in(dir).await;
    assert_eq!(mode(&app.dir.path().join("contact-vault.db")), 0o600);
}

#[tokio::test]
async fn backups_and_restored_databases_are_0600() {
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        dir.path(),
        &["user", "add", "ops", "--role", "user", "--password-stdin"],
        "ops-Long-passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let backup = dir.path().join("backup.db");
    let out = cli(dir.path(), &["backup", backup.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&backup), 0o600);

    // A backup made readable (copied around by hand) is restored private all the same.
    std::fs::set_permissions(&backup, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = dir.path().join("contact-vault.db");
    std::fs::remove_file(&db).unwrap();
    for side in ["contact-vault.db-wal", "contact-vault.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(side));
    }
    let out = cli(dir.path(), &["restore", backup.to_str().unwrap()], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&db), 0o600);
}

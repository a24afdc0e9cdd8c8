//! Database files readable by their owner only (0600), in directories only they can list (0700), whatever the process umask: the
//! database, its `-wal` and `-shm` files (SQLite gives them the database file's mode), backups
//! and restored copies. The data in them is encrypted, but the file still holds password
//! hashes, the audit trail and the shape of every book.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates `dir` and its missing parents with mode 0700, so a new data directory shows even
/// its file names to its owner only. An existing directory is left as it is (it may be a
/// volume an operator mounted on purpose).
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` empty with mode 0600; fails if it exists (`create_new`).
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates the database file with mode 0600 unless it exists; an existing database file (and
/// its `-wal`, `-shm`) that others may read is set to 0600, with a warning.
pub fn prepare_database_file(path: &Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    match create_new(path) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        tighten(Path::new(&file))?;
    }
    Ok(())
}

/// Sets an existing file that group or others may access to 0600.
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(path) {
            Ok(meta) => meta.permissions().mode(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "database file was readable by others; set to 0600");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

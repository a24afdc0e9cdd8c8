use crate::helpers::{cli, database_of};

#[tokio::test]
async fn user_add_creates_an_admin_with_totp_and_audit_verify_checks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        dir.path(),
        &["user", "add", "Ops", "--role", "admin", "--password-stdin"],
        "ops-Long-passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created admin ops"), "{stdout}");
    assert!(
        stdout.contains("otpauth://totp/Contact%20Vault:ops?secret="),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("ops-Long-passphrase"));

    let out = cli(
        dir.path(),
        &["user", "add", "weak", "--password-stdin"],
        "password\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password"));

    let out = cli(dir.path(), &["audit", "verify"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"));

    // Tamper with a row (the trigger guards against accidents, not a determined attacker).
    let url = database_of(dir.path())
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("contact-vault.db").display()));
    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    let unguard = if url.starts_with("sqlite:") {
        "DROP TRIGGER audit_log_no_update"
    } else {
        "ALTER TABLE audit_log DISABLE TRIGGER USER"
    };
    sqlx::query(unguard).execute(&db).await.unwrap();
    sqlx::query("UPDATE audit_log SET detail = 'edited' WHERE id = 1")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let out = cli(dir.path(), &["audit", "verify"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("broken at event 1"));
}

#[test]
fn keys_generate_prints_a_valid_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli(dir.path(), &["keys", "generate"], "");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_string()
    };
    contact_vault::crypto::keys::parse_keys(
        (&get("FERNET_KEYS"), "FERNET_KEYS"),
        (&get("BLIND_INDEX_KEY"), "BLIND_INDEX_KEY"),
        (&get("SECRET_KEY"), "SECRET_KEY"),
    )
    .unwrap();
}

/// `LOG_FORMAT` is read once, by the settings' own parser: a value it does not know stops
/// every command, even one that loads no other setting (it used to be taken for `text`).
#[test]
fn an_unknown_log_format_stops_the_binary_with_a_message() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = crate::helpers::cli_command(dir.path(), &["keys", "generate"])
        .env("LOG_FORMAT", "yaml")
        .output()
        .expect("binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("LOG_FORMAT must be `text` or `json`"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no keys printed");
}

/// The server's log written to a pipe (a container's log, a file) is plain text: no colour
/// codes, whatever the terminal the tests run in.
#[test]
fn logs_to_a_pipe_carry_no_colour_codes() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = crate::helpers::cli_command(dir.path(), &["serve"])
        .env("BIND", "127.0.0.1:0")
        .env("LOG_FORMAT", "text")
        .env("RUST_LOG", "info")
        .env("CAPTCHA", "off")
        .env_remove("NO_COLOR")
        .spawn()
        .expect("binary runs");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, got) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = Vec::new();
    while !log.iter().any(|l: &String| l.contains("is listening")) {
        match got.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(line) => log.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("no listening line ({e}): {log:?}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join("\n");
    assert!(log.contains("generated new keys"), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

#[test]
fn database_url_file_is_read_and_its_url_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let url = format!("sqlite://{}", db.display());
    let file = dir.path().join("database-url");
    std::fs::write(&file, format!("{url}\n")).unwrap();
    let mut cmd = crate::helpers::cli_command(
        dir.path(),
        &["user", "add", "Filer", "--role", "user", "--password-stdin"],
    );
    let mut child = cmd
        .env_remove("DATABASE_URL")
        .env("DATABASE_URL_FILE", &file)
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(b"filer-Long-passphrase\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        db.is_file(),
        "the database named in the file is the one used"
    );
    assert!(!dir.path().join("contact-vault.db").exists());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!printed.contains("elsewhere.db"), "{printed}");
}

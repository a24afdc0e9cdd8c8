use contact_vault::clock::Clock;
use contact_vault::config::Settings;
use contact_vault::startup::Application;
use secrecy::SecretString;

use crate::helpers::{holds, spawn_app};

#[tokio::test]
async fn first_run_writes_private_keys_and_a_database() {
    let app = spawn_app().await;
    let keys = app.dir.path().join("keys.env");
    let text = std::fs::read_to_string(&keys).unwrap();
    for name in ["FERNET_KEYS=", "BLIND_INDEX_KEY=", "SECRET_KEY="] {
        assert!(text.contains(name), "{name}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The database: a SQLite file in the data directory, or none there on PostgreSQL.
    assert_eq!(
        app.dir.path().join("contact-vault.db").exists(),
        !app.on_postgres()
    );
}

#[tokio::test]
async fn a_malformed_key_stops_start_up_naming_the_variable_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::with_data_dir(dir.path().to_path_buf());
    settings.bind = "127.0.0.1:0".into();
    let bad = "dG9vLXNob3J0LWtleQ==";
    settings.keys.fernet_keys = Some((SecretString::from(bad.to_string()), "FERNET_KEYS".into()));
    let err = match Application::build(settings, Clock::default()).await {
        Ok(_) => panic!("start-up must fail"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("FERNET_KEYS"), "{err}");
    assert!(!err.contains(bad), "the value leaked: {err}");
}

#[tokio::test]
async fn no_totp_secret_is_stored_in_plaintext() {
    let app = spawn_app().await;
    let admin = app.create_user("alice", "admin").await;
    let secret = admin.secret.as_ref().unwrap();
    let base32 = contact_vault::crypto::totp::secret_base32(secret);
    let hex = hex::encode(secret);
    let codes = admin.recovery_codes.clone();
    for (path, bytes) in app.at_rest().await {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&base32) && !text.contains(&hex), "{path}");
        assert!(!holds(&bytes, secret), "{path}");
        for code in &codes {
            assert!(
                !text.contains(code.as_str()) && !text.contains(&code.replace('-', "")),
                "{path}"
            );
        }
    }
}

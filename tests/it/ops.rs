use std::io::{BufRead, BufReader};

use contact_vault::crypto::FieldCipher;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, cli, cli_command, spawn_app, spawn_app_in};

/// An account `ann` whose book holds `rows` contacts from one CSV import; her API token.
/// `rows` contacts of a user whose book is still under the server's keys (an installation
/// from before users had keys of their own), so what the server's key rotation moves.
pub(crate) async fn seed_book(app: &TestApp, rows: usize) -> String {
    let user = app.create_user("ann", "user").await;
    let token = app.api_token(&user).await;
    app.forget_keys(app.user_row("ann").await.id).await;
    let mut csv = String::from("name,phone,email,notes,tags\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "Person {i:04},+1 555 01{i:05},p{i}@example.com,note {i},t{}\n",
            i % 3
        ));
    }
    let res = reqwest::Client::new()
        .post(app.url("/api/contacts/import/csv"))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    token
}

async fn all_contacts(app: &TestApp, token: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for page in 1.. {
        let res = app
            .api(
                Method::GET,
                &format!("/api/contacts?per_page=200&page={page}"),
                token,
                None,
            )
            .await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let batch = body["contacts"].as_array().unwrap().clone();
        if batch.is_empty() {
            break;
        }
        out.extend(batch);
    }
    out
}

fn primary_key(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(dir.join("keys.env")).unwrap();
    let list = text
        .lines()
        .find_map(|l| l.strip_prefix("FERNET_KEYS="))
        .unwrap();
    list.split(',').next().unwrap().to_string()
}

#[tokio::test]
async fn a_rotation_killed_half_way_loses_nothing_and_a_second_run_completes() {
    let app = spawn_app().await;
    let token = seed_book(&app, 300).await;
    app.create_user("root", "admin").await;
    // An admin from before own keys: their TOTP secret is the server keys' to rotate.
    app.forget_keys(app.user_row("root").await.id).await;
    let before = all_contacts(&app, &token).await;
    assert_eq!(before.len(), 300);
    let data = app.dir.path().to_path_buf();

    // Start a rotation with a new key, one row per transaction, and kill it part-way.
    let mut child = cli_command(
        &data,
        &[
            "keys",
            "rotate",
            "--new-key",
            "--wait-seconds",
            "6",
            "--batch-size",
            "1",
        ],
    )
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut progressed = false;
    while let Some(Ok(line)) = lines.next() {
        if line.starts_with("progress 40/") {
            progressed = true;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(progressed, "the rotation started");

    // The server loaded the new key while it ran, and every contact still reads.
    let after_kill = all_contacts(&app, &token).await;
    assert_eq!(after_kill, before);
    let new_key = primary_key(&data);
    let only_new = FieldCipher::from_keys(&[&new_key]).unwrap();
    let tokens: Vec<String> = sqlx::query_scalar("SELECT name FROM contacts")
        .fetch_all(&app.db)
        .await
        .unwrap();
    let done = tokens
        .iter()
        .filter(|t| only_new.decrypt(t).is_ok())
        .count();
    assert!(done > 0 && done < 300, "part-way: {done}");

    // A second run completes and says which key can go.
    let out = cli(&data, &["keys", "rotate", "--batch-size", "100"], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("can now be removed from FERNET_KEYS"),
        "{text}"
    );
    for (table, column) in [
        ("contacts", "name"),
        ("contacts", "summary"),
        ("contacts", "notes"),
        ("users", "totp_secret"),
    ] {
        let values: Vec<Option<String>> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {column} FROM {table}")))
                .fetch_all(&app.db)
                .await
                .unwrap();
        for v in values.into_iter().flatten() {
            assert!(
                only_new.decrypt_bytes(&v).is_ok(),
                "{table}.{column} not under the new key"
            );
        }
    }
    assert_eq!(all_contacts(&app, &token).await, before);
    assert!(
        app.audit_actions()
            .await
            .contains(&"KEYS_ROTATED".to_string())
    );
}

#[tokio::test]
async fn backup_while_serving_and_restore_elsewhere() {
    let app = spawn_app().await;
    let token = seed_book(&app, 25).await;
    let before = all_contacts(&app, &token).await;
    let data = app.dir.path().to_path_buf();
    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("cv.db");
    let file_arg = file.to_str().unwrap();

    let out = cli(&data, &["backup", file_arg], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("back them up separately"));
    let out = cli(&data, &["backup", file_arg], "");
    assert!(
        !out.status.success(),
        "an existing file is never overwritten"
    );

    // Restore on another machine: same keys, empty data dir.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(data.join("keys.env"), other.path().join("keys.env")).unwrap();
    let out = cli(other.path(), &["restore", file_arg], "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(other.path(), &["restore", file_arg], "");
    assert!(!out.status.success(), "refuses to overwrite a database");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = cli(other.path(), &["restore", "--force", file_arg], "");
    assert!(out.status.success());

    let junk = backups.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    let out = cli(
        other.path(),
        &["restore", "--force", junk.to_str().unwrap()],
        "",
    );
    assert!(
        !out.status.success(),
        "a file that is not a backup is refused"
    );

    let restored = spawn_app_in(other).await;
    let res = restored
        .api_login_raw(serde_json::json!({"username": "ann", "password": "ann-Correct-Horse-9"}))
        .await;
    assert_eq!(res.status(), 200);
    let new_token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(all_contacts(&restored, &new_token).await, before);
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = cli_command(dir.path(), &["serve"])
        .env("BIND", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut port = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("Contact Vault is listening") {
            let v: Value = serde_json::from_str(&line).unwrap();
            port = v["fields"]["port"].as_u64();
            break;
        }
    }
    let port = port.expect("the server logged its port");
    let health = std::process::Command::new("curl")
        .args(["-s", &format!("http://127.0.0.1:{port}/healthz")])
        .output();
    if let Ok(out) = health {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ok");
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap();
    assert!(exit.success(), "exit {exit:?}");
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
    let mut console = String::new();
    std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut console).unwrap();
    assert!(
        console.contains("/setup/"),
        "the first-run link went to the console"
    );
}

/// Every value in every column of every table that the old key opens: after a rotation there
/// must be none (a sealed column missing from the rotation's list would be lost with the key).
async fn still_under(app: &TestApp, old: &FieldCipher, new: &FieldCipher) -> Vec<String> {
    // Every table and every text column, from the catalogue of the backend in use.
    let postgres = app.state.settings.database_url.starts_with("postgres");
    let tables: Vec<String> = sqlx::query_scalar(if postgres {
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    })
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut left = Vec::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(if postgres {
            format!(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = '{table}' \
                 AND data_type = 'text'"
            )
        } else {
            format!("SELECT name FROM pragma_table_info('{table}')")
        }))
        .fetch_all(&app.db)
        .await
        .unwrap();
        for column in columns {
            let values: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST({column} AS TEXT) FROM {table} WHERE {}",
                if postgres {
                    format!("{column} IS NOT NULL")
                } else {
                    format!("typeof({column}) = 'text'")
                }
            )))
            .fetch_all(&app.db)
            .await
            .unwrap();
            let stale = values
                .iter()
                .filter(|v| old.decrypt_bytes(v).is_ok() && new.decrypt_bytes(v).is_err())
                .count();
            if stale > 0 {
                left.push(format!("{table}.{column} ({stale})"));
            }
        }
    }
    left
}

#[tokio::test]
async fn a_rotation_reaches_every_sealed_column_cards_and_device_names_included() {
    let app = spawn_app().await;
    let user = app.create_user("ann", "user").await;
    let token = app.api_token(&user).await;
    // A card from a .vcf file, a card from a device under a name it chose, a deleted one (its
    // tombstone keeps the name), an app password (its name is sealed) and a message with a note.
    let vcf = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Card Person\r\nTEL:+1 555 0100 111\r\n\
               X-KEPT:yes\r\nEND:VCARD\r\n";
    let res = reqwest::Client::new()
        .post(app.url("/api/contacts/import/vcard"))
        .bearer_auth(&token)
        .header("content-type", "text/vcard")
        .body(vcf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .api(
            Method::POST,
            "/api/app-passwords",
            &token,
            Some(serde_json::json!({"name": "Ann's phone", "current_password": user.password})),
        )
        .await;
    let app_password = res.json::<Value>().await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    let dav = |method: &str, path: &str, body: &str| {
        reqwest::Client::new()
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .basic_auth("ann", Some(&app_password))
            .header("Depth", "1")
            .body(body.to_string())
            .send()
    };
    let book = "/dav/addressbooks/ann/contacts";
    for name in ["device-1", "device-2"] {
        let card = format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{name}\r\nFN:{name}\r\nEMAIL:{name}@example.org\r\nEND:VCARD\r\n"
        );
        let res = dav("PUT", &format!("{book}/{name}.vcf"), &card)
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let res = dav("DELETE", &format!("{book}/device-2.vcf"), "")
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let before = all_contacts(&app, &token).await;

    let data = app.dir.path().to_path_buf();
    let old_key = primary_key(&data);
    // (the wait lets the running server load the new key before rows move to it)
    let out = cli(
        &data,
        &["keys", "rotate", "--new-key", "--wait-seconds", "6"],
        "",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_key = primary_key(&data);
    assert_ne!(old_key, new_key);
    let old = FieldCipher::from_keys(&[&old_key]).unwrap();
    let new = FieldCipher::from_keys(&[&new_key]).unwrap();
    assert_eq!(still_under(&app, &old, &new).await, Vec::<String>::new());

    // And everything still opens under the new key: the book, the cards, the device's name.
    assert_eq!(all_contacts(&app, &token).await, before);
    let res = dav("GET", &format!("{book}/device-1.vcf"), "")
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .api(Method::GET, "/api/app-passwords", &token, None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()[0]["name"], "Ann's phone");
}

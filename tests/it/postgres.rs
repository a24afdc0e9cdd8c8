//! What only PostgreSQL has: `migrate-db` from SQLite, and what `backup` and `restore` say.
//! `#[ignore]`d, since they need a server: `.ci/run` runs them with CV_TEST_POSTGRES set
//! (deploy/postgres.sh starts one).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, browser, cli, cli_command, fresh_postgres_database, postgres_server, spawn_app,
    spawn_app_with, succeeded,
};
use crate::public_form::{self, PHONE};

fn server() -> String {
    postgres_server().expect("CV_TEST_POSTGRES (see deploy/postgres.sh)")
}

async fn contacts(app: &TestApp, token: &str) -> Value {
    let res = app
        .api(Method::GET, "/api/contacts?per_page=100", token, None)
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("json")
}

/// An installation to move: on a SQLite file whatever the suite runs on.
async fn sqlite_installation() -> TestApp {
    spawn_app_with(|s| {
        s.database_url = format!("sqlite://{}", s.data_dir.join("old.db").display());
    })
    .await
}

fn migrate(app: &TestApp, from: &str, to: &str) -> std::process::Output {
    cli_command(app.dir.path(), &["migrate-db", "--from", from, "--to", to])
        .output()
        .expect("binary runs")
}

#[tokio::test]
#[ignore = "needs CV_TEST_POSTGRES"]
async fn migrate_db_moves_an_installation_and_the_copy_serves_on() {
    let server = server();
    let app = sqlite_installation().await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let res = app
            .api(
                Method::POST,
                "/api/contacts",
                &token,
                Some(
                    json!({ "name": format!("Person {i}"), "phone": format!("+1 555 010 {i:04}"),
                             "tags": ["moved"], "favorite": i % 3 == 0 }),
                ),
            )
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.expect("json");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    let res = app
        .api(
            Method::DELETE,
            &format!("/api/contacts/{}", ids[0]),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let visitor = browser();
    let sent = public_form::send_form(
        &app,
        &visitor,
        &public_form::fields("Vera Visitor", "vera@example.org", PHONE),
        None,
    )
    .await;
    assert_eq!(sent.status(), 303);
    let before = contacts(&app, &token).await;
    let from = app.state.settings.database_url.clone();

    let target = fresh_postgres_database(&server).await;
    let stdout = succeeded(migrate(&app, &from, &target));
    assert!(stdout.contains("contacts: 29 rows"), "{stdout}");
    assert!(stdout.contains("submissions: 1 rows"), "{stdout}");
    assert!(stdout.contains("audit chain ok"), "{stdout}");

    // A second run finds the target filled and changes nothing.
    let again = migrate(&app, &from, &target);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("not empty"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // The copy, served with the same keys: the same token, the same book, the same trail.
    let data_dir = app.dir.path().to_path_buf();
    let copy = spawn_app_with(|s| {
        s.data_dir = data_dir;
        s.database_url = target.clone();
    })
    .await;
    assert_eq!(contacts(&copy, &token).await, before);
    // Rows as they were, not as the triggers would stamp them anew: creation order (rowid),
    // CardDAV change versions, the tombstone of the deleted contact.
    let sql = "SELECT id || ':' || rowid || ':' || changed_version FROM contacts ORDER BY id";
    let rows = |db| sqlx::query_scalar::<_, String>(sql).fetch_all(db);
    assert_eq!(rows(&copy.db).await.unwrap(), rows(&app.db).await.unwrap());
    let sql = "SELECT contact_id || ':' || version FROM dav_tombstones ORDER BY contact_id";
    let tombs = |db| sqlx::query_scalar::<_, String>(sql).fetch_all(db);
    let old_tombs = tombs(&app.db).await.unwrap();
    assert_eq!(old_tombs.len(), 1);
    assert_eq!(tombs(&copy.db).await.unwrap(), old_tombs);
    let old_trail = app.audit_actions().await;
    let new_trail = copy.audit_actions().await;
    assert!(new_trail.starts_with(&old_trail), "{new_trail:?}");
    // Ids go on after the copied ones: a new user, a new contact, the duplicate check intact.
    let bob = copy.create_user("bob", "user").await;
    assert!(copy.user_row("bob").await.id > copy.user_row("ann").await.id);
    let _ = copy.api_token(&bob).await;
    let res = copy
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({ "name": "Person 5", "phone": "+1 555 010 0005" })),
        )
        .await;
    assert_eq!(res.status(), 409, "the copied duplicate keys still count");
    let res = copy
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({ "name": "New Person", "phone": "+1 555 010 9999" })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let out = cli_command(app.dir.path(), &["audit", "verify"])
        .env("DATABASE_URL", &target)
        .output()
        .expect("binary runs");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok"),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
#[ignore = "needs CV_TEST_POSTGRES"]
async fn migrate_db_refuses_a_wrong_direction_and_a_database_of_another_app() {
    let server = server();
    let app = sqlite_installation().await;
    let from = app.state.settings.database_url.clone();
    let target = fresh_postgres_database(&server).await;
    let out = migrate(&app, &target, &from);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:// database (--from)"));

    // A database another installation already uses: refused, and left as it was.
    let other = fresh_postgres_database(&server).await;
    let serving = spawn_app_with(|s| s.database_url = other.clone()).await;
    serving.create_user("zoe", "user").await;
    let trail = serving.audit_actions().await;
    let out = migrate(&app, &from, &other);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    assert_eq!(serving.audit_actions().await, trail);
    assert_eq!(serving.user_row("zoe").await.username, "zoe");
}

#[tokio::test]
#[ignore = "needs CV_TEST_POSTGRES"]
async fn backup_and_restore_on_postgres_point_to_pg_dump_and_write_nothing() {
    let _ = server();
    let app = spawn_app().await;
    assert!(app.state.settings.database_url.starts_with("postgres"));
    let file = app.dir.path().join("copy.db");
    let file = file.to_str().expect("utf-8");
    let out = cli(app.dir.path(), &["backup", file], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
    assert!(!std::path::Path::new(file).exists(), "no file written");
    std::fs::write(file, b"not a database").expect("file");
    let out = cli(app.dir.path(), &["restore", file, "--force"], "");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("pg_restore"));
}

/// The `migrate-db` backend's latest statement on `target`, while it is in its transaction.
async fn copying_now(watch: &sqlx::AnyPool) -> Option<String> {
    sqlx::query_scalar(
        "SELECT query FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
    )
    .fetch_optional(watch)
    .await
    .expect("pg_stat_activity")
}

/// Rows in every table of `target` but the migrations' own.
async fn rows_in(watch: &sqlx::AnyPool) -> i64 {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(watch)
    .await
    .expect("tables");
    assert!(tables.len() > 10, "the schema is there: {tables:?}");
    let mut total = 0;
    for table in tables {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(watch)
                .await
                .expect("a count");
        total += n;
    }
    total
}

#[tokio::test]
#[ignore = "needs CV_TEST_POSTGRES"]
async fn migrate_db_killed_half_way_leaves_an_empty_target_and_runs_again() {
    let server = server();
    let app = sqlite_installation().await;
    crate::ops::seed_book(&app, 5000).await;
    let from = app.state.settings.database_url.clone();
    let target = fresh_postgres_database(&server).await;
    let watch = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&target)
        .await
        .expect("the target answers");

    // SIGKILL while it writes the contacts, inside its one transaction.
    let mut child = cli_command(
        app.dir.path(),
        &["migrate-db", "--from", &from, "--to", &target],
    )
    .spawn()
    .expect("binary runs");
    let started = std::time::Instant::now();
    loop {
        let now = copying_now(&watch).await.unwrap_or_default();
        if now.starts_with("INSERT INTO \"contacts\"") {
            break;
        }
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "migrate-db ended before it copied the contacts"
        );
        assert!(started.elapsed().as_secs() < 60, "the copy starts");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    // PostgreSQL rolls the dead client's transaction back: nothing of it is visible.
    let started = std::time::Instant::now();
    while copying_now(&watch).await.is_some() {
        assert!(
            started.elapsed().as_secs() < 30,
            "the server drops the dead client"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rows_in(&watch).await, 0, "all or nothing: nothing");

    // And the same command again completes, the chain verified.
    let stdout = succeeded(migrate(&app, &from, &target));
    assert!(stdout.contains("contacts: 5000 rows"), "{stdout}");
    assert!(stdout.contains("audit chain ok"), "{stdout}");
}

/// `CV_TEST_POSTGRES_CA`: the CA that signed the test server's certificate (deploy/postgres.sh).
fn server_ca() -> String {
    std::env::var("CV_TEST_POSTGRES_CA").expect("CV_TEST_POSTGRES_CA (see deploy/postgres.sh)")
}

#[tokio::test]
#[ignore = "needs CV_TEST_POSTGRES"]
async fn the_app_talks_to_postgres_over_verified_tls_and_refuses_a_stranger_certificate() {
    let server = server();
    let ca = server_ca();
    let database = fresh_postgres_database(&server).await;
    let name = database.rsplit('/').next().expect("a name").to_string();
    let url = format!("{database}?sslmode=verify-full&sslrootcert={ca}");
    let app = spawn_app_with(|s| s.database_url = url.clone()).await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;
    let body = json!({ "name": "Tls Tester", "phone": "+1 555 010 4242" });
    let res = app
        .api(Method::POST, "/api/contacts", &token, Some(body))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        contacts(&app, &token).await["contacts"][0]["name"],
        "Tls Tester"
    );
    // The server's view: every connection to that database is TLS.
    let watch = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("{server}?sslmode=disable"))
        .await
        .expect("the server answers");
    let (connections, all_tls): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN s.ssl THEN 1 ELSE 0 END), 0) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid WHERE a.datname = $1",
    )
    .bind(&name)
    .fetch_one(&watch)
    .await
    .expect("pg_stat_ssl");
    assert!(connections > 0);
    assert_eq!(all_tls, connections, "no connection in clear");

    // A certificate the configured CA did not sign stops the start, with a clear reason.
    let stranger =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("a certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(&other_ca, stranger.cert.pem()).expect("written");
    let mut settings = contact_vault::config::Settings::with_data_dir(dir.path().to_path_buf());
    settings.bind = "127.0.0.1:0".into();
    settings.database_url = format!(
        "{database}?sslmode=verify-full&sslrootcert={}",
        other_ca.display()
    );
    let started = contact_vault::startup::Application::build(
        settings,
        contact_vault::clock::Clock::default(),
    )
    .await;
    let err = match started {
        Ok(_) => panic!("a server certificate of another CA was accepted"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}

//! `spawn_app` and a method per thing a test does, in the spirit of zero-to-production.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::web;
use contact_vault::accounts::{self, UserRow};
use contact_vault::audit::Actor;
use contact_vault::clock::Clock;
use contact_vault::config::Settings;
use contact_vault::crypto::totp;
use contact_vault::startup::Application;
use contact_vault::state::AppState;
use reqwest::redirect::Policy;
use reqwest::{Client, Response};
use serde_json::Value;
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub state: web::Data<AppState>,
    /// A connection pool of the test's own on the app's database, to look at what is stored
    /// (the app's pool is private to its core), through sqlx's `Any` driver: the same test SQL
    /// runs on SQLite and PostgreSQL.
    pub db: AnyPool,
    pub clock: Clock,
    pub setup_url: Option<String>,
    pub dir: TempDir,
    /// When the app was started (the plaintext scans read the PostgreSQL WAL written since).
    pub started: std::time::SystemTime,
}

pub struct TestUser {
    pub username: String,
    pub password: String,
    /// The TOTP secret, for users with TOTP.
    pub secret: Option<Vec<u8>>,
    pub recovery_codes: Vec<String>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on(tempfile::tempdir().expect("temp dir"), configure).await
}

/// The app on a data directory prepared beforehand (e.g. by a CLI command); the directory, its
/// keys and its database are used as they are.
pub async fn spawn_app_in(dir: TempDir) -> TestApp {
    spawn_app_on(dir, |_| {}).await
}

/// A second instance of the app on `first`'s data directory (the same database and keys), as
/// a deployment runs several behind one proxy.
pub async fn spawn_app_beside(first: &TestApp, configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = first.dir.path().to_path_buf();
    let database_url = first.state.settings.database_url.clone();
    spawn_app_on(tempfile::tempdir().expect("temp dir"), move |s| {
        s.data_dir = data_dir;
        s.database_url = database_url;
        configure(s);
    })
    .await
}

async fn spawn_app_on(dir: TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    static LOGS: OnceLock<()> = OnceLock::new();
    LOGS.get_or_init(|| {
        if std::env::var("TEST_LOG").is_ok() {
            contact_vault::telemetry::init(contact_vault::config::LogFormat::Text);
        }
    });
    let mut settings = Settings::with_data_dir(dir.path().to_path_buf());
    settings.bind = "127.0.0.1:0".into();
    settings.captcha = false;
    configure(&mut settings);
    if let Some(server) = postgres_server() {
        // The whole suite on PostgreSQL: each app its own fresh database (an instance beside
        // another gets the other's URL from `configure`, so shares it).
        // A directory the binary has already worked on (`cli`) keeps the database it used.
        let default = Settings::with_data_dir(settings.data_dir.clone()).database_url;
        if settings.database_url == default {
            settings.database_url = match database_of(&settings.data_dir) {
                Some(url) => url,
                None => fresh_postgres_database(&server).await,
            };
        }
    }
    remember_database(&settings.data_dir, &settings.database_url);
    let db = inspect(&settings.database_url).await;
    let clock = Clock::default();
    let app = Application::build(settings, clock.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let setup_url = app.setup_url().map(str::to_string);
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        state,
        db,
        clock,
        setup_url,
        dir,
        started: std::time::SystemTime::now(),
    }
}

/// A pool on the database at `url` for the test to read and poke at what is stored. It opens
/// lazily, after the app has created and migrated the database.
async fn inspect(url: &str) -> AnyPool {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                        .await?;
                }
                Ok(())
            })
        })
        .connect_lazy(url)
        .expect("database url")
}

/// `CV_TEST_POSTGRES`: the URL of a PostgreSQL role that may create databases. When it is set
/// (`.ci/run` sets it, see deploy/postgres.sh), the suite runs on PostgreSQL instead of a
/// SQLite file per test.
pub fn postgres_server() -> Option<String> {
    std::env::var("CV_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A new, empty database on the server, and its URL.
pub async fn fresh_postgres_database(server: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "cv_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(server)
        .await
        .expect("CV_TEST_POSTGRES answers");
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .expect("test database created");
    let (base, _) = server
        .rsplit_once('/')
        .expect("CV_TEST_POSTGRES ends in /database");
    format!("{base}/{name}")
}

/// Which database each data directory's app uses, so that the binary run on that directory
/// (`cli`) works on the same one.
fn databases() -> &'static std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>> {
    static DATABASES: OnceLock<
        std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, String>>,
    > = OnceLock::new();
    DATABASES.get_or_init(Default::default)
}

fn remember_database(data_dir: &std::path::Path, url: &str) {
    if let Ok(mut map) = databases().lock() {
        map.insert(data_dir.to_path_buf(), url.to_string());
    }
}

/// The database of the app started on `data_dir`, if any.
pub fn database_of(data_dir: &std::path::Path) -> Option<String> {
    databases().lock().ok()?.get(data_dir).cloned()
}

/// A fresh loopback address (127.1.x.y) for each visitor, so that the per-address sign-in
/// budget (5 at once) counts each test client on its own, as it would each person's browser.
pub fn next_address() -> std::net::IpAddr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(
        127,
        1,
        (n / 250 % 250) as u8,
        (n % 250 + 1) as u8,
    ))
}

/// A browser: its own cookie jar and address, no automatic redirects.
pub fn browser() -> Client {
    browser_from(next_address())
}

/// A browser at a given address (for tests of the per-address limits).
pub fn browser_from(address: std::net::IpAddr) -> Client {
    Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .local_address(address)
        .build()
        .expect("client")
}

/// A cookie-less client (a script) from its own address.
pub fn script() -> Client {
    Client::builder()
        .local_address(next_address())
        .build()
        .expect("client")
}

/// The value of `<input type="hidden" name="csrf_token" value="...">` in a page.
pub fn csrf_in(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_string()
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("request")
    }

    pub async fn get_html(&self, client: &Client, path: &str) -> String {
        self.get(client, path).await.text().await.expect("body")
    }

    /// Posts a form the way a browser would after loading `form_page` (for its CSRF token).
    pub async fn post_form(
        &self,
        client: &Client,
        form_page: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let token = csrf_in(&self.get_html(client, form_page).await);
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        client
            .post(self.url(path))
            .form(&all)
            .send()
            .await
            .expect("request")
    }

    pub async fn create_user(&self, username: &str, role: &str) -> TestUser {
        let password = format!("{username}-Correct-Horse-9");
        let by = Actor {
            user_id: None,
            username: "test",
        };
        accounts::create_user(&self.state, by, username, &password, role)
            .await
            .expect("user created");
        let mut user = TestUser {
            username: username.into(),
            password,
            secret: None,
            recovery_codes: vec![],
        };
        if role == "admin" {
            let row = self.unlocked_row(username).await;
            let (secret, codes) = accounts::enrol_totp_headless(&self.state, &row)
                .await
                .expect("enrolled");
            user.secret = Some(secret);
            user.recovery_codes = codes;
        }
        user
    }

    pub async fn user_row(&self, username: &str) -> UserRow {
        accounts::user_by_name(&self.state, username)
            .await
            .expect("query")
            .expect("user exists")
    }

    /// The row of a user made by [`TestApp::create_user`], with their keys opened by their
    /// password: for driving the core's services directly, as a signed-in request does.
    pub async fn unlocked_row(&self, username: &str) -> UserRow {
        let mut row = self.user_row(username).await;
        accounts::keys::unlock_with_password(&mut row, &format!("{username}-Correct-Horse-9"))
            .await
            .expect("the password opens the user's keys");
        row
    }

    /// Gives user `id` a password hash made elsewhere, as an imported account has: with no keys
    /// of their own yet (they are made from the password at the next sign-in).
    pub async fn set_password_hash(&self, id: i64, hash: &str) {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&self.db)
            .await
            .expect("hash replaced");
        self.forget_keys(id).await;
    }

    /// Takes user `id`'s own keys away, as a database from before users had them: their book
    /// is under the server's keys until their next sign-in with the password.
    pub async fn forget_keys(&self, id: i64) {
        // A TOTP secret goes back under the server's keys, where it was before users had keys.
        let name: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&self.db)
            .await
            .expect("the user exists");
        let row = self.unlocked_row(&name).await;
        if let (Some(token), Some(keys)) = (&row.totp_secret, &row.keys) {
            let secret = keys
                .book()
                .cipher
                .decrypt_bytes(token)
                .expect("TOTP secret");
            sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2")
                .bind(self.state.keys.cipher.encrypt_bytes(&secret))
                .bind(id)
                .execute(&self.db)
                .await
                .expect("TOTP secret under the server keys");
        }
        for sql in [
            "UPDATE users SET public_key = NULL, key_salt = NULL, key_wrap = NULL, \
             key_state = NULL WHERE id = $1",
            "UPDATE api_tokens SET key_wrap = NULL WHERE user_id = $1",
            "UPDATE app_passwords SET key_wrap = NULL WHERE user_id = $1",
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&self.db)
                .await
                .expect("keys forgotten");
        }
    }

    /// A fresh TOTP code: moves the clock one step on first, since each step works once.
    pub fn next_code(&self, secret: &[u8]) -> String {
        self.clock.advance(30);
        totp::code_at(secret, self.clock.now() as u64)
    }

    /// Signs `client` in through the pages (password, then TOTP when the user has it).
    pub async fn login_web(&self, client: &Client, user: &TestUser) {
        let res = self
            .post_form(
                client,
                "/login",
                "/login",
                &[("username", &user.username), ("password", &user.password)],
            )
            .await;
        assert_eq!(res.status(), 303, "password step");
        if let Some(secret) = &user.secret {
            assert_eq!(location(&res), "/login/totp");
            let code = self.next_code(secret);
            let res = self
                .post_form(client, "/login/totp", "/login/totp", &[("code", &code)])
                .await;
            assert_eq!(res.status(), 303, "TOTP step");
            assert_eq!(location(&res), "/contacts");
        } else {
            assert_eq!(location(&res), "/contacts");
        }
    }

    pub async fn api_login_raw(&self, body: Value) -> Response {
        script()
            .post(self.url("/api/login"))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// A bearer token for `user`.
    pub async fn api_token(&self, user: &TestUser) -> String {
        let mut body = serde_json::json!({ "username": user.username, "password": user.password });
        if let Some(secret) = &user.secret {
            body["otp"] = Value::String(self.next_code(secret));
        }
        let res = self.api_login_raw(body).await;
        assert_eq!(res.status(), 200);
        let json: Value = res.json().await.expect("json");
        json["token"].as_str().expect("token").to_string()
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = Client::new()
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("request")
    }

    pub async fn audit_actions(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT action FROM audit_log ORDER BY id")
            .fetch_all(&self.db)
            .await
            .expect("audit rows")
    }
}

/// The real binary with `DATA_DIR=data_dir` and no keys from the environment.
pub fn cli_command(data_dir: &std::path::Path, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_contact-vault"));
    cmd.args(args)
        .env("DATA_DIR", data_dir)
        .env_remove("DATABASE_URL")
        .env_remove("FERNET_KEYS")
        .env_remove("BLIND_INDEX_KEY")
        .env_remove("SECRET_KEY")
        .current_dir(data_dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(url) = cli_database(data_dir) {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

/// On PostgreSQL, the database of the directory's app, or a fresh one that an app started on
/// the directory later takes over.
fn cli_database(data_dir: &std::path::Path) -> Option<String> {
    let server = postgres_server()?;
    if let Some(url) = database_of(data_dir) {
        return Some(url);
    }
    // `cli` is called from async tests and from plain ones: a runtime of its own on a thread.
    let url = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .expect("runtime")
            .block_on(fresh_postgres_database(&server))
    })
    .join()
    .expect("test database created");
    remember_database(data_dir, &url);
    Some(url)
}

/// Runs the binary to completion with `stdin` as its input.
/// The stdout of a command that must have succeeded (else its output is the failure).
pub fn succeeded(out: std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn cli(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cli_command(data_dir, args).spawn().expect("binary runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("stdin written");
    drop(input);
    child.wait_with_output().expect("binary finishes")
}

/// Does `haystack` hold `needle` anywhere?
pub fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

impl TestApp {
    /// Is this app on PostgreSQL (`CV_TEST_POSTGRES`)?
    pub fn on_postgres(&self) -> bool {
        self.state.settings.database_url.starts_with("postgres")
    }

    /// Everything this app keeps at rest, as (where, bytes), for the plaintext scans: every
    /// file under its data directory (on SQLite the database and its WAL, checkpointed first);
    /// on PostgreSQL also, after a `CHECKPOINT`, the files of its database and the WAL
    /// segments written since it started, and the text of every row of every table (a value
    /// TOAST compresses on disk is in clear there).
    pub async fn at_rest(&self) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        if self.on_postgres() {
            self.postgres_at_rest(&mut found).await;
        } else {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.db)
                .await
                .expect("checkpoint");
        }
        let mut dirs = vec![self.dir.path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).expect("data dir") {
                let path = entry.expect("an entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let bytes = std::fs::read(&path).expect("readable");
                    found.push((path.display().to_string(), bytes));
                }
            }
        }
        found
    }

    async fn postgres_at_rest(&self, found: &mut Vec<(String, Vec<u8>)>) {
        sqlx::query("CHECKPOINT")
            .execute(&self.db)
            .await
            .expect("CHECKPOINT (the test role is a superuser)");
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&self.db)
        .await
        .expect("tables");
        for table in tables {
            let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT CAST(t AS TEXT) FROM {table} t"
            )))
            .fetch_all(&self.db)
            .await
            .expect("rows");
            found.push((format!("rows of {table}"), rows.join("\n").into_bytes()));
        }
        let data: String =
            sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
                .fetch_one(&self.db)
                .await
                .expect("data_directory");
        let oid: String = sqlx::query_scalar(
            "SELECT CAST(oid AS TEXT) FROM pg_database WHERE datname = current_database()",
        )
        .fetch_one(&self.db)
        .await
        .expect("the database's oid");
        let data = std::path::Path::new(&data);
        let since = self.started - std::time::Duration::from_secs(2);
        // All of the database's files; of the cluster's WAL, what was written since the start.
        for (dir, all) in [
            (data.join("base").join(oid), true),
            (data.join("pg_wal"), false),
        ] {
            for entry in std::fs::read_dir(&dir).expect("the cluster's files are readable") {
                let path = entry.expect("an entry").path();
                let modified = path.metadata().and_then(|m| m.modified());
                if !path.is_file() || !(all || modified.is_ok_and(|t| t >= since)) {
                    continue;
                }
                // (a file can go between the listing and the read: a dropped temp table)
                if let Ok(bytes) = std::fs::read(&path) {
                    found.push((path.display().to_string(), bytes));
                }
            }
        }
    }
}

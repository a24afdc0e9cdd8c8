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
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use tempfile::TempDir;

pub struct TestApp {
    pub address: String,
    pub state: web::Data<AppState>,
    /// A connection pool of the test's own on the app's database, to look at what is stored
    /// (the app's pool is private to its core).
    pub db: SqlitePool,
    pub clock: Clock,
    pub setup_url: Option<String>,
    pub dir: TempDir,
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
    }
}

/// A pool on the database at `url` for the test to read and poke at what is stored. It opens
/// lazily, after the app has created and migrated the file.
async fn inspect(url: &str) -> SqlitePool {
    let options: SqliteConnectOptions = url.parse().expect("database url");
    let options = options
        .busy_timeout(std::time::Duration::from_secs(10))
        .foreign_keys(true);
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_lazy_with(options)
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
            let row = self.user_row(username).await;
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

    /// Replaces a user's stored password hash behind the app's back (an old account's hash).
    pub async fn set_password_hash(&self, id: i64, hash: &str) {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id)
            .execute(&self.db)
            .await
            .expect("hash replaced");
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
    cmd
}

/// Runs the binary to completion with `stdin` as its input.
pub fn cli(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cli_command(data_dir, args).spawn().expect("binary runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("stdin written");
    drop(input);
    child.wait_with_output().expect("binary finishes")
}

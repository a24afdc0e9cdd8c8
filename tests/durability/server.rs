//! The release binary as a child process: start on a data directory, wait for `/healthz`,
//! SIGKILL, stop, read its memory; and the CLI commands the tests need.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a start may take before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `CV_BIN`, or `target/release/contact-vault`, made absolute (the child runs elsewhere).
pub fn binary() -> PathBuf {
    let path = PathBuf::from(
        std::env::var("CV_BIN").unwrap_or_else(|_| "target/release/contact-vault".into()),
    );
    let path = if path.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    } else {
        path
    };
    assert!(
        path.is_file(),
        "no binary at {} (build it with `cargo build --release --locked --bin contact-vault` \
         or point CV_BIN at one)",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The binary with `DATA_DIR=data_dir`, run in that directory (so no `.env` is picked up),
/// with every key, NumVerify and proxy variable of the caller's environment removed.
fn command(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(data_dir)
        .env("DATA_DIR", data_dir)
        .env("CAPTCHA", "off")
        // The writers and the steady API clients are one user each, faster than a person:
        // the per-user limits are not what these tests measure.
        .env("API_RATE_PER_SECOND", "1000000")
        .env("IMPORT_BURST", "1000")
        .env("RUST_LOG", "warn")
        .env("LOG_FORMAT", "text");
    for var in [
        "DATABASE_URL",
        "PUBLIC_URL",
        "TRUSTED_PROXIES",
        "NUMVERIFY_API_KEY",
        "NUMVERIFY_API_KEY_FILE",
        "NUMVERIFY_URL",
        "FERNET_KEYS",
        "FERNET_KEYS_FILE",
        "BLIND_INDEX_KEY",
        "BLIND_INDEX_KEY_FILE",
        "SECRET_KEY",
        "SECRET_KEY_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a CLI command to completion with `stdin` as its input.
pub fn cli(data_dir: &Path, args: &[&str], stdin: &str) -> Output {
    cli_with(data_dir, args, stdin, &[])
}

/// [`cli`] with these variables set on top (e.g. a `DATABASE_URL`).
pub fn cli_with(data_dir: &Path, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = command(data_dir, args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the contact-vault binary runs");
    let mut input = child.stdin.take().expect("the CLI's stdin");
    input
        .write_all(stdin.as_bytes())
        .expect("password written to the CLI");
    drop(input);
    child.wait_with_output().expect("the CLI finishes")
}

/// `contact-vault user add NAME --role user --password-stdin`.
pub fn add_user(data_dir: &Path, name: &str, password: &str) {
    let out = cli(
        data_dir,
        &["user", "add", name, "--role", "user", "--password-stdin"],
        &format!("{password}\n"),
    );
    assert!(
        out.status.success(),
        "user add {name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct Server {
    child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts the server on `port` and waits until `/healthz` answers 200. An error carries
    /// the end of the server's log (e.g. the port was taken).
    pub async fn start(data_dir: &Path, port: u16) -> Result<Server, String> {
        Server::start_with(data_dir, port, &[]).await
    }

    /// [`Server::start`] with these variables set on top.
    pub async fn start_with(
        data_dir: &Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> Result<Server, String> {
        let log = data_dir.join("server.log");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("server log file opens");
        let err = out.try_clone().expect("server log handle clones");
        let child = command(data_dir, &["serve"])
            .env("BIND", format!("127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("the contact-vault binary starts");
        let mut server = Server { child, port, log };
        server.wait_healthy().await?;
        Ok(server)
    }

    /// Starts on `port`, or on a fresh port if that one cannot be bound.
    pub async fn start_near(data_dir: &Path, port: u16) -> Server {
        match Server::start(data_dir, port).await {
            Ok(server) => server,
            Err(first) => {
                eprintln!("start on port {port} failed ({first}); trying a fresh port");
                Server::start(data_dir, free_port())
                    .await
                    .expect("the server starts on a fresh port")
            }
        }
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("health-check client");
        let url = format!("{}/healthz", self.base());
        let started = Instant::now();
        while started.elapsed() < START_TIMEOUT {
            if let Some(status) = self.child.try_wait().expect("child status readable") {
                return Err(format!("server exited with {status}: {}", self.log_tail()));
            }
            if let Ok(res) = client.get(&url).send().await
                && res.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "no 200 from /healthz within {START_TIMEOUT:?}: {}",
            self.log_tail()
        ))
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and reap the process.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL delivered");
        self.child.wait().expect("killed server reaped");
    }

    /// SIGTERM (graceful: in-flight requests finish, the pool closes), then waits for the exit.
    pub fn stop(mut self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("`kill` runs");
        assert!(sent.success(), "SIGTERM delivered");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("child status readable") {
                assert!(
                    status.success(),
                    "server exited with {status} after SIGTERM: {}",
                    self.log_tail()
                );
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(40),
                "server still running 40 s after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `VmRSS` and `VmHWM` (peak) of the server process, in KiB.
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        memory_kib(self.pid())
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.log, 20)
    }
}

/// The last `n` lines of a log file.
pub fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What every server started on `data_dir` wrote (warnings and errors: `RUST_LOG=warn`) must
/// hold no panic: a panicking handler drops its worker's connections.
pub fn assert_no_panic(data_dir: &Path) {
    let path = data_dir.join("server.log");
    let text = std::fs::read_to_string(&path).expect("server log readable");
    assert!(
        !text.contains("panicked"),
        "the server panicked; its log ends:\n{}",
        log_tail(&path, 40)
    );
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `VmRSS` and `VmHWM` (peak) of process `pid`, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

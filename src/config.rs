//! Typed settings from the environment (and `.env`). Every setting is declared here once,
//! with its default; `.env.example` documents the same list for operators.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::keys::KeySources;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on, `BIND` (default `127.0.0.1:8080`).
    pub bind: String,
    /// Public origin such as `https://contacts.example.org`, `PUBLIC_URL`. When it is https,
    /// cookies become `Secure` + `__Host-` and HSTS is sent.
    pub public_url: Option<String>,
    /// `DATA_DIR` (default `./data`): database and generated keys.
    pub data_dir: PathBuf,
    /// `DATABASE_URL` or `DATABASE_URL_FILE` (default `sqlite://DATA_DIR/contact-vault.db`;
    /// or `postgres://…`). Never logged: it may hold a password.
    pub database_url: String,
    /// `FERNET_KEYS`, `BLIND_INDEX_KEY`, `SECRET_KEY` (or `*_FILE`), as given.
    pub keys: KeySources,
    pub numverify_api_key: Option<SecretString>,
    pub numverify_url: String,
    pub default_country: String,
    /// `CAPTCHA` (`on` by default; `off` for development and automated tests).
    pub captcha: bool,
    /// `TRUSTED_PROXIES`: comma-separated CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub token_ttl_seconds: i64,
    /// `API_RATE_PER_SECOND` (default 20): API calls a second per user, in bursts of up to
    /// five seconds' worth.
    pub api_rate_per_second: u32,
    /// `IMPORT_BURST` (default 4): CSV imports a user may start at once; then one every 30 s.
    pub import_burst: u32,
    /// `DIRECTORY_CACHE_MB` (default 128): memory for the decrypted search directories of
    /// the books in use; the least recently used go first. 0 keeps none (every list and
    /// search decrypts the whole book: only for comparisons).
    pub directory_cache_mb: usize,
    /// `SMTP_URL` (or `SMTP_URL_FILE`): e-mail notifications of new messages, lettre's URL
    /// form (`smtp://user:pass@host:587?tls=required`). With `NOTIFY_EMAIL_FROM` and
    /// `NOTIFY_EMAIL_TO` (comma-separated).
    pub smtp_url: Option<SecretString>,
    /// `SMTP_CA_FILE`: PEM certificates trusted for the SMTP server's TLS besides the system's
    /// (a private mail server's own CA).
    pub smtp_ca_file: Option<PathBuf>,
    pub notify_email_from: Option<String>,
    pub notify_email_to: Vec<String>,
    /// `NOTIFY_WEBHOOK_URL`, signed with `NOTIFY_WEBHOOK_SECRET` (or `_FILE`).
    pub notify_webhook_url: Option<String>,
    pub notify_webhook_secret: Option<SecretString>,
    /// `NOTIFY_DIGEST_SECONDS` (default 60): at most one notification a channel in that time;
    /// what arrives meanwhile is told of in the next one.
    pub notify_digest_seconds: i64,
    /// `NOTIFY_RETRY_SECONDS` (default 30): the wait after a failed delivery, doubled with
    /// each further failure (at most an hour; ten attempts).
    pub notify_retry_seconds: i64,
    /// `REDIS_URL` (or `REDIS_URL_FILE`): count every rate limit in this Redis, so that
    /// several instances allow together what one allows (`redis://host:6379/0`,
    /// `rediss://…` for TLS, `redis+unix:///path`). Unset: each instance counts its own.
    pub redis_url: Option<SecretString>,
    pub log_format: LogFormat,
}

/// `LOG_FORMAT` (`text`, the default, or `json`). Read on its own too, since logging starts
/// before the rest of the settings are loaded.
pub fn log_format_from_env() -> anyhow::Result<LogFormat> {
    match var("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(_) => bail!("LOG_FORMAT must be `text` or `json`"),
    }
}

impl Settings {
    /// Defaults for everything, data in `data_dir`. Tests start from this.
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        let database_url = default_database_url(&data_dir);
        Settings {
            bind: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir,
            database_url,
            keys: KeySources::default(),
            numverify_api_key: None,
            numverify_url: "http://apilayer.net/api/validate".into(),
            default_country: "US".into(),
            captcha: true,
            trusted_proxies: Vec::new(),
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            token_ttl_seconds: 3600,
            api_rate_per_second: 20,
            import_burst: 4,
            directory_cache_mb: vault_core::vault::DIRECTORY_BUDGET_BYTES / (1024 * 1024),
            smtp_url: None,
            smtp_ca_file: None,
            notify_email_from: None,
            notify_email_to: Vec::new(),
            notify_webhook_url: None,
            notify_webhook_secret: None,
            notify_digest_seconds: 60,
            notify_retry_seconds: 30,
            redis_url: None,
            log_format: LogFormat::Text,
        }
    }

    /// Reads the process environment (after loading `.env` if there is one).
    pub fn from_env() -> anyhow::Result<Self> {
        let _ = dotenvy::dotenv();
        let data_dir = PathBuf::from(var("DATA_DIR").unwrap_or_else(|| "./data".into()));
        let mut s = Settings::with_data_dir(data_dir);
        if let Some(v) = var("BIND") {
            s.bind = v;
        }
        s.public_url = var("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        // From a file too: a PostgreSQL URL carries the database password.
        if let Some((v, _)) = secret("DATABASE_URL")? {
            s.database_url = v.expose_secret().to_string();
        }
        s.keys = KeySources {
            fernet_keys: secret("FERNET_KEYS")?,
            blind_index_key: secret("BLIND_INDEX_KEY")?,
            secret_key: secret("SECRET_KEY")?,
        };
        s.numverify_api_key = secret("NUMVERIFY_API_KEY")?.map(|(v, _)| v);
        if let Some(v) = var("NUMVERIFY_URL") {
            s.numverify_url = v;
        }
        if let Some(v) = var("DEFAULT_COUNTRY") {
            s.default_country = v.to_ascii_uppercase();
        }
        if let Some(v) = var("CAPTCHA") {
            s.captcha = parse_switch("CAPTCHA", &v)?;
        }
        if let Some(v) = var("TRUSTED_PROXIES") {
            s.trusted_proxies = parse_proxies(&v)?;
        }
        if let Some(v) = var("SESSION_IDLE_MINUTES") {
            s.session_idle_minutes = parse_number("SESSION_IDLE_MINUTES", &v)?;
        }
        if let Some(v) = var("SESSION_ABSOLUTE_HOURS") {
            s.session_absolute_hours = parse_number("SESSION_ABSOLUTE_HOURS", &v)?;
        }
        if let Some(v) = var("TOKEN_TTL_SECONDS") {
            s.token_ttl_seconds = parse_number("TOKEN_TTL_SECONDS", &v)?;
        }
        if let Some(v) = var("API_RATE_PER_SECOND") {
            s.api_rate_per_second = parse_limit("API_RATE_PER_SECOND", &v)?;
        }
        if let Some(v) = var("IMPORT_BURST") {
            s.import_burst = parse_limit("IMPORT_BURST", &v)?;
        }
        if let Some(v) = var("DIRECTORY_CACHE_MB") {
            s.directory_cache_mb = v
                .trim()
                .parse()
                .ok()
                .filter(|mb| *mb <= 1024 * 1024)
                .context("DIRECTORY_CACHE_MB must be a whole number of megabytes")?;
        }
        s.smtp_url = secret("SMTP_URL")?.map(|(v, _)| v);
        s.redis_url = secret("REDIS_URL")?.map(|(v, _)| v);
        s.smtp_ca_file = var("SMTP_CA_FILE").map(PathBuf::from);
        s.notify_email_from = var("NOTIFY_EMAIL_FROM").map(|v| v.trim().to_string());
        if let Some(v) = var("NOTIFY_EMAIL_TO") {
            s.notify_email_to = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect();
        }
        s.notify_webhook_url = var("NOTIFY_WEBHOOK_URL").map(|v| v.trim().to_string());
        s.notify_webhook_secret = secret("NOTIFY_WEBHOOK_SECRET")?.map(|(v, _)| v);
        if let Some(v) = var("NOTIFY_DIGEST_SECONDS") {
            s.notify_digest_seconds = parse_number("NOTIFY_DIGEST_SECONDS", &v)?;
        }
        if let Some(v) = var("NOTIFY_RETRY_SECONDS") {
            s.notify_retry_seconds = parse_number("NOTIFY_RETRY_SECONDS", &v)?;
        }
        s.log_format = log_format_from_env()?;
        s.validate()?;
        Ok(s)
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("PUBLIC_URL must start with http:// or https://");
        }
        if self.default_country.len() != 2 {
            bail!("DEFAULT_COUNTRY must be a two-letter country code such as US");
        }
        if self.session_idle_minutes < 1 || self.session_absolute_hours < 1 {
            bail!("SESSION_IDLE_MINUTES and SESSION_ABSOLUTE_HOURS must be at least 1");
        }
        if self.token_ttl_seconds < 60 {
            bail!("TOKEN_TTL_SECONDS must be at least 60");
        }
        if !(0..=86_400).contains(&self.notify_digest_seconds) {
            bail!("NOTIFY_DIGEST_SECONDS must be from 0 to 86400");
        }
        if !(1..=3600).contains(&self.notify_retry_seconds) {
            bail!("NOTIFY_RETRY_SECONDS must be from 1 to 3600");
        }
        Ok(())
    }

    /// True when the app is served over https (per `PUBLIC_URL`).
    pub fn is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }

    /// Is this peer one of the configured reverse proxies?
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("contact-vault.db").display())
}

/// A variable's value, with empty treated as unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret from `NAME` or from the file named by `NAME_FILE` (Docker secrets).
/// Returns the value and where it came from, for error messages that never show the value.
fn secret(name: &str) -> anyhow::Result<Option<(SecretString, String)>> {
    if let Some(v) = var(name) {
        return Ok(Some((
            SecretString::from(v.trim().to_string()),
            name.to_string(),
        )));
    }
    let file_var = format!("{name}_FILE");
    match var(&file_var) {
        Some(path) => {
            let v = std::fs::read_to_string(&path)
                .with_context(|| format!("{file_var}: cannot read {path}"))?;
            Ok(Some((SecretString::from(v.trim().to_string()), file_var)))
        }
        None => Ok(None),
    }
}

fn parse_switch(name: &str, v: &str) -> anyhow::Result<bool> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => bail!("{name} must be `on` or `off`"),
    }
}

fn parse_number(name: &str, v: &str) -> anyhow::Result<i64> {
    v.trim()
        .parse()
        .with_context(|| format!("{name} must be a whole number"))
}

fn parse_limit(name: &str, v: &str) -> anyhow::Result<u32> {
    v.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=1_000_000).contains(n))
        .with_context(|| format!("{name} must be a whole number from 1 to 1000000"))
}

/// Parses `TRUSTED_PROXIES`: CIDRs or single addresses, comma-separated.
pub fn parse_proxies(v: &str) -> anyhow::Result<Vec<IpNet>> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .with_context(|| format!("TRUSTED_PROXIES: `{s}` is not an address or CIDR"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_accept_cidrs_and_plain_addresses() {
        let nets = parse_proxies("10.0.0.0/8, 127.0.0.1,::1").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[0].contains(&"10.1.2.3".parse::<IpAddr>().unwrap()));
        assert!(parse_proxies("10.0.0.0/8,nonsense").is_err());
        assert!(parse_proxies("").unwrap().is_empty());
    }

    #[test]
    fn https_detection() {
        let mut s = Settings::with_data_dir("d".into());
        assert!(!s.is_https());
        s.public_url = Some("https://contacts.example.org".into());
        assert!(s.is_https());
        s.public_url = Some("ftp://x".into());
        assert!(s.validate().is_err());
    }
}

//! Notification mail over STARTTLS (issue 17): a mail server whose certificate comes from a
//! private CA is trusted through `SMTP_CA_FILE`, and nothing goes out in clear or to a server
//! that is not trusted when `tls=required`.

use std::path::Path;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use secrecy::SecretString;

use crate::helpers::{TestApp, spawn_app_with};
use crate::notify::{Mails, smtp_sink_with, submit};

/// A throwaway CA and a server certificate for `localhost` under it, written to `dir`:
/// `ca.pem`, `server.pem`, `server.key`.
fn certificates(dir: &Path) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Contact Vault test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.pem"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
}

fn starttls_sink(dir: &Path) -> (u16, Mails) {
    smtp_sink_with(mailin_embedded::SslConfig::SelfSigned {
        cert_path: dir.join("server.pem").display().to_string(),
        key_path: dir.join("server.key").display().to_string(),
    })
}

async fn app_mailing(port: u16, ca_file: Option<&Path>) -> TestApp {
    let ca_file = ca_file.map(Path::to_path_buf);
    spawn_app_with(move |s| {
        s.smtp_url = Some(SecretString::from(format!(
            "smtp://localhost:{port}?tls=required"
        )));
        s.smtp_ca_file = ca_file;
        s.notify_email_from = Some("vault@example.org".into());
        s.notify_email_to = vec!["ops@example.org".into()];
        s.notify_retry_seconds = 60;
    })
    .await
}

/// The outbox's email row once it has been tried: (status, last error).
async fn first_try(app: &TestApp) -> (String, Option<String>) {
    for _ in 0..150 {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, last_error FROM notify_outbox WHERE channel = 'email' AND attempts > 0",
        )
        .fetch_optional(&app.db)
        .await
        .unwrap();
        if let Some(row) = row {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the notification was never tried");
}

#[tokio::test]
async fn mail_goes_over_starttls_to_a_server_trusted_through_smtp_ca_file() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let (port, mails) = starttls_sink(certs.path());
    let app = app_mailing(port, Some(&certs.path().join("ca.pem"))).await;
    submit(&app).await;
    assert_eq!(first_try(&app).await, ("sent".to_string(), None));
    let got = mails.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, vec!["ops@example.org".to_string()]);
    assert!(got[0].1.contains("A new message arrived"));
}

#[tokio::test]
async fn a_server_whose_certificate_is_not_trusted_gets_nothing() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let (port, mails) = starttls_sink(certs.path());
    let app = app_mailing(port, None).await;
    submit(&app).await;
    let (status, error) = first_try(&app).await;
    assert_eq!(status, "pending", "to be retried");
    assert!(
        error.as_deref().is_some_and(|e| e.starts_with("smtp:")),
        "{error:?}"
    );
    assert!(mails.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_server_that_offers_no_starttls_gets_nothing_in_clear() {
    let certs = tempfile::tempdir().unwrap();
    certificates(certs.path());
    let (port, mails) = smtp_sink_with(mailin_embedded::SslConfig::None);
    let app = app_mailing(port, Some(&certs.path().join("ca.pem"))).await;
    submit(&app).await;
    let (status, error) = first_try(&app).await;
    assert_eq!(status, "pending");
    assert!(error.is_some());
    assert!(mails.lock().unwrap().is_empty());
}

#[tokio::test]
async fn smtp_ca_file_with_a_url_that_asks_for_no_tls_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let data = dir.path().to_path_buf();
    let ca = dir.path().join("ca.pem");
    let out = tokio::task::spawn_blocking(move || {
        crate::helpers::cli_command(&data, &["notify", "test"])
            .env("SMTP_URL", "smtp://localhost:2525")
            .env("SMTP_CA_FILE", ca)
            .env("NOTIFY_EMAIL_FROM", "vault@example.org")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SMTP_CA_FILE is set but SMTP_URL asks for no TLS"),
        "{stderr}"
    );
}

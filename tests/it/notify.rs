//! Admins told of new messages (issue 17): through a real webhook receiver (wiremock) and a
//! real SMTP server (mailin-embedded), with no personal data in anything sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{TestApp, browser, spawn_app_with};
use crate::public_form::{PHONE, fields, send_form};

const SECRET: &str = "webhook-secret-for-the-test-7c1e";
const NAME: &str = "Zelda Quarterman";
const EMAIL: &str = "zelda.q@example.org";

async fn with_webhook(hook: &MockServer, digest: i64) -> TestApp {
    let url = format!("{}/hook", hook.uri());
    spawn_app_with(move |s| {
        s.notify_webhook_url = Some(url);
        s.notify_webhook_secret = Some(SecretString::from(SECRET));
        s.notify_digest_seconds = digest;
        s.notify_retry_seconds = 1;
    })
    .await
}

pub(crate) async fn submit(app: &TestApp) {
    let res = send_form(app, &browser(), &fields(NAME, EMAIL, PHONE), None).await;
    assert_eq!(res.status(), 303, "the form was taken");
}

/// The requests the receiver has had, once there are `n` of them (at most 15 s).
async fn received(hook: &MockServer, n: usize) -> Vec<wiremock::Request> {
    for _ in 0..150 {
        let got = hook.received_requests().await.unwrap_or_default();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the webhook did not get {n} requests");
}

fn json(req: &wiremock::Request) -> serde_json::Value {
    serde_json::from_slice(&req.body).expect("a JSON body")
}

fn assert_signed(req: &wiremock::Request) {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name}"))
            .to_string()
    };
    let timestamp = header("X-Contact-Vault-Timestamp");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&req.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header("X-Contact-Vault-Signature"), expected);
    let sent: i64 = timestamp.parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!((now - sent).abs() < 60, "a current timestamp");
}

pub(crate) fn assert_no_personal_data(text: &str) {
    for personal in [NAME, "Zelda", EMAIL, "7946", "Please call me"] {
        assert!(!text.contains(personal), "{personal:?} in {text}");
    }
}

pub(crate) async fn outbox(app: &TestApp) -> Vec<(String, i64, String, i64)> {
    sqlx::query_as("SELECT channel, messages, status, attempts FROM notify_outbox ORDER BY id")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_message_is_told_to_the_webhook_signed_and_without_personal_data() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let app = with_webhook(&hook, 600).await;
    submit(&app).await;
    let got = received(&hook, 1).await;
    assert_signed(&got[0]);
    let body = json(&got[0]);
    assert_eq!(body["event"], "messages");
    assert_eq!(body["new"], 1);
    assert_eq!(body["waiting"], 1);
    assert!(
        body["url"]
            .as_str()
            .unwrap()
            .ends_with("/admin/submissions")
    );
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("A new message arrived")
    );
    assert_no_personal_data(&String::from_utf8_lossy(&got[0].body));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        outbox(&app).await,
        vec![("webhook".into(), 1, "sent".into(), 1)]
    );
}

#[tokio::test]
async fn a_burst_of_messages_is_told_in_one_digest() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let app = with_webhook(&hook, 600).await;
    submit(&app).await;
    assert_eq!(json(&received(&hook, 1).await[0])["new"], 1);
    // Three more within the digest window: nothing goes out until it has passed, then one
    // notification tells of all three.
    for _ in 0..3 {
        submit(&app).await; // (each advances the app's clock by 3 s)
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        hook.received_requests().await.unwrap().len(),
        1,
        "held back"
    );
    app.clock.advance(600);
    let got = received(&hook, 2).await;
    let digest = json(&got[1]);
    assert_eq!(
        (digest["new"].as_i64(), digest["waiting"].as_i64()),
        (Some(3), Some(4))
    );
    assert!(
        digest["text"]
            .as_str()
            .unwrap()
            .contains("3 new messages arrived")
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 2, "no more");
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_notification_when_it_is_back() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(2)
        .mount(&hook)
        .await;
    let app = with_webhook(&hook, 600).await;
    submit(&app).await;
    // Retried after 1 s, then 2 s: the third attempt is taken.
    let got = received(&hook, 3).await;
    assert!(
        got.iter().all(|r| json(r)["new"] == 1),
        "the same notification"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        outbox(&app).await,
        vec![("webhook".into(), 1, "sent".into(), 3)]
    );
    // The admins see how it went on the notifications page.
    let admin = app.create_user("root", "admin").await;
    let client = browser();
    app.login_web(&client, &admin).await;
    let page = app.get_html(&client, "/admin/notifications").await;
    assert!(page.contains("New messages are told by webhook"), "{page}");
    assert!(page.contains(">sent<") && page.contains(">3<"), "{page}");
    assert_no_personal_data(&page);
}

#[tokio::test]
async fn a_notification_that_keeps_failing_is_marked_failed() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&hook)
        .await;
    let app = with_webhook(&hook, 600).await;
    submit(&app).await;
    received(&hook, 1).await;
    // Ten attempts in all: move the clock past each backoff instead of waiting it out.
    for _ in 0..20 {
        app.clock.advance(3600);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        if outbox(&app).await[0].2 == "failed" {
            break;
        }
    }
    let (_, _, status, attempts) = outbox(&app).await.remove(0);
    assert_eq!((status.as_str(), attempts), ("failed", 10));
    let error: String = sqlx::query_scalar("SELECT last_error FROM notify_outbox")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(error, "webhook answered 500");
}

/// The mails an SMTP sink has taken: the recipients and the whole message of each.
pub(crate) type Mails = Arc<Mutex<Vec<(Vec<String>, String)>>>;

/// A real SMTP server on loopback that keeps what it is sent.
#[derive(Clone, Default)]
struct Sink {
    mails: Mails,
    to: Vec<String>,
    data: Vec<u8>,
}

impl mailin_embedded::Handler for Sink {
    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.to = to.to_vec();
        self.data.clear();
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mail = String::from_utf8_lossy(&self.data).into_owned();
        self.mails
            .lock()
            .unwrap()
            .push((std::mem::take(&mut self.to), mail));
        mailin_embedded::response::OK
    }
}

pub(crate) fn smtp_sink() -> (u16, Mails) {
    smtp_sink_with(mailin_embedded::SslConfig::None)
}

/// An SMTP sink that offers STARTTLS with `ssl` (or not, with `SslConfig::None`).
pub(crate) fn smtp_sink_with(ssl: mailin_embedded::SslConfig) -> (u16, Mails) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = Sink::default();
    let mails = sink.mails.clone();
    let mut server = mailin_embedded::Server::new(sink);
    server
        .with_name("smtp.test")
        .with_ssl(ssl)
        .unwrap()
        .with_addr(format!("127.0.0.1:{port}"))
        .unwrap();
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    (port, mails)
}

#[tokio::test]
async fn a_message_is_told_by_mail_to_every_admin_address() {
    let (port, mails) = smtp_sink();
    let app = spawn_app_with(move |s| {
        s.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
        s.notify_email_from = Some("Contact Vault <vault@example.org>".into());
        s.notify_email_to = vec!["ops@example.org".into(), "boss@example.org".into()];
    })
    .await;
    submit(&app).await;
    let mut got = Vec::new();
    for _ in 0..150 {
        got = mails.lock().unwrap().clone();
        if !got.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(got.len(), 1, "one mail");
    let (to, mail) = &got[0];
    assert_eq!(
        to,
        &vec![
            "ops@example.org".to_string(),
            "boss@example.org".to_string()
        ]
    );
    assert!(
        mail.contains("Subject: Contact Vault: a new message"),
        "{mail}"
    );
    assert!(
        mail.contains("From: \"Contact Vault\" <vault@example.org>"),
        "{mail}"
    );
    assert!(mail.contains("/admin/submissions"), "{mail}");
    assert_no_personal_data(mail);
}

#[tokio::test]
async fn notify_test_sends_a_test_over_each_channel_and_says_how_it_went() {
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_path_buf();
    let url = format!("{}/hook", hook.uri());
    let out = tokio::task::spawn_blocking(move || {
        crate::helpers::cli_command(&data, &["notify", "test"])
            .env("NOTIFY_WEBHOOK_URL", url)
            .env("NOTIFY_WEBHOOK_SECRET", SECRET)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("webhook: sent"), "{stdout}");
    let got = received(&hook, 1).await;
    assert_signed(&got[0]);
    assert_eq!(json(&got[0])["event"], "test");
    assert_eq!(json(&got[0])["test"], true);

    // With no channel set it says so and fails.
    let data = dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        crate::helpers::cli_command(&data, &["notify", "test"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no notification channel is configured"));
}

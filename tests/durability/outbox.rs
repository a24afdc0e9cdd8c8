//! `outbox_resumes_after_sigkill`: the admins' notification of new messages (issue 17) is
//! written with the submission and survives a SIGKILL.
//!
//! The server runs with a webhook whose receiver is down: two visitors send the form, the
//! server tries to tell of them, fails and waits to retry. It is killed with SIGKILL. Then the
//! receiver comes up (wiremock, on the port the webhook names) and a new server starts on the
//! same data directory: it delivers what the killed one could not, signed, telling of both
//! messages and naming neither visitor, and the outbox ends with nothing pending.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::net::{Addresses, client_from, csrf_in, form_fields, location};
use crate::server::{Server, assert_no_panic, free_port};

const SECRET: &str = "outbox-durability-webhook-secret-41f7";
const VISITORS: [(&str, &str); 2] = [
    ("Ottilie Underhill", "ottilie.u@example.org"),
    ("Bartholomew Quince", "b.quince@example.org"),
];
const MESSAGE: &str = "Please ring me back about the kitchen.";
const FILL_TIME: Duration = Duration::from_millis(2100);

/// One visitor sends the form from `from`; panics unless it is taken (303 to /thanks).
async fn send_form(base: &str, from: Ipv4Addr, name: &str, email: &str) {
    let client = client_from(from, Duration::from_secs(10));
    let page = client.get(format!("{base}/")).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.expect("form page")).expect("a CSRF token");
    let mut fields = form_fields(name, email, MESSAGE);
    fields.push(("csrf_token".into(), csrf));
    tokio::time::sleep(FILL_TIME).await;
    let res = client
        .post(format!("{base}/"))
        .form(&fields)
        .send()
        .await
        .expect("POST /");
    assert_eq!(
        (res.status().as_u16(), location(&res)),
        (303, "/thanks".to_string())
    );
}

/// `(status, messages, attempts, due)` of every outbox row, read beside the running server.
async fn outbox(data: &Path) -> Vec<(String, i64, i64, i64)> {
    let options = SqliteConnectOptions::new()
        .filename(data.join("contact-vault.db"))
        .read_only(true);
    let db = SqlitePool::connect_with(options)
        .await
        .expect("database opens");
    let rows =
        sqlx::query_as("SELECT status, messages, attempts, due FROM notify_outbox ORDER BY id")
            .fetch_all(&db)
            .await
            .expect("outbox readable");
    db.close().await;
    rows
}

fn unix_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit")
}

fn assert_signed(req: &wiremock::Request) {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_string()
    };
    let timestamp = header("X-Contact-Vault-Timestamp");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).expect("a key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&req.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(header("X-Contact-Vault-Signature"), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "drives the release binary for about 15 s; see tests/durability/main.rs"]
async fn outbox_resumes_after_sigkill() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    // The receiver's port, free now and left unbound until the first server is dead.
    let hook_port = free_port();
    let hook_url = format!("http://127.0.0.1:{hook_port}/hook");
    let env = [
        ("NOTIFY_WEBHOOK_URL", hook_url.as_str()),
        ("NOTIFY_WEBHOOK_SECRET", SECRET),
        ("NOTIFY_RETRY_SECONDS", "1"),
        ("NOTIFY_DIGEST_SECONDS", "1"),
    ];

    let first = Server::start_with(&data, free_port(), &env)
        .await
        .expect("the first server starts");
    let addresses = Addresses::new(3);
    let base = first.base();
    let [(name_a, email_a), (name_b, email_b)] = VISITORS;
    tokio::join!(
        send_form(&base, addresses.take(), name_a, email_a),
        send_form(&base, addresses.take(), name_b, email_b),
    );
    // The server has tried the dead receiver and holds the notification back for its next
    // attempt. The kill waits for a backoff of two seconds or more, so that it does not land
    // while an attempt holds its lease (120 s, which a restarted server would sit out; the
    // core's unit tests show a lease running out).
    let tried = Instant::now();
    loop {
        let rows = outbox(&data).await;
        let now = unix_now();
        let waiting = rows.iter().all(|(status, _, attempts, due)| {
            status == "pending" && *attempts > 0 && (now + 2..now + 60).contains(due)
        });
        if !rows.is_empty() && waiting {
            assert_eq!(rows.iter().map(|r| r.1).sum::<i64>(), 2, "{rows:?}");
            break;
        }
        assert!(
            tried.elapsed() < Duration::from_secs(20),
            "no failed delivery waiting to be retried: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill();

    let listener =
        std::net::TcpListener::bind(("127.0.0.1", hook_port)).expect("the webhook's port binds");
    let hook = MockServer::builder().listener(listener).start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&hook)
        .await;
    let second = Server::start_with(&data, free_port(), &env)
        .await
        .expect("the second server starts");

    // The backoff after a few failures is a few seconds; 60 s is far beyond it.
    let waited = Instant::now();
    let received = loop {
        let got = hook.received_requests().await.unwrap_or_default();
        let told: i64 = got
            .iter()
            .map(|r| {
                let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
                body["new"].as_i64().expect("a count of new messages")
            })
            .sum();
        if told >= 2 {
            break got;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(60),
            "the restarted server did not deliver: {got:?}; its log: {}",
            second.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for req in &received {
        assert_signed(req);
        let text = String::from_utf8_lossy(&req.body);
        for (name, email) in VISITORS {
            assert!(!text.contains(name) && !text.contains(email), "{text}");
        }
        assert!(!text.contains("kitchen"), "{text}");
    }
    let last: serde_json::Value =
        serde_json::from_slice(&received[received.len() - 1].body).expect("JSON");
    assert_eq!(last["waiting"], 2, "{last}");
    second.stop();
    let rows = outbox(&data).await;
    assert!(rows.iter().all(|(status, ..)| status == "sent"), "{rows:?}");
    assert_eq!(
        rows.iter().map(|r| r.1).sum::<i64>(),
        2,
        "each message told once: {rows:?}"
    );
    assert_no_panic(&data);
    eprintln!("outbox_resumes_after_sigkill: {:?}", started.elapsed());
}

//! `crash_durability`: writers against the real binary while it is killed with SIGKILL 20
//! times; afterwards every acknowledged write is there, whole, and nothing half-written is.
//!
//! Three API clients create contacts (one user, unique names, every field set) and three
//! visitors send the public form (GET `/` for the session and CSRF token, the 2 s fill time,
//! POST; each submission from its own 127.1.x.y address, so the 5/min limit never refuses
//! one). Every attempt is recorded with what was sent and how it ended (see `ledger.rs`).
//! The server is killed after a random 1–4 s, 20 times, and started again on the same data
//! directory, on the same port. No write may be refused (no 4xx, no 5xx); then `verify`
//! checks the data over the API and in the database file.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};

use crate::ledger::{ContactAttempt, ContactData, FormAttempt, Outcome};
use crate::net::{Addresses, Rng, client_from, csrf_in, form_fields, location};
use crate::server::{Server, add_user, assert_no_panic, free_port};
use crate::{ledger, verify};

const KILLS: usize = 20;
const API_WRITERS: usize = 3;
const FORM_WRITERS: usize = 3;
/// Pause between two contact writes of one API client (keeps the book in the thousands).
const WRITE_PAUSE: Duration = Duration::from_millis(5);
/// The form's minimum fill time is 2 s (whole seconds, server clock); wait a little longer.
const FILL_TIME: Duration = Duration::from_millis(2100);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
pub const USER: &str = "durable";
pub const PASSWORD: &str = "durable-Correct-Horse-9";

fn contact_data(writer: usize, n: usize) -> ContactData {
    ContactData {
        name: format!("Durable W{writer} Nº{n:05}"),
        phone: format!("+1 202 555 {:04}", (writer * 3000 + n) % 10_000),
        email: format!("w{writer}.n{n}@example.com"),
        address: format!("{n} Kill Street, Springfield"),
        company: format!("Crash Test {writer}"),
        notes: format!("writer {writer}, write {n}: ünïcødé ✓"),
        tags: vec![format!("w{writer}"), format!("batch{}", n % 7)],
        favorite: n.is_multiple_of(3),
    }
}

async fn api_writer(
    writer: usize,
    port: Arc<AtomicU16>,
    token: String,
    stop: Arc<AtomicBool>,
) -> Vec<ContactAttempt> {
    let client = client_from(Ipv4Addr::new(127, 0, 0, 1), REQUEST_TIMEOUT);
    let mut attempts = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = contact_data(writer, attempts.len());
        let url = format!(
            "http://127.0.0.1:{}/api/contacts",
            port.load(Ordering::Relaxed)
        );
        let res = client
            .post(url)
            .bearer_auth(&token)
            .json(&sent)
            .send()
            .await;
        let outcome = match res {
            Err(e) => Outcome::of_error(&e),
            Ok(res) if res.status() == 201 => match res.json::<Value>().await {
                Ok(body) => Outcome::Acked(body["id"].as_str().map(str::to_string)),
                Err(e) => Outcome::InDoubt(format!("201 without a whole body: {e}")),
            },
            Ok(res) => Outcome::Refused(res.status().as_u16()),
        };
        let broken = !matches!(outcome, Outcome::Acked(_));
        attempts.push(ContactAttempt { sent, outcome });
        // After a failure the server is probably down: give it a moment.
        let pause = if broken {
            50 * WRITE_PAUSE
        } else {
            WRITE_PAUSE
        };
        tokio::time::sleep(pause).await;
    }
    attempts
}

/// One visitor: loads the form, takes the fill time, posts it. `None` when the form page
/// could not be loaded (nothing was attempted).
async fn visit(
    client: &Client,
    port: &AtomicU16,
    attempt: (String, String, String),
) -> Option<FormAttempt> {
    let (name, email, message) = attempt;
    let base = || format!("http://127.0.0.1:{}", port.load(Ordering::Relaxed));
    let page = client.get(format!("{}/", base())).send().await.ok()?;
    if page.status() != 200 {
        return None;
    }
    let csrf = csrf_in(&page.text().await.ok()?)?;
    let mut fields = form_fields(&name, &email, &message);
    fields.push(("csrf_token".into(), csrf));
    tokio::time::sleep(FILL_TIME).await;
    let res = client
        .post(format!("{}/", base()))
        .form(&fields)
        .send()
        .await;
    let outcome = match res {
        Err(e) => Outcome::of_error(&e),
        Ok(res) if res.status() == 303 && location(&res) == "/thanks" => Outcome::Acked(None),
        Ok(res) => Outcome::Refused(res.status().as_u16()),
    };
    Some(FormAttempt {
        name,
        email,
        message,
        outcome,
    })
}

async fn form_writer(
    writer: usize,
    port: Arc<AtomicU16>,
    addresses: Arc<Addresses>,
    stop: Arc<AtomicBool>,
) -> Vec<FormAttempt> {
    let mut attempts = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let client = client_from(addresses.take(), REQUEST_TIMEOUT);
        let what = (
            format!("Visitor V{writer} Nº{n:04}"),
            format!("visitor{writer}.{n}@example.org"),
            format!("Call me back please (visitor {writer}, message {n})."),
        );
        match visit(&client, &port, what).await {
            Some(attempt) => attempts.push(attempt),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    attempts
}

async fn api_token(base: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/login"))
        .json(&json!({ "username": USER, "password": PASSWORD }))
        .send()
        .await
        .expect("POST /api/login answers");
    assert_eq!(res.status(), 200, "the writer signs in");
    let body: Value = res.json().await.expect("login answer is JSON");
    body["token"]
        .as_str()
        .expect("login answer has a token")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "drives the release binary for about 1.5 minutes; see tests/durability/main.rs"]
async fn crash_durability() {
    let started = Instant::now();
    let mut rng = Rng::from_env();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    add_user(&data, USER, PASSWORD);

    let mut server = Server::start(&data, free_port())
        .await
        .expect("server starts");
    let token = api_token(&server.base()).await;
    let port = Arc::new(AtomicU16::new(server.port));
    let stop = Arc::new(AtomicBool::new(false));
    let addresses = Arc::new(Addresses::new(1));
    let api: Vec<_> = (0..API_WRITERS)
        .map(|w| tokio::spawn(api_writer(w, port.clone(), token.clone(), stop.clone())))
        .collect();
    let forms: Vec<_> = (0..FORM_WRITERS)
        .map(|w| {
            tokio::spawn(form_writer(
                w,
                port.clone(),
                addresses.clone(),
                stop.clone(),
            ))
        })
        .collect();

    let mut restarts = Vec::new();
    for kill in 1..=KILLS {
        tokio::time::sleep(Duration::from_millis(rng.between(1000, 4000))).await;
        let same_port = server.port;
        server.kill();
        let down = Instant::now();
        server = Server::start_near(&data, same_port).await;
        port.store(server.port, Ordering::Relaxed);
        restarts.push(down.elapsed());
        println!("kill {kill:2}: back up in {:?}", down.elapsed());
    }
    // Let the writers finish what they started against the last instance.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut contacts = Vec::new();
    for task in api {
        contacts.extend(task.await.expect("API writer finished"));
    }
    let mut submissions = Vec::new();
    for task in forms {
        submissions.extend(task.await.expect("form writer finished"));
    }
    let load_time = started.elapsed();
    // Unique names, fresh addresses, a valid token: nothing should be refused, before or
    // after a restart (a 403 would be a lost session, a 5xx a server fault).
    let refused: Vec<String> = contacts
        .iter()
        .map(|a| (&a.sent.name, &a.outcome))
        .chain(submissions.iter().map(|a| (&a.name, &a.outcome)))
        .filter_map(|(name, o)| match o {
            Outcome::Refused(code) => Some(format!("{name}: {code}")),
            _ => None,
        })
        .collect();
    assert!(refused.is_empty(), "writes refused: {refused:?}");

    let listed = verify::contacts_over_api(&server.base(), &token, &contacts).await;
    server.stop();
    assert_no_panic(&data);
    let stored = verify::database(&data, &contacts, &submissions).await;
    assert_eq!(
        listed, stored.contacts,
        "the API lists as many contacts as the database holds"
    );
    verify::audit_chain(&data);

    let slowest = restarts.iter().max().expect("at least one restart");
    println!("\n== crash durability summary");
    println!("kills (SIGKILL)            {KILLS}, slowest restart {slowest:?}");
    ledger::print_tally(
        "contacts (API)",
        &contacts.iter().map(|a| &a.outcome).collect::<Vec<_>>(),
        stored.contacts_in_doubt_stored,
    );
    ledger::print_tally(
        "form submissions",
        &submissions.iter().map(|a| &a.outcome).collect::<Vec<_>>(),
        stored.submissions_in_doubt_stored,
    );
    println!(
        "database                   integrity ok, {} contacts and {} submissions, every field decrypts, audit chain ok",
        stored.contacts, stored.submissions
    );
    println!(
        "time                       {load_time:?} under load, {:?} in all",
        started.elapsed()
    );
}

//! Per-user limits of API calls and CSV imports, and the whole-body cap of multipart uploads
//! (issue 12, item 12).

use std::io::{Read, Write};
use std::net::TcpStream;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use crate::api_csv::import;
use crate::helpers::{TestApp, browser, csrf_in, spawn_app};

async fn assert_429_json(res: reqwest::Response) {
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry >= 1);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
}

#[tokio::test]
async fn three_hundred_api_calls_at_once_are_limited_per_user() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let bob = app.create_user("bob", "user").await;
    let ann_token = app.api_token(&ann).await;
    let bob_token = app.api_token(&bob).await;

    let client = reqwest::Client::new();
    let calls = (0..300).map(|_| {
        client
            .get(app.url("/api/contacts?per_page=1"))
            .bearer_auth(&ann_token)
            .send()
    });
    let answers = futures_util::future::join_all(calls).await;
    let mut ok = 0;
    let mut limited = None;
    for res in answers {
        let res = res.unwrap();
        match res.status().as_u16() {
            200 => ok += 1,
            429 => limited = Some(res),
            other => panic!("status {other}"),
        }
    }
    // A burst of 100 (five seconds at 20 a second), plus what refilled meanwhile.
    assert!((100..300).contains(&ok), "{ok} of 300 answered");
    assert_429_json(limited.expect("some calls were limited")).await;

    // The limit is ann's: bob's calls go through.
    let res = app
        .api(Method::GET, "/api/contacts", &bob_token, None)
        .await;
    assert_eq!(res.status(), 200);
}

fn csv(n: usize) -> String {
    let mut csv = String::from("name,phone\n");
    for i in 0..n {
        csv.push_str(&format!("Person {n}-{i},+1 555 01{n:02}{i:03}\n"));
    }
    csv
}

#[tokio::test]
async fn imports_are_limited_per_user_on_the_api_and_the_page() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;
    for n in 0..4 {
        assert_eq!(
            import(&app, &token, csv(n + 1)).await.status(),
            200,
            "import {n}"
        );
    }
    assert_429_json(import(&app, &token, csv(9)).await).await;

    // The page's import shares ann's limit: the error page, with Retry-After.
    let client = browser();
    app.login_web(&client, &ann).await;
    let token = csrf_in(&app.get_html(&client, "/contacts/import").await);
    let form = Form::new()
        .text("csrf_token", token)
        .part("file", Part::bytes(csv(7).into_bytes()).file_name("c.csv"));
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.text().await.unwrap().contains("Too many attempts"));

    // Nothing of the refused imports was stored: 1 + 2 + 3 + 4 rows.
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 10);

    // Another user imports as usual.
    let bob = app.create_user("bob", "user").await;
    let bob_token = app.api_token(&bob).await;
    assert_eq!(import(&app, &bob_token, csv(2)).await.status(), 200);
}

/// Sends a chunked multipart body whose only part is a text field of `total` bytes, over a
/// raw connection, and returns the status line and how many body bytes were written before
/// the server answered or hung up.
fn post_endless_text_part(app: &TestApp, token: &str, total: usize) -> (String, usize) {
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /api/contacts/import/csv HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary=XYZ\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let chunk = |data: &[u8]| {
            let mut out = format!("{:x}\r\n", data.len()).into_bytes();
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
            out
        };
        let opening = b"--XYZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n";
        if writer.write_all(&chunk(opening)).is_err() {
            return 0;
        }
        let filler = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if writer.write_all(&chunk(&filler)).is_err() {
                return sent;
            }
            sent += filler.len();
        }
        let _ = writer.write_all(&chunk(b"\r\n--XYZ--\r\n"));
        let _ = writer.write_all(b"0\r\n\r\n");
        sent
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    // Stop sending once answered (the server may have hung up already).
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().unwrap();
    let status = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    (status, sent)
}

#[tokio::test]
async fn a_huge_chunked_non_file_part_is_cut_off_with_413() {
    let app = spawn_app().await;
    let ann = app.create_user("ann", "user").await;
    let token = app.api_token(&ann).await;
    let total = 256 * 1024 * 1024;
    let (status, sent) =
        tokio::task::spawn_blocking(move || post_endless_text_part(&app, &token, total))
            .await
            .unwrap();
    assert!(status.starts_with("HTTP/1.1 413"), "{status:?}");
    assert!(
        sent < total / 2,
        "the server read {sent} of {total} bytes before refusing"
    );
}

//! Admins' own addresses for the mail of new messages (issue 17): set on the account page,
//! stored sealed, mailed in Bcc so no admin sees another's, and off when they say so.

use std::time::Duration;

use secrecy::SecretString;

use crate::helpers::{TestApp, browser, spawn_app_with};
use crate::notify::{Mails, assert_no_personal_data, outbox, smtp_sink, submit};

const ALICE: &str = "alice.admin@example.org";
const CAROL: &str = "carol.admin@example.org";

async fn with_mail(to: Vec<String>) -> (TestApp, Mails) {
    let (port, mails) = smtp_sink();
    let app = spawn_app_with(move |s| {
        s.smtp_url = Some(SecretString::from(format!("smtp://127.0.0.1:{port}")));
        s.notify_email_from = Some("vault@example.org".into());
        s.notify_email_to = to;
        s.notify_digest_seconds = 600;
        s.notify_retry_seconds = 1;
    })
    .await;
    (app, mails)
}

/// The mails the sink has, once there are `n` (at most 15 s).
async fn mails_once(mails: &Mails, n: usize) -> Vec<(Vec<String>, String)> {
    for _ in 0..150 {
        let got = mails.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the SMTP server did not get {n} mails");
}

async fn choose(
    app: &TestApp,
    client: &reqwest::Client,
    address: &str,
    mail: bool,
) -> reqwest::Response {
    let mut fields = vec![("notify_email", address)];
    if mail {
        fields.push(("notify_mail", "on"));
    }
    app.post_form(client, "/account", "/account/notify-mail", &fields)
        .await
}

#[tokio::test]
async fn an_admin_gets_mail_at_their_own_address_in_bcc_until_they_turn_it_off() {
    let (app, mails) = with_mail(Vec::new()).await;
    let alice = app.create_user("alice", "admin").await;
    let carol = app.create_user("carol", "admin").await;
    let (a, c) = (browser(), browser());
    app.login_web(&a, &alice).await;
    app.login_web(&c, &carol).await;
    let page = app.get_html(&a, "/account").await;
    assert!(page.contains("Mail of new messages"), "{page}");

    // Bad input: the page again with the field's message, nothing stored.
    let res = choose(&app, &a, "alice at example", true).await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("Not a valid e-mail address"), "{body}");
    assert!(body.contains("value=\"alice at example\""), "kept: {body}");
    let res = choose(&app, &a, "  ", true).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Give the address"));
    assert!(
        !app.audit_actions()
            .await
            .contains(&"NOTIFY_MAIL_SET".into())
    );

    assert_eq!(choose(&app, &a, ALICE, true).await.status(), 303);
    assert_eq!(choose(&app, &c, CAROL, true).await.status(), 303);
    let page = app.get_html(&a, "/account").await;
    assert!(page.contains(&format!("value=\"{ALICE}\"")), "{page}");
    assert!(
        !page.contains(CAROL),
        "one admin never sees another's address"
    );

    // Sealed on disk, and the audit says what changed without the address.
    let stored: Vec<String> =
        sqlx::query_scalar("SELECT notify_email FROM users WHERE notify_email IS NOT NULL")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|s| !s.contains("example.org")));
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'NOTIFY_MAIL_SET' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(details, vec!["address=set mail=on"; 2]);

    submit(&app).await;
    let got = mails_once(&mails, 1).await;
    let (to, mail) = &got[0];
    assert_eq!(to, &vec![ALICE.to_string(), CAROL.to_string()]);
    assert!(!mail.contains(ALICE) && !mail.contains(CAROL), "{mail}");
    assert!(!mail.to_lowercase().contains("bcc:"), "{mail}");
    assert!(mail.contains("A new message arrived"), "{mail}");
    assert_no_personal_data(mail);

    // Carol turns it off (her address kept), Alice removes hers: the next message finds no
    // one to mail, and the outbox says so instead of sending it anywhere.
    assert_eq!(choose(&app, &c, CAROL, false).await.status(), 303);
    assert_eq!(choose(&app, &a, "", false).await.status(), 303);
    let page = app.get_html(&c, "/account").await;
    assert!(page.contains(&format!("value=\"{CAROL}\"")));
    assert!(!page.contains(
        "id=\"notify_mail\" name=\"notify_mail\" type=\"checkbox\" value=\"on\" checked"
    ));
    app.clock.advance(600);
    submit(&app).await;
    let mut last = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let error: Option<String> = sqlx::query_scalar(
            "SELECT last_error FROM notify_outbox WHERE status = 'pending' AND attempts > 0",
        )
        .fetch_optional(&app.db)
        .await
        .unwrap()
        .flatten();
        if error.is_some() {
            last = error;
            break;
        }
    }
    assert!(
        last.as_deref()
            .is_some_and(|e| e.starts_with("no recipient")),
        "{last:?}"
    );
    assert_eq!(mails.lock().unwrap().len(), 1, "no second mail");
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE action = 'NOTIFY_MAIL_SET' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        &details[2..],
        ["address=set mail=off", "address=none mail=off"]
    );
}

#[tokio::test]
async fn the_operators_addresses_and_the_admins_own_get_one_mail_each() {
    let (app, mails) = with_mail(vec!["ops@example.org".into()]).await;
    let alice = app.create_user("alice", "admin").await;
    let carol = app.create_user("carol", "admin").await;
    let (a, c) = (browser(), browser());
    app.login_web(&a, &alice).await;
    app.login_web(&c, &carol).await;
    // Alice's is already NOTIFY_EMAIL_TO's, in other case.
    assert_eq!(
        choose(&app, &a, "Ops@Example.org", true).await.status(),
        303
    );
    assert_eq!(choose(&app, &c, CAROL, true).await.status(), 303);
    submit(&app).await;
    let got = mails_once(&mails, 1).await;
    let (to, mail) = &got[0];
    assert_eq!(to, &vec!["ops@example.org".to_string(), CAROL.to_string()]);
    assert!(mail.contains("To: ops@example.org"), "{mail}");
    assert!(!mail.contains(CAROL), "{mail}");
    assert_eq!(outbox(&app).await[0].2, "sent");
}

#[tokio::test]
async fn only_admins_have_a_notification_address() {
    let (app, _mails) = with_mail(vec!["ops@example.org".into()]).await;
    let bob = app.create_user("bob", "user").await;
    let b = browser();
    app.login_web(&b, &bob).await;
    let page = app.get_html(&b, "/account").await;
    assert!(!page.contains("notify-mail"), "{page}");
    let res = choose(&app, &b, "bob@example.org", true).await;
    assert_eq!(res.status(), 403);
    let stored: Option<String> =
        sqlx::query_scalar("SELECT notify_email FROM users WHERE username = 'bob'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, None);
    // And without a session or a CSRF token nothing is taken either.
    let res = browser()
        .post(app.url("/account/notify-mail"))
        .form(&[("notify_email", "eve@example.org"), ("notify_mail", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "no CSRF token");
    let any: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE notify_email IS NOT NULL")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(any, 0);
}

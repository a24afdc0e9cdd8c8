//! Several instances of the app on one database (issue 16): what a deployment behind one
//! proxy relies on. Sessions, API tokens and TOTP steps live in the shared database, so a
//! sign-in on one instance works on the other and a sign-out on one ends it on the other at
//! once; each instance keeps its own decrypted directory, and a write through one is in the
//! next read through the other; writers on both keep one audit chain. Single-use things stay
//! single-use across both (a CAPTCHA answer, the first-run setup links), and a key rotation
//! runs while both serve: through the keys.env they share, or, with keys in each machine's
//! environment, one restart at a time.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, browser, cli, cli_command, csrf_in, location, spawn_app, spawn_app_beside,
    spawn_app_with, succeeded,
};
use crate::public_form::{PHONE, captcha_answer, fields, stored};

fn contact(name: &str, phone: &str) -> Value {
    json!({"name": name, "phone": phone, "email": "", "tags": ["shared"]})
}

async fn names(app: &TestApp, token: &str) -> Vec<String> {
    let res = app
        .api(Method::GET, "/api/contacts?per_page=200", token, None)
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("JSON");
    body["contacts"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("a name").to_string())
        .collect()
}

async fn name_set(app: &TestApp, token: &str) -> BTreeSet<String> {
    names(app, token).await.into_iter().collect()
}

#[tokio::test]
async fn a_session_made_on_one_instance_works_on_the_other_and_ends_on_both() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let client = browser();
    a.login_web(&client, &ida).await;
    // The cookie jar sends the session cookie to both (cookies do not care for ports).
    let page = b.get(&client, "/contacts").await;
    assert_eq!(page.status(), 200, "signed in on B by a sign-in on A");
    let res = b.post_form(&client, "/contacts", "/logout", &[]).await;
    assert_eq!(res.status(), 303);
    let page = a.get(&client, "/contacts").await;
    assert_eq!(
        (
            page.status().as_u16(),
            location(&page).starts_with("/login")
        ),
        (303, true),
        "signed out on A by the sign-out on B"
    );
}

#[tokio::test]
async fn an_api_token_made_on_one_instance_works_on_the_other_until_logout_there() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    let res = b.api(Method::GET, "/api/contacts", &token, None).await;
    assert_eq!(res.status(), 200);
    let res = a.api(Method::POST, "/api/logout", &token, None).await;
    assert_eq!(res.status(), 200);
    let res = b.api(Method::GET, "/api/contacts", &token, None).await;
    assert_eq!(res.status(), 401, "revoked on B at once");
}

#[tokio::test]
async fn a_totp_code_works_once_across_instances() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let boss = a.create_user("boss", "admin").await;
    let secret = boss.secret.clone().expect("an admin has TOTP");
    let code = a.next_code(&secret);
    b.clock.advance(30); // the two instances' clocks agree, as real ones would
    let login =
        |code: &str| json!({"username": boss.username, "password": boss.password, "otp": code});
    let first = a.api_login_raw(login(&code)).await;
    assert_eq!(first.status(), 200);
    let again = b.api_login_raw(login(&code)).await;
    assert_eq!(again.status(), 401, "the step was used on A");
}

#[tokio::test]
async fn a_write_through_one_instance_is_in_the_next_read_through_the_other() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    let res = a
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(contact("Ann Archer", "+1 202 555 0101")),
        )
        .await;
    assert_eq!(res.status(), 201);
    // B builds its directory of the book now, then A writes behind its back.
    assert_eq!(names(&b, &token).await, ["Ann Archer"]);
    let res = a
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(contact("Bea Baker", "+1 202 555 0102")),
        )
        .await;
    assert_eq!(res.status(), 201);
    let bea: Value = res.json().await.expect("JSON");
    let bea_id = bea["id"].as_str().expect("an id").to_string();
    assert_eq!(names(&b, &token).await, ["Ann Archer", "Bea Baker"]);
    let res = a
        .api(
            Method::PUT,
            &format!("/api/contacts/{bea_id}"),
            &token,
            Some(json!({"name": "Beatrice Baker"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(names(&b, &token).await, ["Ann Archer", "Beatrice Baker"]);
    let res = a
        .api(
            Method::DELETE,
            &format!("/api/contacts/{bea_id}"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(names(&b, &token).await, ["Ann Archer"]);
    // And the other way round.
    let res = b
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(contact("Cy Cooper", "+1 202 555 0103")),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(names(&a, &token).await, ["Ann Archer", "Cy Cooper"]);
}

#[tokio::test]
async fn writers_on_two_instances_keep_one_audit_chain_and_one_duplicate_check() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    // Forty contacts written at once, half through each instance.
    let writes = (0..40u32).map(|i| {
        let app = if i.is_multiple_of(2) { &a } else { &b };
        let body = contact(&format!("Writer Nº{i:02}"), &format!("+1 202 555 {i:04}"));
        let token = token.clone();
        async move {
            app.api(Method::POST, "/api/contacts", &token, Some(body))
                .await
                .status()
        }
    });
    let statuses = join_all(writes).await;
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    // The same contact sent to both at once is stored once.
    let twin = contact("Twin Taylor", "+1 202 555 0999");
    let (one, other) = tokio::join!(
        a.api(Method::POST, "/api/contacts", &token, Some(twin.clone())),
        b.api(Method::POST, "/api/contacts", &token, Some(twin)),
    );
    let mut got = [one.status().as_u16(), other.status().as_u16()];
    got.sort_unstable();
    assert_eq!(got, [201, 409]);
    assert_eq!(names(&b, &token).await.len(), 41);
    let out = cli(a.dir.path(), &["audit", "verify"], "");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.starts_with("ok ("), "{said}");
}

#[tokio::test]
async fn a_solved_captcha_sent_to_both_instances_at_once_is_taken_once() {
    let a = spawn_app_with(|s| s.captcha = true).await;
    let b = spawn_app_beside(&a, |s| s.captcha = true).await;
    let client = browser();
    let token = csrf_in(&a.get_html(&client, "/").await);
    assert_eq!(a.get(&client, "/captcha").await.status(), 200);
    // The two instances' clocks agree: the form has been on screen for three seconds on both.
    a.clock.advance(3);
    b.clock.advance(3);
    let answer = captcha_answer(&a).await.expect("a CAPTCHA was shown");
    let mut form = fields("Ann", "ann@example.com", PHONE);
    form.push(("csrf_token", &token));
    form.push(("captcha", &answer));
    // Three posts to each instance at once, one session: the answer opens one of them.
    let posts = (0..6).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        client.post(app.url("/")).form(&form).send()
    });
    for res in join_all(posts).await {
        let res = res.expect("an answer");
        assert_eq!(
            (res.status().as_u16(), location(&res)),
            (303, "/thanks".to_string()),
            "the winner is thanked, the rest look like bots"
        );
    }
    assert_eq!(stored(&a).await, 1, "the answer worked once across both");
    assert!(captcha_answer(&b).await.is_none(), "and is gone");
}

#[tokio::test]
async fn the_setup_links_of_two_instances_used_at_once_make_one_admin() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    // Each instance printed its own first-run link; three browsers load each.
    let mut ready = Vec::new();
    for (i, app) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
        let url = app
            .setup_url
            .clone()
            .expect("a setup link on each instance");
        let path = url.trim_start_matches(&app.address).to_string();
        let client = browser();
        let csrf = csrf_in(&app.get_html(&client, &path).await);
        ready.push((i, app.url(&path), client, csrf));
    }
    let posts = ready
        .into_iter()
        .map(|(i, target, client, csrf)| async move {
            let form = [
                ("username", format!("root{i}")),
                ("password", "a-Long-enough-phrase".to_string()),
                ("password_confirm", "a-Long-enough-phrase".to_string()),
                ("csrf_token", csrf),
            ];
            let res = client.post(target).form(&form).send().await;
            res.expect("an answer").status().as_u16()
        });
    let mut statuses = join_all(posts).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 404, 404, 404, 404, 404]);
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(&a.db)
        .await
        .expect("a count");
    assert_eq!(admins, 1);
    for app in [&a, &b] {
        let url = app.setup_url.clone().expect("a setup link");
        let path = url.trim_start_matches(&app.address).to_string();
        assert_eq!(app.get(&browser(), &path).await.status(), 404, "closed");
    }
}

/// Writes contacts through `apps` in turn until `stop` is set; the names acknowledged (201).
async fn write_until(
    apps: [&TestApp; 2],
    token: &str,
    prefix: &str,
    stop: &std::sync::atomic::AtomicBool,
) -> BTreeSet<String> {
    let mut acked = BTreeSet::new();
    for i in 0u32.. {
        if stop.load(std::sync::atomic::Ordering::Relaxed) && i >= 4 {
            break;
        }
        let name = format!("{prefix} Nº{i:03}");
        write(apps[i as usize % 2], token, &name, &mut acked).await;
        // (paced below the per-user API limit)
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
    }
    acked
}

fn keys_rotate(app: &TestApp, args: &[&str], fernet_keys: Option<&str>) -> String {
    let mut cmd = cli_command(app.dir.path(), args);
    if let Some(keys) = fernet_keys {
        cmd.env("FERNET_KEYS", keys);
    }
    succeeded(cmd.output().expect("the binary runs"))
}

fn fernet_list_in(app: &TestApp) -> String {
    let text = std::fs::read_to_string(app.dir.path().join("keys.env")).expect("keys.env");
    text.lines()
        .find_map(|l| l.strip_prefix("FERNET_KEYS="))
        .expect("FERNET_KEYS in keys.env")
        .to_string()
}

#[tokio::test]
async fn a_rotation_while_two_instances_write_leaves_nothing_under_the_old_key() {
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    // A book under the server's keys (from before users had their own), which rotation moves.
    a.forget_keys(a.user_row("ida").await.id).await;
    let old = fernet_list_in(&a);
    // Writers on both instances all through `keys rotate --new-key`: the instances load the
    // new key from the keys.env they share during the wait, before any row moves to it.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rotation = async {
        let dir = a.dir.path().to_path_buf();
        let out = tokio::task::spawn_blocking(move || {
            let args = ["keys", "rotate", "--new-key", "--wait-seconds", "6"];
            cli_command(&dir, &args).output().expect("the binary runs")
        })
        .await
        .expect("the CLI finished");
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        out
    };
    let (out, acked) = tokio::join!(rotation, write_until([&a, &b], &token, "Rota", &stop));
    succeeded(out);
    assert!(
        acked.len() > 8,
        "writes went on during the rotation: {}",
        acked.len()
    );
    // A second pass finds nothing left under the old key ...
    let again = keys_rotate(&a, &["keys", "rotate"], None);
    assert!(again.contains(" 0 re-encrypted"), "{again}");
    // ... so the old key can go: both instances load the list without it and read it all.
    let list = fernet_list_in(&a);
    let new = list.split(',').next().expect("a primary").to_string();
    assert_ne!(new, old);
    let file = std::fs::read_to_string(a.dir.path().join("keys.env")).expect("keys.env");
    let file = file.replace(
        &format!("FERNET_KEYS={list}"),
        &format!("FERNET_KEYS={new}"),
    );
    std::fs::write(a.dir.path().join("keys.env"), file).expect("keys.env written");
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    for app in [&a, &b] {
        let got = name_set(app, &token).await;
        assert_eq!(
            got, acked,
            "every acknowledged write, under the new key only"
        );
    }
}

#[tokio::test]
async fn a_rolling_rotation_of_environment_keys_loses_nothing() {
    // Instances with FERNET_KEYS in their environment (each machine its own): the procedure
    // `keys rotate --new-key` prints for them, one restart at a time (a restart is a new
    // instance on the same database here).
    let a = spawn_app().await;
    let b = spawn_app_beside(&a, |_| {}).await;
    let ida = a.create_user("ida", "user").await;
    let token = a.api_token(&ida).await;
    // A book under the server's keys (from before users had their own), which rotation moves.
    a.forget_keys(a.user_row("ida").await.id).await;
    let old = fernet_list_in(&a);
    let new = contact_vault::crypto::keys::generate_set()[0].1.clone();
    let with = |list: String| {
        move |s: &mut contact_vault::config::Settings| {
            s.keys.fernet_keys = Some((list.into(), "FERNET_KEYS".to_string()));
        }
    };
    let mut acked = BTreeSet::new();
    write(&a, &token, "Before Roll A", &mut acked).await;
    write(&b, &token, "Before Roll B", &mut acked).await;
    // 1. The new key at the end of the list, everywhere: every instance can read it.
    let _a1 = spawn_app_beside(&a, with(format!("{old},{new}"))).await;
    let b1 = spawn_app_beside(&a, with(format!("{old},{new}"))).await;
    write(&b1, &token, "Step One", &mut acked).await;
    // 2. The new key in front, one instance at a time: halfway, A writes under the new key
    //    and B under the old, and each reads what the other wrote.
    let a2 = spawn_app_beside(&a, with(format!("{new},{old}"))).await;
    write(&a2, &token, "Halfway A", &mut acked).await;
    write(&b1, &token, "Halfway B", &mut acked).await;
    for app in [&a2, &b1] {
        let got = name_set(app, &token).await;
        assert_eq!(got, acked, "halfway, both read both keys' rows");
    }
    let b2 = spawn_app_beside(&a, with(format!("{new},{old}"))).await;
    // 3. The rows move to the new key while both serve.
    let said = keys_rotate(&a, &["keys", "rotate"], Some(&format!("{new},{old}")));
    assert!(!said.contains(" 0 re-encrypted"), "rows moved: {said}");
    write(&b2, &token, "After Rotate", &mut acked).await;
    // 4. The old key goes: instances with the new key alone read everything.
    let a3 = spawn_app_beside(&a, with(new.clone())).await;
    let b3 = spawn_app_beside(&a, with(new.clone())).await;
    for app in [&a3, &b3] {
        let got = name_set(app, &token).await;
        assert_eq!(got, acked, "every write, readable with the new key alone");
    }
}

/// Adds one contact through `app`, acknowledged, to `acked`.
async fn write(app: &TestApp, token: &str, name: &str, acked: &mut BTreeSet<String>) {
    let body = contact(name, "+1 404 555 0100");
    let res = app
        .api(Method::POST, "/api/contacts", token, Some(body))
        .await;
    assert_eq!(res.status(), 201);
    acked.insert(name.to_string());
}

#[tokio::test]
async fn new_key_with_environment_keys_refuses_and_prints_the_rolling_steps() {
    let a = spawn_app().await;
    let before = std::fs::read_to_string(a.dir.path().join("keys.env")).expect("keys.env");
    let list = fernet_list_in(&a);
    let out = cli_command(a.dir.path(), &["keys", "rotate", "--new-key"])
        .env("FERNET_KEYS", &list)
        .output()
        .expect("the binary runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        said.contains("at the end of every instance's list") && said.contains("re-encrypts 0"),
        "{said}"
    );
    assert!(!said.contains(&list), "no key in the message");
    let after = std::fs::read_to_string(a.dir.path().join("keys.env")).expect("keys.env");
    assert_eq!(before, after, "keys.env untouched");
}

use contact_vault::crypto::totp;

use crate::helpers::{browser, csrf_in, location, spawn_app};

fn secret_from_page(html: &str) -> Vec<u8> {
    let marker = "id=\"totp-secret\">";
    let start = html.find(marker).expect("secret shown") + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    base32_decode(&html[start..end])
}

/// RFC 4648 base32 without padding, decoded independently of the app.
fn base32_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u64, Vec::new());
    for c in s.bytes() {
        let v = alphabet.iter().position(|&a| a == c).expect("base32 char") as u64;
        value = (value << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
        }
    }
    out
}

#[tokio::test]
async fn first_run_link_creates_the_admin_who_must_enrol_totp() {
    let app = spawn_app().await;
    let url = app
        .setup_url
        .clone()
        .expect("setup link printed while no admin exists");
    let path = url.trim_start_matches(&app.address).to_string();
    let client = browser();

    // A wrong token opens nothing.
    assert_eq!(app.get(&client, "/setup/not-the-token").await.status(), 404);

    // A weak password is refused with a field message.
    let res = app
        .post_form(
            &client,
            &path,
            &path,
            &[
                ("username", "root"),
                ("password", "password"),
                ("password_confirm", "password"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("id=\"password-error\""));

    let res = app
        .post_form(
            &client,
            &path,
            &path,
            &[
                ("username", "Root"),
                ("password", "a-Long-enough-phrase"),
                ("password_confirm", "a-Long-enough-phrase"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/account/totp");

    // Until TOTP is on, the admin is sent to enrolment from everywhere else.
    for page in ["/account", "/contacts", "/admin/users", "/audit"] {
        let res = app.get(&client, page).await;
        assert_eq!(res.status(), 303, "{page}");
        assert_eq!(location(&res), "/account/totp");
    }

    let enrol = app.get_html(&client, "/account/totp").await;
    assert!(enrol.contains("<svg"), "QR code shown");
    let secret = secret_from_page(&enrol);
    let token = csrf_in(&enrol);

    let res = client
        .post(app.url("/account/totp"))
        .form(&[("code", "000000"), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400, "a wrong first code is refused");

    let code = totp::code_at(&secret, app.clock.now() as u64);
    let res = client
        .post(app.url("/account/totp"))
        .form(&[("code", code.as_str()), ("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let list = &html[html.find("id=\"recovery-codes\"").expect("codes list")..];
    let codes = list[..list.find("</ol>").unwrap()].matches("<li>").count();
    assert_eq!(codes, 10, "ten recovery codes shown once");

    assert_eq!(app.get(&client, "/admin/users").await.status(), 200);
    let admin = app.user_row("root").await;
    assert!(admin.is_admin() && admin.totp_enabled);

    // The link is spent.
    assert_eq!(app.get(&browser(), &path).await.status(), 404);
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"CREATE_USER".to_string())
            && actions.contains(&"TOTP_ENABLED".to_string())
    );
}

#[tokio::test]
async fn no_setup_link_once_an_admin_exists() {
    let app = spawn_app().await;
    app.create_user("admin1", "admin").await;
    let url = app.setup_url.clone().unwrap();
    let path = url.trim_start_matches(&app.address);
    assert_eq!(app.get(&browser(), path).await.status(), 404);
}

#[tokio::test]
async fn concurrent_posts_of_the_setup_link_make_exactly_one_admin() {
    let app = spawn_app().await;
    let url = app.setup_url.clone().expect("setup link");
    let path = url.trim_start_matches(&app.address).to_string();
    // Six browsers load the form (each its session and CSRF token), then all post at once.
    let mut ready = Vec::new();
    for _ in 0..6 {
        let client = browser();
        let csrf = csrf_in(&app.get_html(&client, &path).await);
        ready.push((client, csrf));
    }
    let mut posts = Vec::new();
    for (i, (client, csrf)) in ready.into_iter().enumerate() {
        let target = app.url(&path);
        posts.push(tokio::spawn(async move {
            let fields = [
                ("username", format!("root{i}")),
                ("password", "a-Long-enough-phrase".to_string()),
                ("password_confirm", "a-Long-enough-phrase".to_string()),
                ("csrf_token", csrf),
            ];
            let res = client.post(target).form(&fields).send().await.unwrap();
            res.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [303, 404, 404, 404, 404, 404]);
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(admins, 1);
    assert_eq!(
        app.get(&browser(), &path).await.status(),
        404,
        "link closed"
    );
}

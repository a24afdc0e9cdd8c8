//! CardDAV's rules beyond the protocol: cards without a phone number (phones hold people known
//! by e-mail only), tombstones that end with the tokens that need them, and the https-only
//! rule under an https `PUBLIC_URL`.

use reqwest::Method;
use serde_json::Value;

use crate::carddav::{Device, PROPFIND_ETAGS, between, device, sync_body};
use crate::helpers::{TestApp, TestUser, browser, spawn_app, spawn_app_with};

fn email_card(uid: &str, name: &str, email: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEMAIL:{email}\r\nEND:VCARD\r\n"
    )
}

#[tokio::test]
async fn a_card_without_a_phone_is_kept_and_its_duplicate_key_is_name_and_email() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;
    let book = phone.book();
    let put = |name: &str, body: String| {
        let path = format!("{book}{name}");
        let phone = &phone;
        let app = &app;
        async move {
            phone
                .send(app, "PUT", &path, &[("If-None-Match", "*")], &body)
                .await
                .status()
                .as_u16()
        }
    };
    // Two people called Sam, known by e-mail only, both fit.
    assert_eq!(
        put("sam-1.vcf", email_card("s1", "Sam", "sam@one.example")).await,
        201
    );
    assert_eq!(
        put("sam-2.vcf", email_card("s2", "Sam", "sam@two.example")).await,
        201
    );
    // The same Sam again (e-mail compared case-insensitively) is a duplicate.
    assert_eq!(
        put("sam-3.vcf", email_card("s3", "sam", "SAM@one.example")).await,
        409
    );
    // A Sam with a phone is someone else again.
    let with_phone = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Sam\r\nEMAIL:sam@one.example\r\nTEL:+1 555 0100 321\r\nEND:VCARD\r\n";
    assert_eq!(put("sam-4.vcf", with_phone.to_string()).await, 201);
    // A phone that is given must still be a phone.
    let bad = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Sam\r\nTEL:call me\r\nEND:VCARD\r\n";
    assert_eq!(put("sam-5.vcf", bad.to_string()).await, 403);

    // The API shows them with an empty phone, and search finds them by e-mail.
    let res = app
        .api(
            Method::GET,
            "/api/contacts?q=two.example",
            &phone.token,
            None,
        )
        .await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["total"], 1, "{list}");
    let sam = &list["contacts"][0];
    assert_eq!(sam["phone"], "");
    assert_eq!(sam["email"], "sam@two.example");
    let id = sam["id"].as_str().unwrap().to_string();

    // Edited through the API it may stay without a phone, and the card keeps its UID.
    let res = app
        .api(
            Method::PUT,
            &format!("/api/contacts/{id}"),
            &phone.token,
            Some(serde_json::json!({"company": "Two Ltd"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let text = phone
        .send(&app, "GET", &format!("{book}sam-2.vcf"), &[], "")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("ORG:Two Ltd") && text.contains("UID:s2"),
        "{text}"
    );
    assert!(!text.contains("TEL"), "{text}");

    // The web page's form does not insist on a phone for it, and shows a dash on its page.
    let page = browser();
    let account = TestUser {
        username: phone.user.clone(),
        password: phone.account_password.clone(),
        secret: None,
        recovery_codes: Vec::new(),
    };
    app.login_web(&page, &account).await;
    let form = page
        .get(app.url(&format!("/contacts/{id}/edit")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let phone_input = form
        .split("<input")
        .find(|i| i.contains("id=\"phone\""))
        .expect("a phone input")
        .to_string();
    assert!(!phone_input.contains(" required"), "{phone_input}");
    let shown = page
        .get(app.url(&format!("/contacts/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("no phone"), "no dash for the missing phone");

    // A new contact on the API still needs a phone, as API.md says.
    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &phone.token,
            Some(serde_json::json!({"name": "Sam", "email": "sam@three.example"})),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn tombstones_end_after_ninety_days_and_older_tokens_are_refused() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;
    let book = phone.book();
    for i in 1..=2 {
        let res = phone
            .send(
                &app,
                "PUT",
                &format!("{book}c{i}.vcf"),
                &[("If-None-Match", "*")],
                &email_card(&format!("c{i}"), &format!("Person {i}"), "p@example.org"),
            )
            .await;
        assert!(res.status().is_success());
    }
    let token = |text: &str| between(text, "sync-token").pop().expect("a token");
    let res = phone
        .send(&app, "REPORT", &book, &[("Depth", "1")], &sync_body(""))
        .await;
    let before = token(&res.text().await.unwrap());
    let res = phone
        .send(&app, "DELETE", &format!("{book}c1.vcf"), &[], "")
        .await;
    assert_eq!(res.status(), 204);
    let res = phone
        .send(&app, "REPORT", &book, &[("Depth", "1")], &sync_body(""))
        .await;
    let after = token(&res.text().await.unwrap());

    // A purge within the 90 days keeps the tombstone: the old token still learns of it.
    let purged = contact_vault::ops::purge_expired(&app.state, app.clock.now() + 89 * 86_400).await;
    assert!(purged.failures.is_empty());
    let res = phone
        .send(
            &app,
            "REPORT",
            &book,
            &[("Depth", "1")],
            &sync_body(&before),
        )
        .await;
    assert_eq!(res.status(), 207);
    assert!(res.text().await.unwrap().contains("c1.vcf"));

    // Past them the tombstone goes; the token from before it is refused (the device syncs
    // afresh), the one from after it still works.
    let purged = contact_vault::ops::purge_expired(&app.state, app.clock.now() + 91 * 86_400).await;
    assert!(purged.failures.is_empty());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM dav_tombstones")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let res = phone
        .send(
            &app,
            "REPORT",
            &book,
            &[("Depth", "1")],
            &sync_body(&before),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("valid-sync-token"));
    let res = phone
        .send(&app, "REPORT", &book, &[("Depth", "1")], &sync_body(&after))
        .await;
    assert_eq!(res.status(), 207);
    // A fresh sync still lists what is there.
    let res = phone
        .send(&app, "PROPFIND", &book, &[("Depth", "1")], PROPFIND_ETAGS)
        .await;
    let text = res.text().await.unwrap();
    assert!(
        text.contains("c2.vcf") && !text.contains("c1.vcf"),
        "{text}"
    );
}

#[tokio::test]
async fn under_an_https_public_url_carddav_over_plain_http_is_refused_unread() {
    let app = spawn_app_with(|s| {
        s.public_url = Some("https://contacts.example.org".into());
        s.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let phone = device(&app, "ann").await;
    let book = phone.book();
    // Straight to the app (no TLS proxy in front), with a good app password: refused, and
    // the failure is not about the password.
    let res = phone
        .send(&app, "PROPFIND", &book, &[("Depth", "1")], PROPFIND_ETAGS)
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("https"));
    // A proxy that says it took plain http: refused too.
    let res = phone
        .send(
            &app,
            "PROPFIND",
            &book,
            &[("Depth", "1"), ("X-Forwarded-Proto", "http")],
            PROPFIND_ETAGS,
        )
        .await;
    assert_eq!(res.status(), 403);
    // Through the TLS proxy: served.
    let res = phone
        .send(
            &app,
            "PROPFIND",
            &book,
            &[("Depth", "1"), ("X-Forwarded-Proto", "https")],
            PROPFIND_ETAGS,
        )
        .await;
    assert_eq!(res.status(), 207);
    // And a wrong password over https still gets the challenge with the same realm.
    let res = phone
        .client
        .request(Method::from_bytes(b"PROPFIND").unwrap(), app.url(&book))
        .header("X-Forwarded-Proto", "https")
        .header("Depth", "0")
        .basic_auth(&phone.user, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Basic realm=\"Contact Vault\", charset=\"UTF-8\""
    );
}

/// The home's PROPFIND answer for `displayname` (the book's included, Depth 1).
async fn shown(app: &TestApp, device: &Device, path: &str) -> String {
    let body =
        r#"<?xml version="1.0"?><propfind xmlns="DAV:"><prop><displayname/></prop></propfind>"#;
    let res = device
        .send(app, "PROPFIND", path, &[("Depth", "1")], body)
        .await;
    assert_eq!(res.status(), 207);
    res.text().await.unwrap()
}

#[tokio::test]
async fn a_user_names_the_address_book_and_devices_show_that_name() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;
    let other = device(&app, "bob").await;
    let home = format!("/dav/addressbooks/{}/", phone.user);
    assert!(shown(&app, &phone, &home).await.contains("Contacts of ann"));

    let page = browser();
    let account = TestUser {
        username: phone.user.clone(),
        password: phone.account_password.clone(),
        secret: None,
        recovery_codes: Vec::new(),
    };
    app.login_web(&page, &account).await;
    let form = "/account/app-passwords";
    // Too long, or with control characters: the form again with its message, nothing kept.
    let res = app
        .post_form(
            &page,
            form,
            "/account/book-name",
            &[("book_name", &"x".repeat(101))],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("At most 100 characters.")
    );
    let res = app
        .post_form(
            &page,
            form,
            "/account/book-name",
            &[("book_name", "Fam\u{7}ily")],
        )
        .await;
    assert_eq!(res.status(), 400);
    assert!(shown(&app, &phone, &home).await.contains("Contacts of ann"));

    let res = app
        .post_form(
            &page,
            form,
            "/account/book-name",
            &[("book_name", " Family & friends ")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let text = shown(&app, &phone, &home).await;
    assert!(text.contains("Family &amp; friends"), "{text}");
    let html = app.get_html(&page, form).await;
    assert!(
        html.contains("value=\"Family &#38; friends\"")
            || html.contains("value=\"Family &amp; friends\""),
        "the form shows the name"
    );
    // Another user's book keeps its own name; the name is sealed at rest.
    assert!(
        shown(&app, &other, &format!("/dav/addressbooks/{}/", other.user))
            .await
            .contains("Contacts of bob")
    );
    let stored: Option<String> =
        sqlx::query_scalar("SELECT book_name FROM users WHERE username = 'ann'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!stored.unwrap().contains("Family"));
    assert!(
        app.audit_actions()
            .await
            .contains(&"RENAME_BOOK".to_string())
    );

    // Empty goes back to the default.
    let res = app
        .post_form(&page, form, "/account/book-name", &[("book_name", "")])
        .await;
    assert_eq!(res.status(), 303);
    assert!(shown(&app, &phone, &home).await.contains("Contacts of ann"));
}

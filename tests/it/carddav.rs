//! CardDAV through the real app, with the requests clients send (written from RFC 6352, RFC
//! 6578 and what DAVx5, iOS and Thunderbird are documented to send): discovery, listing, the
//! multiget, sync-collection with its tokens, cards written with preconditions, the app
//! password as the only way in, and another user's book out of reach.

use reqwest::{Client, Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

pub struct Device {
    pub client: Client,
    pub user: String,
    pub password: String,
    /// An API token of the same user, to look from the other face.
    pub token: String,
    /// The account password (for the web pages).
    pub account_password: String,
}

pub async fn device(app: &TestApp, name: &str) -> Device {
    let user = app.create_user(name, "user").await;
    let token = app.api_token(&user).await;
    let res = app
        .api(
            Method::POST,
            "/api/app-passwords",
            &token,
            Some(json!({"name": "phone", "current_password": user.password})),
        )
        .await;
    assert_eq!(res.status(), 201);
    let password = res.json::<Value>().await.unwrap()["password"]
        .as_str()
        .unwrap()
        .to_string();
    Device {
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        user: name.to_string(),
        password,
        token,
        account_password: user.password.clone(),
    }
}

impl Device {
    pub async fn send(
        &self,
        app: &TestApp,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut req = self
            .client
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                app.url(path),
            )
            .basic_auth(&self.user, Some(&self.password))
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    pub fn book(&self) -> String {
        format!("/dav/addressbooks/{}/contacts/", self.user)
    }
}

const PROPFIND_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>"#;

const PROPFIND_HOME_SET: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<A:propfind xmlns:A="DAV:"><A:prop>
  <B:addressbook-home-set xmlns:B="urn:ietf:params:xml:ns:carddav"/>
  <A:displayname/><A:principal-URL/>
</A:prop></A:propfind>"#;

const PROPFIND_BOOKS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<propfind xmlns="DAV:" xmlns:CARD="urn:ietf:params:xml:ns:carddav" xmlns:CS="http://calendarserver.org/ns/">
 <prop><resourcetype/><displayname/><CS:getctag/><sync-token/><CARD:supported-address-data/>
  <current-user-privilege-set/><supported-report-set/><owner/></prop></propfind>"#;

pub const PROPFIND_ETAGS: &str = r#"<?xml version="1.0"?><d:propfind xmlns:d="DAV:">
<d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#;

pub fn sync_body(token: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" ?><d:sync-collection xmlns:d="DAV:">
<d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>
<d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

fn multiget_body(hrefs: &[String]) -> String {
    let hrefs: String = hrefs
        .iter()
        .map(|h| format!("<d:href>{h}</d:href>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">
<d:prop><d:getetag/><card:address-data/></d:prop>{hrefs}</card:addressbook-multiget>"#
    )
}

fn card(uid: &str, name: &str, phone: &str) -> String {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{name}\r\nN:;{name};;;\r\nTEL;TYPE=CELL:{phone}\r\n\
         X-PHONE-ONLY:kept\r\nEND:VCARD\r\n"
    )
}

/// The text of every `<D:tag>…</D:tag>` in a DAV answer (this server writes DAV: as `D`).
pub fn between(text: &str, tag: &str) -> Vec<String> {
    let open = format!("<D:{tag}>");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find("</") else { break };
        out.push(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

#[tokio::test]
async fn a_client_discovers_the_book_as_davx5_and_ios_do() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;

    let res = phone
        .client
        .get(app.url("/.well-known/carddav"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "/dav/");

    let res = phone.send(&app, "OPTIONS", "/dav/", &[], "").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["dav"]
            .to_str()
            .unwrap()
            .contains("addressbook")
    );
    assert!(
        res.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("PROPFIND")
    );

    let res = phone
        .send(
            &app,
            "PROPFIND",
            "/dav/",
            &[("Depth", "0")],
            PROPFIND_PRINCIPAL,
        )
        .await;
    assert_eq!(res.status(), 207);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("<D:href>/dav/principals/ann/</D:href>"),
        "{text}"
    );

    let res = phone
        .send(
            &app,
            "PROPFIND",
            "/dav/principals/ann/",
            &[("Depth", "0")],
            PROPFIND_HOME_SET,
        )
        .await;
    let text = res.text().await.unwrap();
    assert!(text.contains("/dav/addressbooks/ann/"), "{text}");

    let res = phone
        .send(
            &app,
            "PROPFIND",
            "/dav/addressbooks/ann/",
            &[("Depth", "1")],
            PROPFIND_BOOKS,
        )
        .await;
    assert_eq!(res.status(), 207);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("<D:href>/dav/addressbooks/ann/contacts/</D:href>"),
        "{text}"
    );
    assert!(text.contains("<CR:addressbook/>"), "{text}");
    assert!(
        text.contains("CS:getctag") && text.contains("urn:contact-vault:sync:"),
        "{text}"
    );
    assert!(text.contains(r#"<CR:address-data-type content-type="text/vcard" version="4.0"/>"#));
    assert!(text.contains("<CR:addressbook-multiget/>") && text.contains("<D:sync-collection/>"));
    assert!(
        text.contains("HTTP/1.1 404 Not Found"),
        "owner is not served: {text}"
    );

    // Depth: infinity is refused as RFC 4918 allows, with its precondition.
    let res = phone
        .send(
            &app,
            "PROPFIND",
            &phone.book(),
            &[("Depth", "infinity")],
            PROPFIND_ETAGS,
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("propfind-finite-depth"));
}

#[tokio::test]
async fn cards_written_by_a_device_and_by_the_api_meet_in_both() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;
    let book = phone.book();
    let href = format!("{book}9b2c1a7e-phone-1.vcf");

    // Create: If-None-Match: * makes it, a second time it is refused.
    let body = card("9b2c1a7e-phone-1", "Mia Wong", "+1 555 0100 777");
    let res = phone
        .send(
            &app,
            "PUT",
            &href,
            &[("If-None-Match", "*"), ("Content-Type", "text/vcard")],
            &body,
        )
        .await;
    assert_eq!(res.status(), 201);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let res = phone
        .send(&app, "PUT", &href, &[("If-None-Match", "*")], &body)
        .await;
    assert_eq!(res.status(), 412);

    // GET gives the card back whole, as 4.0, with the same ETag.
    let res = phone.send(&app, "GET", &href, &[], "").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("VERSION:4.0") && text.contains("X-PHONE-ONLY:kept"),
        "{text}"
    );

    // It is in the book for the API, with its fields; an API edit shows on the device with a
    // new ETag, and keeps the card's other properties.
    let res = app
        .api(Method::GET, "/api/contacts", &phone.token, None)
        .await;
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["contacts"][0]["name"], "Mia Wong");
    assert_eq!(list["contacts"][0]["phone"], "+1 555 0100 777");
    let id = list["contacts"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .api(
            Method::PUT,
            &format!("/api/contacts/{id}"),
            &phone.token,
            Some(json!({"email": "mia@example.com"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = phone.send(&app, "GET", &href, &[], "").await;
    let api_etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(api_etag, etag);
    let text = res.text().await.unwrap();
    assert!(
        text.contains("EMAIL:mia@example.com") && text.contains("X-PHONE-ONLY:kept"),
        "{text}"
    );
    let etag = api_etag;

    // Update with a stale ETag: 412; with the right one: 204 and a new ETag.
    let edited = card("9b2c1a7e-phone-1", "Mia Wong-Li", "+1 555 0100 777");
    let res = phone
        .send(&app, "PUT", &href, &[("If-Match", "\"stale-1\"")], &edited)
        .await;
    assert_eq!(res.status(), 412);
    let res = phone
        .send(&app, "PUT", &href, &[("If-Match", &etag)], &edited)
        .await;
    assert_eq!(res.status(), 204);
    let new_etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(new_etag, etag);

    // Listing and multiget.
    let res = phone
        .send(&app, "PROPFIND", &book, &[("Depth", "1")], PROPFIND_ETAGS)
        .await;
    let text = res.text().await.unwrap();
    assert!(
        text.contains(&href) && text.contains(&new_etag.replace('"', "&quot;")),
        "{text}"
    );
    let res = phone
        .send(
            &app,
            "REPORT",
            &book,
            &[("Depth", "1")],
            &multiget_body(&[href.clone(), format!("{book}missing.vcf")]),
        )
        .await;
    assert_eq!(res.status(), 207);
    let text = res.text().await.unwrap();
    assert!(text.contains("FN:Mia Wong-Li"), "{text}");
    assert!(text.contains("HTTP/1.1 404 Not Found"), "{text}");

    // Delete with a stale ETag: 412; then 204; then 404.
    let res = phone
        .send(&app, "DELETE", &href, &[("If-Match", &etag)], "")
        .await;
    assert_eq!(res.status(), 412);
    let res = phone
        .send(&app, "DELETE", &href, &[("If-Match", &new_etag)], "")
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(phone.send(&app, "GET", &href, &[], "").await.status(), 404);
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"ADD_CONTACT".to_string()));
    assert!(actions.contains(&"EDIT_CONTACT".to_string()));
    assert!(actions.contains(&"DELETE_CONTACT".to_string()));
}

#[tokio::test]
async fn sync_collection_reports_changes_and_deletions_since_a_token() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;
    let book = phone.book();

    // A contact stored before change versions were kept (as after the upgrade to migration
    // 0009) is still in a first sync, which lists everything and gives a token.
    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &phone.token,
            Some(json!({"name": "Old Friend", "phone": "+1 555 0100 000"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    sqlx::query("UPDATE contacts SET changed_version = 0")
        .execute(&app.db)
        .await
        .unwrap();
    let res = phone
        .send(&app, "REPORT", &book, &[("Depth", "1")], &sync_body(""))
        .await;
    assert_eq!(res.status(), 207);
    let text = res.text().await.unwrap();
    assert_eq!(between(&text, "getetag").len(), 1, "{text}");
    let first = between(&text, "sync-token").pop().expect("a token");

    for i in 1..=3 {
        let res = phone
            .send(
                &app,
                "PUT",
                &format!("{book}card-{i}.vcf"),
                &[("If-None-Match", "*")],
                &card(
                    &format!("card-{i}"),
                    &format!("Person {i}"),
                    &format!("+1 555 0100 00{i}"),
                ),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let res = phone
        .send(&app, "REPORT", &book, &[("Depth", "1")], &sync_body(&first))
        .await;
    let text = res.text().await.unwrap();
    assert_eq!(between(&text, "getetag").len(), 3, "{text}");
    let second = between(&text, "sync-token").pop().expect("a token");
    assert_ne!(first, second);

    // Nothing changed: nothing listed.
    let res = phone
        .send(
            &app,
            "REPORT",
            &book,
            &[("Depth", "1")],
            &sync_body(&second),
        )
        .await;
    let text = res.text().await.unwrap();
    assert!(!text.contains("<D:response>"), "{text}");
    assert_eq!(
        between(&text, "sync-token").pop().as_deref(),
        Some(second.as_str())
    );

    // A delete is reported as a 404 member.
    phone
        .send(&app, "DELETE", &format!("{book}card-2.vcf"), &[], "")
        .await;
    let res = phone
        .send(
            &app,
            "REPORT",
            &book,
            &[("Depth", "1")],
            &sync_body(&second),
        )
        .await;
    let text = res.text().await.unwrap();
    assert!(
        text.contains("card-2.vcf</D:href><D:status>HTTP/1.1 404"),
        "{text}"
    );
    assert!(!text.contains("card-1.vcf"), "{text}");

    // A token this book never gave is refused as RFC 6578 says.
    for bad in [
        "urn:contact-vault:sync:999999",
        "http://example.com/other",
        "urn:contact-vault:sync:-1",
    ] {
        let res = phone
            .send(&app, "REPORT", &book, &[("Depth", "1")], &sync_body(bad))
            .await;
        assert_eq!(res.status(), 403, "{bad}");
        assert!(res.text().await.unwrap().contains("valid-sync-token"));
    }
}

#[tokio::test]
async fn only_an_app_password_opens_only_its_own_book() {
    let app = spawn_app().await;
    let ann = device(&app, "ann").await;
    let bob = device(&app, "bob").await;

    // No credentials, the account password, a wrong password: 401 with the Basic challenge.
    let res = ann
        .client
        .request(Method::from_bytes(b"PROPFIND").unwrap(), app.url("/dav/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Basic realm=\"Contact Vault\", charset=\"UTF-8\""
    );
    let wrong = Device {
        client: Client::new(),
        user: "ann".into(),
        password: "not-an-app-password".into(),
        token: String::new(),
        account_password: String::new(),
    };
    let res = wrong
        .send(&app, "PROPFIND", "/dav/", &[("Depth", "0")], "")
        .await;
    assert_eq!(res.status(), 401);
    assert!(
        app.audit_actions()
            .await
            .contains(&"LOGIN_FAIL".to_string())
    );

    // Ann's card is not Bob's to read, list, overwrite or delete.
    let href = format!("{}x1.vcf", ann.book());
    ann.send(
        &app,
        "PUT",
        &href,
        &[],
        &card("x1", "Ann Secret", "+1 555 0100 888"),
    )
    .await;
    for (method, body) in [("GET", ""), ("DELETE", ""), ("PROPFIND", "")] {
        let res = bob.send(&app, method, &href, &[("Depth", "0")], body).await;
        assert_eq!(res.status(), 404, "{method}");
    }
    let res = bob
        .send(
            &app,
            "PUT",
            &href,
            &[],
            &card("x1", "Taken", "+1 555 0100 999"),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(ann.send(&app, "GET", &href, &[], "").await.status(), 200);

    // Guessing app passwords runs into the sign-in budget of the address.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            wrong
                .send(&app, "PROPFIND", "/dav/", &[("Depth", "0")], "")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// A method, a path, headers and a body.
type Case = (
    &'static str,
    String,
    Vec<(&'static str, &'static str)>,
    String,
);

#[tokio::test]
async fn malformed_requests_get_a_clear_4xx_and_never_a_5xx() {
    let app = spawn_app().await;
    let phone = device(&app, "ann").await;
    let book = phone.book();
    let cases: Vec<Case> = vec![
        (
            "PROPFIND",
            book.clone(),
            vec![("Depth", "1")],
            "<not xml".into(),
        ),
        (
            "PROPFIND",
            book.clone(),
            vec![("Depth", "1")],
            "<x:propfind xmlns:x=\"urn:other\"/>".into(),
        ),
        (
            "REPORT",
            book.clone(),
            vec![],
            "<D:unknown-report xmlns:D=\"DAV:\"/>".into(),
        ),
        ("REPORT", "/dav/".into(), vec![], sync_body("")),
        ("PUT", format!("{book}bad.vcf"), vec![], "not a card".into()),
        (
            "PUT",
            format!("{book}badphone.vcf"),
            vec![],
            "BEGIN:VCARD\nVERSION:4.0\nFN:Bad Phone\nTEL:12\nEND:VCARD\n".into(),
        ),
        (
            "PUT",
            format!("{book}../escape.vcf"),
            vec![],
            card("e", "Esc Ape", "+1 555 0100 111"),
        ),
        (
            "PUT",
            format!("{book}big.vcf"),
            vec![],
            format!(
                "BEGIN:VCARD\nVERSION:4.0\nFN:B\nTEL:555 0100 222\nNOTE:{}\nEND:VCARD\n",
                "x".repeat(1_100_000)
            ),
        ),
        (
            "PROPFIND",
            book.clone(),
            vec![("Depth", "1")],
            format!(
                "<D:propfind xmlns:D=\"DAV:\">{}</D:propfind>",
                "<D:prop>".repeat(50)
            ),
        ),
        ("MKCOL", format!("{book}sub/"), vec![], String::new()),
        ("POST", book.clone(), vec![], String::new()),
    ];
    for (method, path, headers, body) in cases {
        let res = phone.send(&app, method, &path, &headers, &body).await;
        let status = res.status().as_u16();
        assert!((400..500).contains(&status), "{method} {path}: {status}");
    }
    // Nothing was stored.
    let res = phone
        .send(&app, "PROPFIND", &book, &[("Depth", "1")], PROPFIND_ETAGS)
        .await;
    assert!(!res.text().await.unwrap().contains(".vcf"));
}

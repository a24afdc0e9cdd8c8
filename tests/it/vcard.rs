//! vCard import and export through the real app (issue 15, first part): files of 3.0 and 4.0
//! cards over the JSON API and the import page, cards kept whole and encrypted at rest, the
//! book's fields derived from them, edits that keep the rest of the card, bad cards listed by
//! number with nothing stored, and another user's card out of reach.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{TestApp, browser, csrf_in, spawn_app, spawn_app_with};

/// A 3.0 card as phones export them: folded lines, quoted-printable, a base64 photo, two
/// phones (the second preferred), an unknown property.
const JURGEN: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Müller;Jürgen;;Dr.;\r\nFN:Dr. Jürgen Müller\r\n\
ORG:Globex\r\nTITLE:Chief Engineer\r\nTEL;TYPE=CELL:+49 170 5555 000\r\nTEL;TYPE=WORK,VOICE,PREF:+49 30 1234 567\r\n\
EMAIL;TYPE=INTERNET,HOME:juergen@example.com\r\nADR;TYPE=HOME:;;Hauptstraße 1;Berlin;;10115;Germany\r\n\
BDAY:1980-02-29\r\nNOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9 au=\r\n lait\r\n\
CATEGORIES:friends,work\r\nURL:https://example.com/~jm\r\n\
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////\r\n \
//////////////////////////////////////////////////////////\r\n\
X-FOO;X-PARAM=1:kept as it was\r\nUID:abc-123\r\nEND:VCARD\r\n";

/// A 4.0 card with `tel:` URIs and a long folded note.
const TARO: &str = "BEGIN:VCARD\nVERSION:4.0\nFN:山田 太郎\nTEL;VALUE=uri;TYPE=\"voice,home\";PREF=1:tel:+1-555-555-5555\n\
TEL;TYPE=cell:tel:+1-555-000-1111\nEMAIL:taro@example.jp\nNOTE:A note folded by the producer at some po\n int.\n\
UID:urn:uuid:0f3c5a2e-1111-4222-8333-944445555666\nEND:VCARD\n";

async fn token_for(app: &TestApp, name: &str) -> String {
    let user = app.create_user(name, "user").await;
    app.api_token(&user).await
}

async fn import(app: &TestApp, token: &str, body: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/contacts/import/vcard"))
        .bearer_auth(token)
        .header("content-type", "text/vcard")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn contacts(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.api(Method::GET, "/api/contacts", token, None).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["contacts"]
        .as_array()
        .unwrap()
        .clone()
}

async fn card(app: &TestApp, token: &str, id: &str) -> String {
    let res = app
        .api(
            Method::GET,
            &format!("/api/contacts/{id}/vcard"),
            token,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/vcard")
    );
    res.text().await.unwrap()
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list:?}"))
}

#[tokio::test]
async fn cards_of_both_versions_import_with_their_fields_and_twice_add_nothing() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let res = import(&app, &token, &format!("{JURGEN}\r\n{TARO}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"added": 2, "skipped": 0, "errors": []})
    );
    let list = contacts(&app, &token).await;
    let j = named(&list, "Dr. Jürgen Müller");
    assert_eq!(j["phone"], "+49 30 1234 567", "the preferred number");
    assert_eq!(j["email"], "juergen@example.com");
    assert_eq!(j["address"], "Hauptstraße 1, Berlin, 10115, Germany");
    assert_eq!(j["company"], "Globex");
    assert_eq!(j["notes"], "café au lait");
    assert_eq!(j["tags"], json!(["friends", "work"]));
    let t = named(&list, "山田 太郎");
    assert_eq!(t["phone"], "+1-555-555-5555");

    // Search and the duplicate check work for them like for any contact.
    let res = app
        .api(Method::GET, "/api/contacts?q=m%C3%BCller", &token, None)
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["total"], 1);
    let res = import(&app, &token, JURGEN).await;
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"added": 0, "skipped": 1, "errors": []})
    );
    let dup = app
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({"name": "dr. jürgen  müller", "phone": "+49 (30) 1234-567"})),
        )
        .await;
    assert_eq!(dup.status(), 409);
    assert!(
        app.audit_actions()
            .await
            .contains(&"IMPORT_VCARD".to_string())
    );
}

#[tokio::test]
async fn a_card_comes_back_with_every_property_it_came_with() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    assert_eq!(import(&app, &token, JURGEN).await.status(), 200);
    let id = contacts(&app, &token).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = card(&app, &token, &id).await;
    assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"), "{text}");
    for kept in [
        "X-FOO;X-PARAM=1:kept as it was",
        "UID:abc-123",
        "BDAY:19800229",
        "TITLE:Chief Engineer",
        "+49 170 5555 000",
        "URL:https://example.com/~jm",
        "PHOTO:data:image/jpeg;base64,/9j/",
    ] {
        assert!(text.contains(kept), "{kept:?} missing from {text}");
    }

    // The whole book as one file, which imports into another book as it is.
    let res = app
        .api(Method::GET, "/api/contacts/export/vcard", &token, None)
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("contacts.vcf")
    );
    let file = res.text().await.unwrap();
    assert!(file.contains("X-FOO;X-PARAM=1:kept as it was"));
    let bob = token_for(&app, "bob").await;
    let res = import(&app, &bob, &file).await;
    assert_eq!(res.json::<Value>().await.unwrap()["added"], 1);
    let again = card(
        &app,
        &bob,
        contacts(&app, &bob).await[0]["id"].as_str().unwrap(),
    )
    .await;
    assert!(again.contains("X-FOO;X-PARAM=1:kept as it was") && again.contains("BDAY:19800229"));
    assert!(
        app.audit_actions()
            .await
            .contains(&"EXPORT_VCARD".to_string())
    );
}

#[tokio::test]
async fn an_edit_through_the_api_changes_its_properties_and_keeps_the_rest() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    import(&app, &token, JURGEN).await;
    let id = contacts(&app, &token).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .api(
            Method::PUT,
            &format!("/api/contacts/{id}"),
            &token,
            Some(json!({"phone": "+49 30 9999 999", "tags": ["family"]})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let text = card(&app, &token, &id).await;
    assert!(text.contains("+49 30 9999 999"), "{text}");
    assert!(
        !text.contains("+49 30 1234 567"),
        "the old preferred number went: {text}"
    );
    assert!(
        text.contains("+49 170 5555 000"),
        "the other number stayed: {text}"
    );
    assert!(text.contains("CATEGORIES:family"), "{text}");
    assert!(text.contains("X-FOO;X-PARAM=1:kept as it was") && text.contains("BDAY:19800229"));

    // A favorite through the API shows in the card too.
    app.api(
        Method::POST,
        &format!("/api/contacts/{id}/favorite"),
        &token,
        None,
    )
    .await;
    assert!(
        card(&app, &token, &id)
            .await
            .contains("X-CONTACT-VAULT-FAVORITE:TRUE")
    );
}

#[tokio::test]
async fn a_contact_made_in_the_book_exports_as_a_card_too() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({"name": "Ada Lovelace", "phone": "+44 20 7946 0000",
                        "email": "ada@example.org", "tags": ["math"]})),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = card(&app, &token, &id).await;
    for want in [
        "FN:Ada Lovelace",
        "N:Lovelace;Ada;;;",
        "TEL:+44 20 7946 0000",
        "EMAIL:ada@example.org",
        "CATEGORIES:math",
    ] {
        assert!(text.contains(want), "{want:?} missing from {text}");
    }
    assert!(text.contains(&format!("UID:{id}")), "{text}");
}

#[tokio::test]
async fn one_bad_card_refuses_the_file_and_every_bad_card_is_named() {
    // Six imports by one user: more than the import burst allows.
    let app = spawn_app_with(|s| s.import_burst = 10).await;
    let token = token_for(&app, "ann").await;
    let bad_phone = "BEGIN:VCARD\nVERSION:4.0\nFN:Bad Phone\nTEL:12\nEND:VCARD\n";
    let no_name = "BEGIN:VCARD\nVERSION:4.0\nTEL:555 0100 300\nEND:VCARD\n";
    let res = import(&app, &token, &format!("{TARO}{bad_phone}{no_name}")).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["added"], 0);
    let numbers: Vec<u64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["card"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 3], "{body}");
    assert!(
        body["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("phone")
    );
    assert!(contacts(&app, &token).await.is_empty(), "nothing stored");

    for (input, want) in [
        (
            "BEGIN:VCARD\nVERSION:4.0\nFN:A\nTEL:555 0100 400\n",
            "no END:VCARD",
        ),
        ("name,phone\nAnn,555 0100 500\n", "outside a card"),
    ] {
        let res = import(&app, &token, input).await;
        assert_eq!(res.status(), 400, "{input:?}");
        let body: Value = res.json().await.unwrap();
        assert!(body.to_string().contains(want), "{input:?}: {body}");
    }
    // Not UTF-8, and a card far larger than any contact: clear 4xx answers, nothing stored.
    let res = reqwest::Client::new()
        .post(app.url("/api/contacts/import/vcard"))
        .bearer_auth(&token)
        .header("content-type", "text/vcard")
        .body(b"BEGIN:VCARD\n\xff\xfe\nEND:VCARD\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let huge = format!(
        "BEGIN:VCARD\nVERSION:4.0\nFN:Big\nTEL:555 0100 600\nNOTE:{}\nEND:VCARD\n",
        "x".repeat(2 * 1024 * 1024)
    );
    let res = import(&app, &token, &huge).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("larger than"));
    assert!(contacts(&app, &token).await.is_empty());
}

#[tokio::test]
async fn another_users_card_is_not_found_and_cards_are_encrypted_at_rest() {
    let app = spawn_app().await;
    let ann = token_for(&app, "ann").await;
    let bob = token_for(&app, "bob").await;
    import(&app, &ann, JURGEN).await;
    let id = contacts(&app, &ann).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .api(
            Method::GET,
            &format!("/api/contacts/{id}/vcard"),
            &bob,
            None,
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .api(Method::GET, "/api/contacts/export/vcard", &bob, None)
        .await;
    assert_eq!(res.text().await.unwrap(), "", "bob's book is empty");
    let stored: Option<String> = sqlx::query_scalar("SELECT card FROM contacts WHERE id = $1")
        .bind(&id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let stored = stored.expect("the card is kept");
    for secret in ["Müller", "kept as it was", "1980", "Hauptstra", "VCARD"] {
        assert!(!stored.contains(secret), "{secret:?} readable on disk");
    }
}

#[tokio::test]
async fn the_import_page_takes_vcf_files_and_the_contact_page_shows_the_card() {
    let app = spawn_app().await;
    let user = app.create_user("ann", "user").await;
    let client = browser();
    app.login_web(&client, &user).await;
    let html = app.get_html(&client, "/contacts/import").await;
    let token = csrf_in(&html);
    let form = |text: &str| {
        Form::new().text("csrf_token", token.clone()).part(
            "file",
            Part::bytes(text.as_bytes().to_vec())
                .file_name("contacts.vcf")
                .mime_str("text/vcard")
                .unwrap(),
        )
    };
    let bad = "BEGIN:VCARD\nVERSION:4.0\nFN:Bad Phone\nTEL:12\nEND:VCARD\n";
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(form(&format!("{TARO}{bad}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("<strong>Card 2:</strong>"), "{html}");

    let res = client
        .post(app.url("/contacts/import"))
        .multipart(form(JURGEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let list = app.get_html(&client, "/contacts").await;
    assert!(list.contains("1 added, 0 skipped"), "{list}");
    assert!(list.contains("/contacts/export.vcf"));
    let api = app.api_token(&user).await;
    let id = contacts(&app, &api).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let page = app.get_html(&client, &format!("/contacts/{id}")).await;
    for shown in [
        "+49 170 5555 000",
        "1980-02-29",
        "Chief Engineer",
        "src=\"data:image/jpeg;base64,",
        &format!("/contacts/{id}/card.vcf"),
    ] {
        assert!(page.contains(shown), "{shown:?} not on the page");
    }
    let res = app.get(&client, &format!("/contacts/{id}/card.vcf")).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("X-FOO;X-PARAM=1:kept as it was")
    );
    let res = app.get(&client, "/contacts/export.vcf").await;
    assert!(res.text().await.unwrap().contains("FN:Dr. Jürgen Müller"));
}

#[tokio::test]
async fn the_edit_page_edits_every_phone_and_email_of_a_card_and_keeps_the_rest() {
    let app = spawn_app().await;
    let user = app.create_user("ann", "user").await;
    let api = app.api_token(&user).await;
    assert_eq!(import(&app, &api, JURGEN).await.status(), 200);
    let id = contacts(&app, &api).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let client = browser();
    app.login_web(&client, &user).await;
    let edit = format!("/contacts/{id}/edit");

    // The form shows the card's other phone (the preferred work one is the book's phone).
    let html = app.get_html(&client, &edit).await;
    let others = html
        .split("id=\"other_phones\"")
        .nth(1)
        .and_then(|rest| rest.split("</textarea>").next())
        .expect("the other phones field")
        .to_string();
    assert!(others.contains("cell: +49 170 5555 000"), "{others}");

    let fields = |phones: &'static str, emails: &'static str| {
        vec![
            ("name", "Dr. Jürgen Müller"),
            ("phone", "+49 30 1234 567"),
            ("email", "juergen@example.com"),
            ("company", "Globex"),
            ("other_phones", phones),
            ("other_emails", emails),
        ]
    };
    // A bad line is named, and nothing is written.
    let before = card(&app, &api, &id).await;
    let res = app
        .post_form(
            &client,
            &edit,
            &edit,
            &fields("cell: +49 170 5555 000\nfax: call me", ""),
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Line 2:"), "{html}");
    assert!(html.contains("fax: call me"), "the input is kept");
    assert_eq!(card(&app, &api, &id).await, before);

    // Kept, added and removed lines, one save.
    let res = app
        .post_form(
            &client,
            &edit,
            &edit,
            &fields(
                "cell: +49 170 5555 000\nhome: +49 30 9999 000",
                "work: jm@globex.example",
            ),
        )
        .await;
    assert_eq!(res.status(), 303);
    let text = card(&app, &api, &id).await;
    assert!(text.contains("+49 30 9999 000"), "{text}");
    assert!(text.contains("jm@globex.example"), "{text}");
    assert!(text.contains("+49 170 5555 000") && text.contains("+49 30 1234 567"));
    // Everything else the card held is still there.
    assert!(text.contains("X-FOO;X-PARAM=1:kept as it was"), "{text}");
    assert!(text.contains("BDAY") && text.contains("PHOTO"), "{text}");
    let page = app.get_html(&client, &format!("/contacts/{id}")).await;
    assert!(page.contains("+49 30 9999 000") && page.contains("jm@globex.example"));

    // Removing a line removes its number.
    let res = app
        .post_form(&client, &edit, &edit, &fields("+49 30 9999 000", ""))
        .await;
    assert_eq!(res.status(), 303);
    let text = card(&app, &api, &id).await;
    assert!(
        !text.contains("5555 000") && !text.contains("jm@globex"),
        "{text}"
    );
    assert!(text.contains("+49 30 9999 000"));

    // A contact made on the page gains a card when it gains a second number.
    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &api,
            Some(json!({"name": "Plain Person", "phone": "+1 555 0100 900"})),
        )
        .await;
    let plain = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let edit = format!("/contacts/{plain}/edit");
    let res = app
        .post_form(
            &client,
            &edit,
            &edit,
            &[
                ("name", "Plain Person"),
                ("phone", "+1 555 0100 900"),
                ("other_phones", "work: +1 555 0100 901"),
                ("other_emails", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let text = card(&app, &api, &plain).await;
    assert!(
        text.contains("+1 555 0100 900") && text.contains("+1 555 0100 901"),
        "{text}"
    );
    let audit = app.audit_actions().await;
    assert_eq!(
        audit.iter().filter(|a| *a == "EDIT_CONTACT").count(),
        3,
        "{audit:?}"
    );
}

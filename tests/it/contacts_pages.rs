//! The contact book pages, driven over HTTP like a browser without JavaScript.

use contact_vault::book;
use contact_vault::domain::contact::ContactDraft;
use reqwest::Client;
use reqwest::multipart::{Form, Part};

use crate::helpers::{TestApp, TestUser, browser, csrf_in, location, spawn_app};

/// A signed-in browser for a fresh user.
async fn signed_in(app: &TestApp, username: &str) -> (Client, TestUser) {
    let user = app.create_user(username, "user").await;
    let client = browser();
    app.login_web(&client, &user).await;
    (client, user)
}

/// Adds a contact through the form; returns its id.
async fn add(app: &TestApp, client: &Client, fields: &[(&str, &str)]) -> String {
    let res = app
        .post_form(client, "/contacts/new", "/contacts/new", fields)
        .await;
    assert_eq!(res.status(), 303, "contact added");
    let to = location(&res);
    to.strip_prefix("/contacts/")
        .expect("redirect to the contact")
        .to_string()
}

/// Adds a contact through the service (for setting up long lists quickly).
async fn add_direct(app: &TestApp, username: &str, name: &str, phone: &str, tags: &[&str]) {
    let owner = app.unlocked_row(username).await;
    let draft = ContactDraft {
        name: Some(name.into()),
        phone: Some(phone.into()),
        tags: Some(tags.iter().map(|t| t.to_string()).collect()),
        ..ContactDraft::default()
    };
    book::create(&app.state, &owner, draft)
        .await
        .expect("contact created");
}

/// The names of the list's rows, in order.
fn names(html: &str) -> Vec<String> {
    let marker = "class=\"contact-link\" href=\"/contacts/";
    html.match_indices(marker)
        .map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            let start = rest.find('>').unwrap() + 1;
            let end = rest.find("</a>").unwrap();
            rest[start..end].to_string()
        })
        .collect()
}

/// The target of the first link whose text is `text` (HTML entities of a URL undone).
fn href_of(html: &str, text: &str) -> String {
    let end = html
        .find(&format!(">{text}</a>"))
        .unwrap_or_else(|| panic!("a link {text:?}"));
    let start = html[..end].rfind("href=\"").expect("href") + "href=\"".len();
    let quote = html[start..].find('"').unwrap() + start;
    html[start..quote].replace("&#38;", "&")
}

fn href_with_rel(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"")? + "href=\"".len();
    let quote = html[start..].find('"')? + start;
    Some(html[start..quote].replace("&#38;", "&"))
}

async fn list_names(app: &TestApp, client: &Client, path: &str) -> Vec<String> {
    let res = app.get(client, path).await;
    assert_eq!(res.status(), 200, "{path}");
    names(&res.text().await.unwrap())
}

async fn contact_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_in_lands_on_an_empty_book_that_says_what_to_do() {
    let app = spawn_app().await;
    assert_eq!(location(&app.get(&browser(), "/contacts").await), "/login");
    let (client, _) = signed_in(&app, "ann").await;
    let res = app.get(&client, "/contacts").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("Your contact book is empty"));
    assert!(html.contains("href=\"/contacts/new\"") && html.contains("href=\"/contacts/import\""));
    assert!(names(&html).is_empty());
}

#[tokio::test]
async fn adding_a_contact_shows_it_and_bad_input_is_kept_with_messages() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;

    let form = app.get_html(&client, "/contacts/new").await;
    for field in [
        "name", "phone", "email", "address", "company", "notes", "tags", "favorite",
    ] {
        assert!(
            form.contains(&format!("<label for=\"{field}\"")),
            "{field} label"
        );
    }

    // Invalid: 400, the input kept (escaped), a message under each bad field.
    let res = app
        .post_form(
            &client,
            "/contacts/new",
            "/contacts/new",
            &[
                ("name", "<b>Eve & Co</b>"),
                ("phone", "12"),
                ("email", "not-an-address"),
                ("company", "\"Quoted\" Ltd"),
                ("tags", "work, vip"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("&#60;b&#62;Eve &#38; Co&#60;/b&#62;"),
        "name kept, escaped"
    );
    assert!(!html.contains("<b>Eve"), "never raw");
    assert!(html.contains("value=\"&#34;Quoted&#34; Ltd\""));
    assert!(html.contains("value=\"work, vip\""), "tags kept");
    for field in ["phone", "email"] {
        assert!(
            html.contains(&format!("id=\"{field}-error\"")),
            "{field} message"
        );
        let input = &html[html.find(&format!("<input id=\"{field}\"")).unwrap()..];
        let input = &input[..input.find('>').unwrap()];
        assert!(input.contains("aria-invalid=\"true\""), "{field} marked");
        assert!(
            input.contains(&format!("{field}-error")),
            "{field} described"
        );
    }
    assert!(!html.contains("id=\"name-error\""), "the name was fine");
    assert!(html.contains("Enter a valid e-mail address."));
    assert_eq!(contact_count(&app).await, 0, "nothing stored");

    // Valid: 303 to the contact, which shows every field.
    let id = add(
        &app,
        &client,
        &[
            ("name", "  Zoë O'Brien "),
            ("phone", "+353 (1) 555-0199"),
            ("email", "zoe@example.ie"),
            ("address", "1 Main St, Dublin"),
            ("company", "ACME"),
            ("notes", "First line\nSecond <line>"),
            ("tags", "work, vip"),
            ("favorite", "on"),
        ],
    )
    .await;
    let res = app.get(&client, &format!("/contacts/{id}")).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Contact added"), "flash");
    assert!(html.contains("Zoë O&#39;Brien"));
    for text in [
        "+353 (1) 555-0199",
        "zoe@example.ie",
        "1 Main St, Dublin",
        "ACME",
    ] {
        assert!(html.contains(text), "{text}");
    }
    assert!(
        html.contains("class=\"notes\">First line\nSecond &#60;line&#62;</div>"),
        "notes keep their line break and are escaped"
    );
    assert!(
        html.contains(">work</a>") && html.contains(">vip</a>"),
        "tag chips"
    );
    assert!(html.contains("aria-pressed=\"true\""), "favorite");
    assert!(html.contains(&format!("href=\"/contacts/{id}/edit\"")));
    assert!(html.contains(&format!("href=\"/contacts/{id}/delete\"")));

    let list = app.get_html(&client, "/contacts").await;
    assert_eq!(names(&list), vec!["Zoë O&#39;Brien".to_string()]);
}

#[tokio::test]
async fn a_duplicate_is_refused_with_a_link_to_the_contact_it_matches() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    let first = add(
        &app,
        &client,
        &[("name", "Bob Jones"), ("phone", "+1 555 000 0000")],
    )
    .await;

    let res = app
        .post_form(
            &client,
            "/contacts/new",
            "/contacts/new",
            &[
                ("name", " bob  jones"),
                ("phone", "1-555-000-0000"),
                ("email", "b@example.com"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("<a href=\"/contacts/{first}\">Bob Jones</a>")));
    assert!(html.contains("value=\"b@example.com\""), "input kept");
    assert_eq!(contact_count(&app).await, 1);

    // Editing another contact into the same name and phone is refused the same way.
    let second = add(
        &app,
        &client,
        &[("name", "Robert Jones"), ("phone", "555 0101 999")],
    )
    .await;
    let edit = format!("/contacts/{second}/edit");
    let res = app
        .post_form(
            &client,
            &edit,
            &edit,
            &[("name", "Bob Jones"), ("phone", "15550000000")],
        )
        .await;
    assert_eq!(res.status(), 409);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("<a href=\"/contacts/{first}\">Bob Jones</a>")));
    let show = app.get_html(&client, &format!("/contacts/{second}")).await;
    assert!(show.contains("Robert Jones"), "unchanged");
}

#[tokio::test]
async fn a_contact_is_edited_and_its_favorite_toggled() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    let id = add(
        &app,
        &client,
        &[
            ("name", "Carol King"),
            ("phone", "555-0100-12"),
            ("tags", "friend|music"),
            ("favorite", "on"),
        ],
    )
    .await;
    let edit = format!("/contacts/{id}/edit");
    let show = format!("/contacts/{id}");

    let form = app.get_html(&client, &edit).await;
    assert!(form.contains("value=\"Carol King\""));
    assert!(form.contains("value=\"friend, music\""));
    assert!(form.contains("name=\"favorite\" type=\"checkbox\" value=\"on\" checked"));

    // Invalid edit: 400 with the message and the typed value, nothing saved.
    let res = app
        .post_form(
            &client,
            &edit,
            &edit,
            &[("name", ""), ("phone", "555-0100-12")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"name-error\"") && html.contains("The name is required."));
    assert!(app.get_html(&client, &show).await.contains("Carol King"));

    // Every field is replaced; the unticked box means no longer a favorite.
    let res = app
        .post_form(
            &client,
            &edit,
            &edit,
            &[
                ("name", "Carol Queen"),
                ("phone", "555-0100-13"),
                ("email", "carol@example.com"),
                ("tags", "band"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), show);
    let html = app.get_html(&client, &show).await;
    assert!(html.contains("Contact saved"));
    assert!(html.contains("Carol Queen") && html.contains("carol@example.com"));
    assert!(html.contains(">band</a>") && !html.contains(">music</a>"));
    assert!(html.contains("aria-pressed=\"false\""));

    // The favorite button flips it and comes back to the contact.
    let res = app
        .post_form(&client, &show, &format!("{show}/favorite"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), show);
    assert!(
        app.get_html(&client, &show)
            .await
            .contains("aria-pressed=\"true\"")
    );
    let list = app.get_html(&client, "/contacts").await;
    assert!(list.contains("1 contact · 1 favorite"));
    let res = app
        .post_form(&client, &show, &format!("{show}/favorite"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        app.get_html(&client, &show)
            .await
            .contains("aria-pressed=\"false\"")
    );
}

#[tokio::test]
async fn deleting_asks_for_confirmation_first() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    let id = add(
        &app,
        &client,
        &[("name", "Dave Grey"), ("phone", "555 0100 77")],
    )
    .await;
    let confirm = format!("/contacts/{id}/delete");

    let res = app.get(&client, &confirm).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("Delete Dave Grey?"));
    assert!(html.contains(&format!("action=\"/contacts/{id}/delete\"")));
    assert!(html.contains("data-confirm="));
    assert_eq!(contact_count(&app).await, 1, "asking deletes nothing");

    let res = app.post_form(&client, &confirm, &confirm, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/contacts");
    let list = app.get_html(&client, "/contacts").await;
    assert!(list.contains("Contact deleted"));
    assert!(list.contains("Your contact book is empty"));
    assert_eq!(
        app.get(&client, &format!("/contacts/{id}")).await.status(),
        404
    );
    assert_eq!(app.get(&client, &confirm).await.status(), 404);
}

#[tokio::test]
async fn the_list_filters_and_sorts_through_its_links() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    // Created in this order, one second apart.
    for (name, phone, tags, favorite) in [
        ("Carol", "555 0100 003", "friend", false),
        ("alice", "555 0100 001", "work, vip", true),
        ("Dave", "555 0100 004", "", true),
        ("Bob", "555 0100 002", "work", false),
    ] {
        let mut fields = vec![("name", name), ("phone", phone), ("tags", tags)];
        if favorite {
            fields.push(("favorite", "on"));
        }
        add(&app, &client, &fields).await;
        app.clock.advance(1);
    }
    let all = ["alice", "Bob", "Carol", "Dave"];

    let html = app.get_html(&client, "/contacts").await;
    assert_eq!(names(&html), all, "by name, case-insensitively");
    assert!(html.contains("4 contacts · 2 favorites"));
    assert!(html.contains("Page 1 of 1"));

    // The search form is a GET form on /contacts.
    assert!(html.contains("method=\"get\" action=\"/contacts\""));
    let found = app.get_html(&client, "/contacts?q=CAR").await;
    assert_eq!(names(&found), ["Carol"]);
    assert!(found.contains("1 match</strong>"));
    assert_eq!(
        list_names(&app, &client, "/contacts?q=0100+002").await,
        ["Bob"]
    );

    // Tag chips, and the link that clears the tag.
    let work = href_of(&html, "work");
    assert_eq!(work, "/contacts?tag=work");
    let tagged = app.get_html(&client, &work).await;
    assert_eq!(names(&tagged), ["alice", "Bob"]);
    assert!(tagged.contains("2 match"));
    assert_eq!(
        list_names(&app, &client, &href_of(&tagged, "× Any tag")).await,
        all
    );

    // Favorites, combined with the tag.
    let favorites = href_of(&html, "<span aria-hidden=\"true\">★</span> Favorites only");
    assert_eq!(
        list_names(&app, &client, &favorites).await,
        ["alice", "Dave"]
    );
    let both = href_of(
        &tagged,
        "<span aria-hidden=\"true\">★</span> Favorites only",
    );
    assert_eq!(both, "/contacts?tag=work&favorites=true");
    let both_html = app.get_html(&client, &both).await;
    assert_eq!(names(&both_html), ["alice"]);
    assert_eq!(
        list_names(&app, &client, &href_of(&both_html, "All contacts")).await,
        ["alice", "Bob"],
        "back to the whole tag"
    );

    // Sorting: the Name header flips the order, Added sorts by creation.
    let name_desc = href_of(&html, "Name <span aria-hidden=\"true\">▲</span>");
    assert_eq!(name_desc, "/contacts?order=desc");
    let desc_html = app.get_html(&client, &name_desc).await;
    assert_eq!(names(&desc_html), ["Dave", "Carol", "Bob", "alice"]);
    let added = href_of(&html, "Added");
    assert_eq!(added, "/contacts?sort=created");
    let added_html = app.get_html(&client, &added).await;
    assert_eq!(names(&added_html), ["Carol", "alice", "Dave", "Bob"]);
    let newest = href_of(&added_html, "Added <span aria-hidden=\"true\">▲</span>");
    assert_eq!(newest, "/contacts?sort=created&order=desc");
    assert_eq!(
        list_names(&app, &client, &newest).await,
        ["Bob", "Dave", "alice", "Carol"]
    );
    // The same through the form's fields, with a search kept.
    assert_eq!(
        list_names(&app, &client, "/contacts?q=a&sort=created&order=desc").await,
        ["Dave", "alice", "Carol"]
    );
}

#[tokio::test]
async fn the_list_pages_fifty_at_a_time_keeping_its_filters() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    for n in 1..=55 {
        add_direct(
            &app,
            "ann",
            &format!("Person {n:02}"),
            &format!("555 0200 {n:03}"),
            &["bulk"],
        )
        .await;
    }
    add_direct(&app, "ann", "Outsider", "555 0300 001", &[]).await;

    let first = app.get_html(&client, "/contacts?tag=bulk").await;
    let on_first = names(&first);
    assert_eq!(on_first.len(), 50);
    assert_eq!(on_first[0], "Person 01");
    assert_eq!(on_first[49], "Person 50");
    assert!(first.contains("Page 1 of 2"));
    assert!(first.contains("56 contacts") && first.contains("55 match"));
    assert!(href_with_rel(&first, "prev").is_none());

    let next = href_with_rel(&first, "next").expect("next link");
    assert_eq!(next, "/contacts?tag=bulk&page=2");
    let second = app.get_html(&client, &next).await;
    assert_eq!(
        names(&second),
        [
            "Person 51",
            "Person 52",
            "Person 53",
            "Person 54",
            "Person 55"
        ]
    );
    assert!(second.contains("Page 2 of 2"));
    assert!(href_with_rel(&second, "next").is_none());
    assert_eq!(
        href_with_rel(&second, "prev").unwrap(),
        "/contacts?tag=bulk"
    );

    // Past the end: a page that says so, with a way back.
    let past = app.get_html(&client, "/contacts?tag=bulk&page=9").await;
    assert!(names(&past).is_empty());
    assert!(past.contains("past the end"));
}

#[tokio::test]
async fn bad_list_parameters_get_a_400_page() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    for (query, says) in [
        ("sort=bogus", "sort is name or created"),
        ("order=sideways", "order is asc or desc"),
        ("page=abc", "page must be a whole number"),
        ("page=0", "page must be at least 1"),
        ("favorites=maybe", "favorites is true or false"),
        ("q=a&q=b", "not valid"),
    ] {
        let res = app.get(&client, &format!("/contacts?{query}")).await;
        assert_eq!(res.status(), 400, "{query}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = res.text().await.unwrap();
        assert!(html.contains(says), "{query}: {html}");
        assert!(html.contains("Back to your contacts"), "signed-in 400 page");
    }
}

/// The import form's CSRF token: in a hidden field ahead of the file, never in its action.
async fn import_token(app: &TestApp, client: &Client) -> String {
    let html = app.get_html(client, "/contacts/import").await;
    assert!(html.contains("enctype=\"multipart/form-data\""));
    // CSV files, and vCard files since issue 15.
    assert!(
        html.contains(
            "name=\"file\" type=\"file\" accept=\".csv,text/csv,.vcf,.vcard,text/vcard\""
        )
    );
    assert!(html.contains("<form method=\"post\" action=\"/contacts/import\" "));
    assert!(!html.contains("csrf_token="), "no token in a URL");
    let token = csrf_in(&html);
    let (field, file) = (
        html.find("name=\"csrf_token\"").unwrap(),
        html.find("name=\"file\"").unwrap(),
    );
    assert!(field < file, "the token is sent before the file");
    token
}

/// The form as a browser sends it: the token part, then the file.
fn csv_form(token: &str, csv: &str) -> Form {
    Form::new().text("csrf_token", token.to_string()).part(
        "file",
        Part::bytes(csv.as_bytes().to_vec())
            .file_name("contacts.csv")
            .mime_str("text/csv")
            .unwrap(),
    )
}

fn file_only(csv: &str) -> Form {
    Form::new().part(
        "file",
        Part::bytes(csv.as_bytes().to_vec())
            .file_name("contacts.csv")
            .mime_str("text/csv")
            .unwrap(),
    )
}

#[tokio::test]
async fn importing_a_csv_adds_its_rows_or_reports_every_bad_line() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    let token = import_token(&app, &client).await;

    let good = "name,phone,email,tags,favorite,nickname\n\
                Alice Smith,+44 7700 000001,alice@example.com,work|vip,true,Al\n\
                Bob Jones,+1 555 000 0000,,friend,false,\n\
                alice smith,+44 7700 000001,,,,\n";
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(csv_form(&token, good))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/contacts");
    let list = app.get_html(&client, "/contacts").await;
    assert!(list.contains("2 added, 1 skipped; ignored columns: nickname"));
    assert_eq!(names(&list), ["Alice Smith", "Bob Jones"]);

    // One bad row refuses the whole file and every bad line is listed.
    let bad = "name,phone\n\
               Carol King,555 0100 123\n\
               Dave,12\n\
               ,555 0100 999\n";
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(csv_form(&token, bad))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Nothing was imported"));
    assert!(html.contains("<strong>Line 3:</strong>") && html.contains("<strong>Line 4:</strong>"));
    assert!(!html.contains("<strong>Line 2:</strong>"));
    assert!(html.contains("no contact from this file was stored"));
    assert_eq!(contact_count(&app).await, 2, "Carol was not stored");

    // A file without the required columns, an empty file, no file at all.
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(csv_form(&token, "first,last\nA,B\n"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("name and phone"));
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(csv_form(&token, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("Choose a CSV file"));
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(
            Form::new()
                .text("csrf_token", token.clone())
                .text("other", "x"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Choose a CSV file") && html.contains("id=\"file-error\""));

    // Without the token, with a wrong one, with the token after the file, or in the query
    // string only: 403, nothing stored.
    let eve = "name,phone\nEve,555 0100 555\n";
    let after_file = file_only(eve).text("csrf_token", token.clone());
    for (form, url) in [
        (file_only(eve), "/contacts/import".to_string()),
        (csv_form("forged", eve), "/contacts/import".to_string()),
        (after_file, "/contacts/import".to_string()),
        (
            file_only(eve),
            format!("/contacts/import?csrf_token={token}"),
        ),
    ] {
        let res = client
            .post(app.url(&url))
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{url}");
        assert!(res.text().await.unwrap().contains("Form expired"));
    }
    assert_eq!(contact_count(&app).await, 2);
    // Another session's token does not do either.
    let (other, _) = signed_in(&app, "olga").await;
    let foreign = import_token(&app, &other).await;
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(csv_form(&foreign, eve))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(contact_count(&app).await, 2);
}

#[tokio::test]
async fn an_upload_over_ten_megabytes_gets_the_413_page() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    let token = import_token(&app, &client).await;
    let mut big = String::from("name,phone\n");
    while big.len() <= 10 * 1024 * 1024 + 128 * 1024 {
        big.push_str("Somebody Somewhere,555 0100 123\n");
    }
    let res = client
        .post(app.url("/contacts/import"))
        .multipart(csv_form(&token, &big))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert!(res.text().await.unwrap().contains("Too large"));
    assert_eq!(contact_count(&app).await, 0);
}

#[tokio::test]
async fn export_downloads_every_row() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    add(
        &app,
        &client,
        &[
            ("name", "Alice Smith"),
            ("phone", "+44 7700 000001"),
            ("tags", "work, vip"),
            ("favorite", "on"),
        ],
    )
    .await;
    add(
        &app,
        &client,
        &[
            ("name", "Bob Jones"),
            ("phone", "555 0100 222"),
            ("company", "=cmd()"),
        ],
    )
    .await;

    let list = app.get_html(&client, "/contacts").await;
    assert!(list.contains("href=\"/contacts/export.csv\""));
    let res = app.get(&client, "/contacts/export.csv").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let body = res.text().await.unwrap();
    let mut lines = body.lines();
    assert_eq!(
        lines.next().unwrap(),
        "name,phone,email,address,company,notes,tags,favorite,created"
    );
    assert!(body.contains("Alice Smith,+44 7700 000001,,,,,work|vip,true,"));
    assert!(body.contains("Bob Jones,555 0100 222,,,'=cmd(),,,false,"));
    assert_eq!(body.lines().count(), 3);
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let (client, _) = signed_in(&app, "ann").await;
    let id = add(
        &app,
        &client,
        &[("name", "Alice Smith"), ("phone", "555 0100 111")],
    )
    .await;
    let show = format!("/contacts/{id}");

    for (path, fields) in [
        (
            "/contacts/new".to_string(),
            vec![("name", "Mallory"), ("phone", "555 0100 666")],
        ),
        (
            format!("{show}/edit"),
            vec![("name", "Changed"), ("phone", "555 0100 111")],
        ),
        (format!("{show}/favorite"), vec![]),
        (format!("{show}/delete"), vec![]),
    ] {
        let res = client
            .post(app.url(&path))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    assert_eq!(contact_count(&app).await, 1);
    let html = app.get_html(&client, &show).await;
    assert!(html.contains("Alice Smith") && html.contains("aria-pressed=\"false\""));
}

#[tokio::test]
async fn another_users_contact_is_not_found_everywhere() {
    let app = spawn_app().await;
    let (alice, _) = signed_in(&app, "alice").await;
    let id = add(
        &app,
        &alice,
        &[("name", "Secret Friend"), ("phone", "555 0100 321")],
    )
    .await;
    let (bob, _) = signed_in(&app, "bob").await;
    let show = format!("/contacts/{id}");

    for path in [
        show.clone(),
        format!("{show}/edit"),
        format!("{show}/delete"),
    ] {
        let res = app.get(&bob, &path).await;
        assert_eq!(res.status(), 404, "GET {path}");
        assert!(!res.text().await.unwrap().contains("Secret Friend"));
    }
    let token = csrf_in(&app.get_html(&bob, "/contacts/new").await);
    for (path, fields) in [
        (
            format!("{show}/edit"),
            vec![("name", "Taken"), ("phone", "555 0100 321")],
        ),
        (format!("{show}/favorite"), vec![]),
        (format!("{show}/delete"), vec![]),
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", &token));
        let res = bob.post(app.url(&path)).form(&fields).send().await.unwrap();
        assert_eq!(res.status(), 404, "POST {path}");
    }
    // Invalid input for someone else's contact is still 404, not a form that shows it.
    let res = bob
        .post(app.url(&format!("{show}/edit")))
        .form(&[("name", ""), ("phone", ""), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    assert!(
        !app.get_html(&bob, "/contacts")
            .await
            .contains("Secret Friend")
    );
    let html = app.get_html(&alice, &show).await;
    assert!(html.contains("Secret Friend") && html.contains("aria-pressed=\"false\""));
    assert_eq!(contact_count(&app).await, 1);
}

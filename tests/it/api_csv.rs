use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, holds, spawn_app};

const SEED: &str = include_str!("../../../shared/fixtures/contacts-example.csv");

/// Uploads `csv` to the API import as `token`.
pub async fn import(
    app: &TestApp,
    token: &str,
    csv: impl Into<reqwest::Body>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/api/contacts/import/csv"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
}

async fn export(app: &TestApp, token: &str) -> String {
    let res = app
        .api(Method::GET, "/api/contacts/export/csv", token, None)
        .await;
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
    res.text().await.unwrap()
}

async fn token_for(app: &TestApp, name: &str) -> String {
    let user = app.create_user(name, "user").await;
    app.api_token(&user).await
}

#[tokio::test]
async fn the_seed_example_imports_as_is_and_twice_adds_nothing() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let res = import(&app, &token, SEED).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"added": 2, "skipped": 0, "errors": [], "ignored_columns": []})
    );
    let res = import(&app, &token, SEED).await;
    assert_eq!(res.json::<Value>().await.unwrap()["skipped"], 2);

    let list: Value = app
        .api(Method::GET, "/api/contacts", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let alice = &list["contacts"][0];
    assert_eq!(alice["name"], "Alice Smith");
    assert_eq!(alice["address"], "London, UK");
    assert_eq!(alice["tags"], json!(["work", "vip"]));
    assert_eq!(alice["favorite"], true);
    assert_eq!(list["contacts"][1]["favorite"], false);
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"IMPORT_CSV".to_string()));
}

#[tokio::test]
async fn the_old_apps_export_keeps_created_and_reads_true_false() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let csv = "favorite,created,name,phone,tags,legacy_rank\n\
               True,2025-06-03T09:00:00+00:00,Lena Fischer,+49 30 901820,work|de,1\n\
               False,2025-06-05T09:00:00.250000,Tom O'Brien,+353 1 555 0199,,2\n\
               yes,not a date,Dup Row,+1 555 010 0000,,3\n\
               1,,dup row,15550100000,,4\n";
    let res = import(&app, &token, csv).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["added"], 3);
    assert_eq!(
        body["skipped"], 1,
        "a row duplicating an earlier row is skipped"
    );
    assert_eq!(body["ignored_columns"], json!(["legacy_rank"]));
    let list: Value = app
        .api(Method::GET, "/api/contacts?q=lena", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["contacts"][0]["created"], "2025-06-03T09:00:00Z");
    assert_eq!(list["contacts"][0]["favorite"], true);
    let tom: Value = app
        .api(Method::GET, "/api/contacts?q=tom", &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tom["contacts"][0]["created"], "2025-06-05T09:00:00Z");
    assert_eq!(tom["contacts"][0]["favorite"], false);
}

#[tokio::test]
async fn a_file_with_bad_rows_stores_nothing_and_lists_every_bad_line() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let csv = "name,phone,email,favorite\nGood One,5550100,,true\n,5550101,,false\nBad Phone,12,,false\nBad Mail,5550102,nope,false\nBad Bool,5550103,,perhaps\n";
    let res = import(&app, &token, csv).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].is_string());
    let lines: Vec<i64> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert!(
        body["errors"][1]["error"]
            .as_str()
            .unwrap()
            .contains("phone")
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);

    let res = import(&app, &token, "email,company\nx@example.com,Acme\n").await;
    assert_eq!(res.status(), 400, "name and phone columns are required");
    let res = import(&app, &token, &b"name,phone\n\xff\xfe,5550100\n"[..]).await;
    assert_eq!(res.status(), 400, "not UTF-8");
}

#[tokio::test]
async fn uploads_over_ten_megabytes_are_413() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let mut csv = String::from("name,phone,notes\n");
    let line = format!("Person,5550100,{}\n", "x".repeat(1000));
    while csv.len() <= 10 * 1024 * 1024 {
        csv.push_str(&line);
    }
    let res = import(&app, &token, csv).await;
    assert_eq!(res.status(), 413);
    assert!(res.json::<Value>().await.unwrap()["error"].is_string());
}

#[tokio::test]
async fn multipart_upload_with_a_file_part() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    let part = reqwest::multipart::Part::bytes(SEED.as_bytes().to_vec())
        .file_name("contacts.csv")
        .mime_str("text/csv")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let res = reqwest::Client::new()
        .post(app.url("/api/contacts/import/csv"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["added"], 2);
}

#[tokio::test]
async fn export_guards_formulas_and_round_trips() {
    let app = spawn_app().await;
    let ann = token_for(&app, "ann").await;
    for body in [
        json!({"name": "=HYPERLINK(\"http://evil\")", "phone": "+44 7700 000001", "notes": "@SUM(1)", "company": "-2+3", "tags": ["x"]}),
        json!({"name": "Plain, \"Quoted\" Name", "phone": "555-0100-99", "notes": "line one\nline two", "favorite": true}),
    ] {
        assert_eq!(
            app.api(Method::POST, "/api/contacts", &ann, Some(body))
                .await
                .status(),
            201
        );
    }
    let csv = export(&app, &ann).await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "name,phone,email,address,company,notes,tags,favorite,created"
    );
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""),
        "{csv}"
    );
    assert!(
        csv.contains(",+44 7700 000001,"),
        "phone numbers stay as they are: {csv}"
    );
    assert!(csv.contains("'@SUM(1)") && csv.contains("'-2+3"), "{csv}");
    assert!(csv.contains("\"Plain, \"\"Quoted\"\" Name\""));
    assert!(
        app.audit_actions()
            .await
            .contains(&"EXPORT_CSV".to_string())
    );

    // Export then import into another book gives the same contacts.
    let bob = token_for(&app, "bob").await;
    let res = import(&app, &bob, csv.clone()).await;
    assert_eq!(res.json::<Value>().await.unwrap()["added"], 2);
    let strip = |v: Value| -> Vec<Value> {
        let mut out: Vec<Value> = v["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.as_object_mut().unwrap().remove("id");
                c.as_object_mut().unwrap().remove("updated");
                c
            })
            .collect();
        out.sort_by_key(|c| c["name"].as_str().unwrap().to_string());
        out
    };
    let a: Value = app
        .api(Method::GET, "/api/contacts", &ann, None)
        .await
        .json()
        .await
        .unwrap();
    let b: Value = app
        .api(Method::GET, "/api/contacts", &bob, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(strip(a), strip(b));
}

#[tokio::test]
async fn an_empty_book_exports_its_header() {
    let app = spawn_app().await;
    let token = token_for(&app, "ann").await;
    assert_eq!(
        export(&app, &token).await,
        "name,phone,email,address,company,notes,tags,favorite,created\n"
    );
}

#[tokio::test]
async fn no_contact_field_is_stored_in_plaintext() {
    let app = spawn_app().await;
    let token = token_for(&app, "scanned_owner").await;
    let secrets = [
        "Quentin Tarantinoish",
        "+44 7911 123456",
        "quentin.t@uniquedomain.example",
        "42 Secret Lane",
        "Hidden Pictures Ltd",
        "allergic to peanuts",
        "confidential-tag",
    ];
    let body = json!({"name": secrets[0], "phone": secrets[1], "email": secrets[2], "address": secrets[3], "company": secrets[4], "notes": secrets[5], "tags": [secrets[6]]});
    assert_eq!(
        app.api(Method::POST, "/api/contacts", &token, Some(body))
            .await
            .status(),
        201
    );
    import(&app, &token, SEED).await;
    let _ = app
        .api(Method::GET, "/api/contacts?q=quentin", &token, None)
        .await;
    let mut all = secrets.to_vec();
    all.extend([
        "Alice Smith",
        "alice@example.com",
        "ACME Corp",
        "VIP client",
        "7911123456",
    ]);
    let files = app.at_rest().await;
    // The scan reads what is stored: the user name, kept in clear by design, is found in the
    // database's own files (and on PostgreSQL in its rows too).
    let named: Vec<&str> = files
        .iter()
        .filter(|(_, bytes)| holds(bytes, b"scanned_owner"))
        .map(|(path, _)| path.as_str())
        .collect();
    let on_disk = if app.on_postgres() {
        "/base/"
    } else {
        "contact-vault.db"
    };
    assert!(named.iter().any(|p| p.contains(on_disk)), "{named:?}");
    for (path, bytes) in files {
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for s in &all {
            assert!(!text.contains(&s.to_lowercase()), "{s} found in {path}");
        }
    }
}

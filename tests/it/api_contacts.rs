use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn add(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.api(Method::POST, "/api/contacts", token, Some(body))
        .await
}

async fn add_ok(app: &TestApp, token: &str, body: Value) -> Value {
    let res = add(app, token, body).await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn list(app: &TestApp, token: &str, query: &str) -> Value {
    let res = app
        .api(Method::GET, &format!("/api/contacts{query}"), token, None)
        .await;
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

fn names(list: &Value) -> Vec<String> {
    list["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

async fn user_token(app: &TestApp, name: &str) -> String {
    let user = app.create_user(name, "user").await;
    app.api_token(&user).await
}

#[tokio::test]
async fn create_read_update_delete() {
    let app = spawn_app().await;
    let token = user_token(&app, "ann").await;
    let created = add_ok(
        &app,
        &token,
        json!({"name": "  Alice Smith ", "phone": "+44 7700 000001", "email": "alice@example.com", "address": "London, UK",
               "company": "ACME Corp", "notes": "VIP client\nsecond line", "tags": ["work", "vip"], "favorite": true}),
    )
    .await;
    assert_eq!(created["name"], "Alice Smith");
    assert_eq!(created["phone"], "+44 7700 000001");
    assert_eq!(created["tags"], json!(["work", "vip"]));
    assert_eq!(created["favorite"], true);
    assert!(created["created"].as_str().unwrap().ends_with('Z'));
    let id = created["id"].as_str().unwrap().to_string();

    let fetched: Value = app
        .api(Method::GET, &format!("/api/contacts/{id}"), &token, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched, created);

    // PUT replaces only what it carries.
    let res = app
        .api(
            Method::PUT,
            &format!("/api/contacts/{id}"),
            &token,
            Some(json!({"phone": "+44 7700 000002"})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["phone"], "+44 7700 000002");
    assert_eq!(updated["email"], "alice@example.com");
    assert_eq!(updated["created"], created["created"]);

    let minimal = add_ok(&app, &token, json!({"name": "Bob", "phone": "555-0100-22"})).await;
    for field in ["email", "address", "company", "notes"] {
        assert_eq!(minimal[field], "", "{field}");
    }
    assert_eq!(minimal["tags"], json!([]));
    assert_eq!(minimal["favorite"], false);

    let res = app
        .api(
            Method::POST,
            &format!("/api/contacts/{id}/favorite"),
            &token,
            None,
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["favorite"], false);

    let res = app
        .api(Method::DELETE, &format!("/api/contacts/{id}"), &token, None)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"deleted": id}));
    assert_eq!(
        app.api(Method::GET, &format!("/api/contacts/{id}"), &token, None)
            .await
            .status(),
        404
    );

    let actions = app.audit_actions().await;
    for a in [
        "ADD_CONTACT",
        "EDIT_CONTACT",
        "FAVORITE_CONTACT",
        "DELETE_CONTACT",
    ] {
        assert!(actions.contains(&a.to_string()), "{a}");
    }
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit_log")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(
        details
            .iter()
            .all(|d| !d.contains("Alice") && !d.contains("7700")),
        "{details:?}"
    );
}

#[tokio::test]
async fn every_validation_rule_answers_400_with_fields() {
    let app = spawn_app().await;
    let token = user_token(&app, "ann").await;
    let cases = [
        (json!({"phone": "5550100"}), "name"),
        (json!({"name": "", "phone": "5550100"}), "name"),
        (json!({"name": "x".repeat(101), "phone": "5550100"}), "name"),
        (json!({"name": "Ann"}), "phone"),
        (json!({"name": "Ann", "phone": "123456"}), "phone"),
        (json!({"name": "Ann", "phone": "1234567890123456"}), "phone"),
        (json!({"name": "Ann", "phone": "555 CALL NOW"}), "phone"),
        (
            json!({"name": "Ann", "phone": "5550100", "email": "nope"}),
            "email",
        ),
        (
            json!({"name": "Ann", "phone": "5550100", "email": format!("{}@example.com", "a".repeat(250))}),
            "email",
        ),
        (
            json!({"name": "Ann", "phone": "5550100", "address": "a".repeat(201)}),
            "address",
        ),
        (
            json!({"name": "Ann", "phone": "5550100", "company": "c".repeat(201)}),
            "company",
        ),
        (
            json!({"name": "Ann", "phone": "5550100", "notes": "n".repeat(2001)}),
            "notes",
        ),
        (
            json!({"name": "Ann", "phone": "5550100", "tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            "tags",
        ),
        (
            json!({"name": "Ann", "phone": "5550100", "tags": ["t".repeat(31)]}),
            "tags",
        ),
    ];
    for (body, field) in cases {
        let res = add(&app, &token, body.clone()).await;
        assert_eq!(res.status(), 400, "{body}");
        let json: Value = res.json().await.unwrap();
        assert!(json["fields"][field].is_string(), "{field}: {json}");
    }
    let ok = add(
        &app,
        &token,
        json!({"name": "é".repeat(100), "phone": "+1 (555) 010.0100", "tags": ["t".repeat(30)]}),
    )
    .await;
    assert_eq!(ok.status(), 201, "limits count characters");
    assert_eq!(
        list(&app, &token, "").await["total"],
        1,
        "nothing else was stored"
    );

    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({"name": 5, "phone": []})),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn duplicates_are_per_user_and_compare_trimmed_names_and_phone_digits() {
    let app = spawn_app().await;
    let ann = user_token(&app, "ann").await;
    let bob = user_token(&app, "bob").await;
    add_ok(
        &app,
        &ann,
        json!({"name": "Alice Smith", "phone": "+44 7700 000001"}),
    )
    .await;
    let res = add(
        &app,
        &ann,
        json!({"name": " alice   SMITH ", "phone": "+44-7700-000-001"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"error": "duplicate contact"})
    );
    add_ok(
        &app,
        &bob,
        json!({"name": "Alice Smith", "phone": "+44 7700 000001"}),
    )
    .await;

    let other = add_ok(
        &app,
        &ann,
        json!({"name": "Alice Smith", "phone": "+44 7700 000009"}),
    )
    .await;
    let id = other["id"].as_str().unwrap();
    let res = app
        .api(
            Method::PUT,
            &format!("/api/contacts/{id}"),
            &ann,
            Some(json!({"phone": "447700000001"})),
        )
        .await;
    assert_eq!(res.status(), 409, "an edit into a duplicate is refused too");
}

#[tokio::test]
async fn another_users_contact_is_404_on_every_route() {
    let app = spawn_app().await;
    let ann = user_token(&app, "ann").await;
    let bob = user_token(&app, "bob").await;
    let c = add_ok(
        &app,
        &ann,
        json!({"name": "Secret Person", "phone": "5550100"}),
    )
    .await;
    let id = c["id"].as_str().unwrap();
    for (method, path, body) in [
        (Method::GET, format!("/api/contacts/{id}"), None),
        (
            Method::PUT,
            format!("/api/contacts/{id}"),
            Some(json!({"name": "Hijacked"})),
        ),
        (Method::DELETE, format!("/api/contacts/{id}"), None),
        (Method::POST, format!("/api/contacts/{id}/favorite"), None),
        (
            Method::GET,
            "/api/contacts/does-not-exist".to_string(),
            None,
        ),
    ] {
        let res = app.api(method.clone(), &path, &bob, body).await;
        assert_eq!(res.status(), 404, "{method} {path}");
        assert!(res.json::<Value>().await.unwrap()["error"].is_string());
    }
    assert_eq!(list(&app, &bob, "").await["total"], 0);
    let still: Value = app
        .api(Method::GET, &format!("/api/contacts/{id}"), &ann, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(still["name"], "Secret Person");
    assert_eq!(still["favorite"], false);
}

#[tokio::test]
async fn search_filters_sorting_and_paging() {
    let app = spawn_app().await;
    let token = user_token(&app, "ann").await;
    let people = [
        (
            "Zoë Adams",
            "+44 7700 900001",
            "zoe@example.com",
            "Acme",
            vec!["work"],
            true,
        ),
        ("zoe baker", "555-0100-77", "", "", vec!["friend"], false),
        (
            "Émile Zola",
            "+33 1 23 45 67 89",
            "emile@example.fr",
            "Les Éditions",
            vec!["work", "fr"],
            false,
        ),
        (
            "Ann Lee",
            "030 1234567",
            "ann@corp.example",
            "Corp",
            vec![],
            true,
        ),
        (
            "Björk Guðmundsdóttir",
            "+354 555 0199",
            "",
            "",
            vec!["music"],
            false,
        ),
    ];
    for (i, (name, phone, email, company, tags, fav)) in people.iter().enumerate() {
        app.clock.advance(10);
        let _ = i;
        add_ok(&app, &token, json!({"name": name, "phone": phone, "email": email, "company": company, "tags": tags, "favorite": fav})).await;
    }

    let all = list(&app, &token, "").await;
    assert_eq!(
        names(&all),
        vec![
            "Ann Lee",
            "Björk Guðmundsdóttir",
            "Émile Zola",
            "Zoë Adams",
            "zoe baker"
        ]
    );
    assert_eq!(all["total"], 5);
    assert_eq!(all["page"], 1);
    assert_eq!(all["per_page"], 50);
    assert_eq!(all["stats"], json!({"total": 5, "favorites": 2}));
    assert_eq!(all["tags"], json!(["fr", "friend", "music", "work"]));

    assert_eq!(
        names(&list(&app, &token, "?q=ZOE").await).len(),
        2,
        "case and accent folding"
    );
    assert_eq!(
        names(&list(&app, &token, "?q=%C3%A9mile").await),
        vec!["Émile Zola"]
    );
    assert_eq!(
        names(&list(&app, &token, "?q=gu%C3%B0m").await),
        vec!["Björk Guðmundsdóttir"],
        "non-ASCII"
    );
    assert_eq!(
        names(&list(&app, &token, "?q=corp.example").await),
        vec!["Ann Lee"],
        "email"
    );
    assert_eq!(
        names(&list(&app, &token, "?q=editions").await),
        vec!["Émile Zola"],
        "company"
    );
    assert_eq!(
        names(&list(&app, &token, "?q=7700900").await),
        vec!["Zoë Adams"],
        "phone digits"
    );
    assert_eq!(
        names(&list(&app, &token, "?q=555%200100").await),
        vec!["zoe baker"],
        "phone with spaces"
    );
    assert_eq!(
        names(&list(&app, &token, "?q=zo%C3%AB%20acme").await),
        vec!["Zoë Adams"],
        "several terms"
    );
    assert_eq!(
        names(&list(&app, &token, "?tag=work").await),
        vec!["Émile Zola", "Zoë Adams"]
    );
    assert_eq!(
        names(&list(&app, &token, "?favorites=true").await),
        vec!["Ann Lee", "Zoë Adams"]
    );
    assert_eq!(
        names(&list(&app, &token, "?sort=created").await)[0],
        "Zoë Adams"
    );
    assert_eq!(
        names(&list(&app, &token, "?sort=created&order=desc").await)[0],
        "Björk Guðmundsdóttir"
    );
    assert_eq!(
        names(&list(&app, &token, "?order=desc").await)[0],
        "zoe baker"
    );

    let page2 = list(&app, &token, "?per_page=2&page=2").await;
    assert_eq!(names(&page2), vec!["Émile Zola", "Zoë Adams"]);
    assert_eq!(page2["total"], 5);
    let past = list(&app, &token, "?per_page=2&page=9").await;
    assert_eq!(past["contacts"], json!([]));
    assert_eq!(past["total"], 5);
    assert_eq!(list(&app, &token, "?per_page=201").await["per_page"], 200);
    for bad in [
        "?per_page=0",
        "?page=0",
        "?page=two",
        "?per_page=x",
        "?sort=phone",
        "?order=up",
        "?favorites=maybe",
    ] {
        let res = app
            .api(Method::GET, &format!("/api/contacts{bad}"), &token, None)
            .await;
        assert_eq!(res.status(), 400, "{bad}");
        assert!(res.json::<Value>().await.unwrap()["error"].is_string());
    }
}

#[tokio::test]
async fn writes_show_up_in_the_next_list_at_once() {
    let app = spawn_app().await;
    let token = user_token(&app, "ann").await;
    assert_eq!(list(&app, &token, "").await["total"], 0);
    let c = add_ok(&app, &token, json!({"name": "Carla", "phone": "5550100"})).await;
    let id = c["id"].as_str().unwrap();
    assert_eq!(names(&list(&app, &token, "?q=carla").await), vec!["Carla"]);
    app.api(
        Method::PUT,
        &format!("/api/contacts/{id}"),
        &token,
        Some(json!({"name": "Daria"})),
    )
    .await;
    assert_eq!(names(&list(&app, &token, "?q=carla").await).len(), 0);
    assert_eq!(names(&list(&app, &token, "").await), vec!["Daria"]);

    // A write behind the cache's back (another server process) is seen through the version.
    sqlx::query("UPDATE users SET data_version = data_version + 1 WHERE username = 'ann'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM contacts")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(list(&app, &token, "").await["total"], 0);
}

#[tokio::test]
async fn deleting_a_user_removes_their_contacts() {
    let app = spawn_app().await;
    let admin = app.create_user("root", "admin").await;
    let admin_token = app.api_token(&admin).await;
    let token = user_token(&app, "ann").await;
    add_ok(&app, &token, json!({"name": "Carla", "phone": "5550100"})).await;
    let res = app
        .api(Method::DELETE, "/api/admin/users/ann", &admin_token, None)
        .await;
    assert_eq!(res.status(), 200);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contacts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

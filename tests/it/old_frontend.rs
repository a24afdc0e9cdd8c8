//! What the old app's frontend reads: `log` on the audit page, and field messages in `error`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_audit_page_carries_the_list_as_log_too() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let token = app.api_token(&bob).await;
    let body: Value = app
        .api(Method::GET, "/api/audit?per_page=2", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let events = body["events"].as_array().expect("events");
    assert!(!events.is_empty());
    assert_eq!(body["log"], body["events"], "log is the same list");
    for field in ["total", "page", "per_page"] {
        assert!(body[field].is_i64(), "{field}");
    }

    let doc: Value = reqwest::get(app.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schema = &doc["components"]["schemas"]["AuditPage"];
    let required = schema["required"].as_array().expect("required");
    assert!(required.contains(&json!("log")), "{schema}");
    let items = |name: &str| schema["properties"][name]["items"].clone();
    assert!(items("log").is_object());
    assert_eq!(items("log"), items("events"), "documented like events");
}

#[tokio::test]
async fn a_validation_error_says_each_field_message_in_error() {
    let app = spawn_app().await;
    let bob = app.create_user("bob", "user").await;
    let token = app.api_token(&bob).await;
    let res = app
        .api(
            Method::POST,
            "/api/contacts",
            &token,
            Some(json!({ "name": "", "phone": "call me" })),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let fields = body["fields"].as_object().expect("fields");
    let name = fields["name"].as_str().unwrap();
    let phone = fields["phone"].as_str().unwrap();
    assert_eq!(
        body["error"],
        format!("name: {name} · phone: {phone}"),
        "every field's message on one line"
    );

    let res = app
        .api(Method::GET, "/api/audit?page=0", &token, None)
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let message = body["fields"]["page"].as_str().expect("page message");
    assert_eq!(body["error"], format!("page: {message}"));
}

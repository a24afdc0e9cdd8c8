//! `GET /api/openapi.json`: an OpenAPI 3 document naming every endpoint of API.md, with the
//! bearer scheme on all but the login.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::spawn_app;

/// Every endpoint of API.md, as `METHOD /path` (kept here too, so the test holds where
/// `shared/` is not checked out beside the repository).
const ENDPOINTS: &[&str] = &[
    "POST /api/login",
    "POST /api/logout",
    "POST /api/change-password",
    "GET /api/contacts",
    "GET /api/contacts/{id}",
    "POST /api/contacts",
    "PUT /api/contacts/{id}",
    "DELETE /api/contacts/{id}",
    "POST /api/contacts/{id}/favorite",
    "GET /api/contacts/export/csv",
    "POST /api/contacts/import/csv",
    "GET /api/contacts/export/vcard",
    "POST /api/contacts/import/vcard",
    "GET /api/contacts/{id}/vcard",
    "GET /api/app-passwords",
    "POST /api/app-passwords",
    "DELETE /api/app-passwords/{id}",
    "GET /api/audit",
    "GET /api/admin/users",
    "POST /api/admin/users",
    "DELETE /api/admin/users/{username}",
];

/// The `| METHOD | /api/... |` rows of `shared/API.md`, when it is there.
fn endpoints_in_api_md() -> Option<BTreeSet<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/API.md");
    let text = std::fs::read_to_string(path).ok()?;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 {
            continue;
        }
        let (method, path) = (cells[1], cells[2]);
        if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method)
            || !path.starts_with("/api/")
        {
            continue;
        }
        let path = path.split('?').next().unwrap_or(path);
        found.insert(format!("{method} {path}"));
    }
    Some(found)
}

async fn document() -> Value {
    let app = spawn_app().await;
    let res = reqwest::get(app.url("/api/openapi.json"))
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    res.json().await.expect("json")
}

fn operation<'a>(doc: &'a Value, endpoint: &str) -> &'a Value {
    let (method, path) = endpoint.split_once(' ').unwrap();
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(
        op.is_object(),
        "{endpoint} is missing from the OpenAPI document"
    );
    op
}

/// Endpoints of API.md not built yet (none: the list stays for the next section that lands
/// before its code).
const NOT_YET_BUILT: [&str; 0] = [];

#[tokio::test]
async fn every_endpoint_of_api_md_is_described() {
    let doc = document().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut expected: BTreeSet<String> = ENDPOINTS.iter().map(|e| e.to_string()).collect();
    if let Some(from_md) = endpoints_in_api_md() {
        assert!(
            from_md.len() >= ENDPOINTS.len(),
            "API.md was read: {from_md:?}"
        );
        expected.extend(
            from_md
                .into_iter()
                .filter(|e| !NOT_YET_BUILT.iter().any(|p| e.contains(p))),
        );
    }
    for endpoint in &expected {
        operation(&doc, endpoint);
    }
}

#[tokio::test]
async fn security_errors_and_content_types_are_described() {
    let doc = document().await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");

    let mut ids = BTreeSet::new();
    for endpoint in ENDPOINTS {
        let op = operation(&doc, endpoint);
        assert!(
            ids.insert(op["operationId"].as_str().unwrap().to_string()),
            "operationId of {endpoint} is unique"
        );
        let responses = op["responses"].as_object().unwrap();
        if *endpoint == "POST /api/login" {
            assert!(op.get("security").is_none(), "the login needs no token");
            assert!(
                responses.contains_key("429"),
                "the login documents its rate limit"
            );
            let retry = &responses["429"]["headers"]["Retry-After"];
            assert!(retry.is_object(), "429 names Retry-After");
        } else {
            assert_eq!(
                op["security"],
                serde_json::json!([{ "bearer": [] }]),
                "{endpoint}"
            );
            assert!(responses.contains_key("401"), "{endpoint} documents 401");
        }
        for (status, response) in responses {
            if status.starts_with('4') {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                assert!(
                    schema.is_string(),
                    "{endpoint} {status} has a JSON error body"
                );
            }
        }
        if endpoint.contains("{id}") {
            assert!(responses.contains_key("404"), "{endpoint} documents 404");
        }
        if endpoint.starts_with("POST /api/contacts") && !endpoint.contains('{') {
            assert!(responses.contains_key("413"), "{endpoint} documents 413");
        }
        if endpoint.contains("/api/admin/") {
            assert!(responses.contains_key("403"), "{endpoint} documents 403");
        }
    }
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["error"]));
    assert!(error["properties"]["fields"].is_object());

    let export = operation(&doc, "GET /api/contacts/export/csv");
    assert!(export["responses"]["200"]["content"]["text/csv"].is_object());
    let import = operation(&doc, "POST /api/contacts/import/csv");
    let content = &import["requestBody"]["content"];
    assert!(content["text/csv"].is_object());
    assert!(content["multipart/form-data"].is_object());
    for endpoint in ["POST /api/contacts", "PUT /api/contacts/{id}"] {
        assert!(operation(&doc, endpoint)["responses"]["409"].is_object());
    }
}

#[tokio::test]
async fn the_document_describes_what_the_api_answers() {
    // A real contact, checked against the ContactOut schema's required fields.
    let app = spawn_app().await;
    let doc = {
        let res = reqwest::get(app.url("/api/openapi.json")).await.unwrap();
        res.json::<Value>().await.unwrap()
    };
    let user = app.create_user("olive", "user").await;
    let token = app.api_token(&user).await;
    let res = app
        .api(
            reqwest::Method::POST,
            "/api/contacts",
            &token,
            Some(serde_json::json!({ "name": "Ann", "phone": "+44 7700 900123" })),
        )
        .await;
    assert_eq!(res.status(), 201);
    let contact: Value = res.json().await.unwrap();
    let schema = &doc["components"]["schemas"]["ContactOut"];
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let keys: BTreeSet<&str> = contact
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(required, keys, "the schema names exactly the fields sent");
}

//! Regression tests for bugs the property tests (`tests/props.rs`, `book::legacy::props`), the
//! schema fuzzing (`deploy/schemathesis.sh`) and the authorisation matrix (`authz.rs`) found.
//! (The admin resetting their own TOTP is in `authz.rs`.)

use reqwest::Method;
use serde_json::Value;

use crate::api_csv::import;
use crate::helpers::spawn_app;

/// Excel and Python's csv module end lines with `\r\n`: the bad rows were reported one line
/// too early (the first on the header's line), and with a lone `\r` all on line 1.
#[tokio::test]
async fn import_errors_name_the_right_line_with_crlf_and_cr_line_ends() {
    let app = spawn_app().await;
    let user = app.create_user("carla", "user").await;
    let token = app.api_token(&user).await;
    for eol in ["\r\n", "\r", "\n"] {
        let csv = ["name,phone", "Ann,+44 7700 900001", "Bad,12", "", "Worse,"].join(eol);
        let res = import(&app, &token, csv).await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        let lines: Vec<i64> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["line"].as_i64().unwrap())
            .collect();
        assert_eq!(lines, vec![3, 5], "line ends {eol:?}: {body}");
    }
}

/// A `created` cell with a signed year (`-0001-…`) or an offset past year 9999 was kept, and
/// the contact then showed `"created": ""`: such a cell is now ignored like any unreadable one.
#[tokio::test]
async fn an_unshowable_created_time_is_ignored_not_kept() {
    let app = spawn_app().await;
    let user = app.create_user("dora", "user").await;
    let token = app.api_token(&user).await;
    let csv = "name,phone,created\n\
               Early,+44 7700 900001,-0001-01-01T00:00:00\n\
               Late,+44 7700 900002,9999-12-31T23:30:00-01:00\n\
               Fine,+44 7700 900003,2025-06-03T09:00:00Z\n"
        .to_string();
    let res = import(&app, &token, csv).await;
    assert_eq!(res.status(), 200);
    let list: Value = app
        .api(Method::GET, "/api/contacts", &token, None)
        .await
        .json()
        .await
        .unwrap();
    for contact in list["contacts"].as_array().unwrap() {
        let created = contact["created"].as_str().unwrap();
        assert!(
            created.len() == 20 && created.ends_with('Z'),
            "{}: created {created:?}",
            contact["name"]
        );
        if contact["name"] == "Fine" {
            assert_eq!(created, "2025-06-03T09:00:00Z");
        }
    }
}

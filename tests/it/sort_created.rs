//! Sorting by `created` with contacts created in the same second: ties go by creation order.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Names in reverse alphabetical order, so name order would be the opposite of creation order.
const NAMES: [&str; 4] = ["Zed Young", "Yara Xu", "Mia Lund", "Abe Cole"];

async fn names(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let res = app
        .api(Method::GET, &format!("/api/contacts{query}"), token, None)
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// Adds the four contacts one after another; their `created` times and ids.
async fn add_batch(app: &TestApp, token: &str) -> (Vec<String>, Vec<String>) {
    let mut times = Vec::new();
    let mut ids = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let phone = format!("+44 7700 90010{i}");
        let res = app
            .api(
                Method::POST,
                "/api/contacts",
                token,
                Some(json!({ "name": name, "phone": phone })),
            )
            .await;
        assert_eq!(res.status(), 201);
        let c: Value = res.json().await.unwrap();
        times.push(c["created"].as_str().unwrap().to_string());
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    (times, ids)
}

#[tokio::test]
async fn contacts_created_in_the_same_second_sort_in_creation_order() {
    let app = spawn_app().await;
    let user = app.create_user("ann", "user").await;
    let token = app.api_token(&user).await;
    // The clock is the real one: should the batch straddle a second, start it again, so the
    // test always sorts a real tie.
    let mut tied = false;
    for _ in 0..5 {
        let (times, ids) = add_batch(&app, &token).await;
        if times.iter().all(|t| *t == times[0]) {
            tied = true;
            break;
        }
        for id in ids {
            let path = format!("/api/contacts/{id}");
            assert_eq!(
                app.api(Method::DELETE, &path, &token, None).await.status(),
                200
            );
        }
    }
    assert!(tied, "four contacts created within one second");
    let mut newest_first = NAMES.to_vec();
    newest_first.reverse();
    assert_eq!(names(&app, &token, "?sort=created").await, NAMES);
    assert_eq!(
        names(&app, &token, "?sort=created&order=desc").await,
        newest_first
    );

    // An edit (here a rename that changes the name order) keeps the place in creation order,
    // in the cached directory and after a rebuild from the database alike.
    let res = app
        .api(Method::GET, "/api/contacts?sort=created", &token, None)
        .await;
    let body: Value = res.json().await.unwrap();
    let first_id = body["contacts"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .api(
            Method::PUT,
            &format!("/api/contacts/{first_id}"),
            &token,
            Some(json!({ "name": "Aaron Young" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let renamed = ["Aaron Young", "Yara Xu", "Mia Lund", "Abe Cole"];
    assert_eq!(names(&app, &token, "?sort=created").await, renamed);
    app.state.directories.forget(app.user_row("ann").await.id);
    let mut newest_first = renamed.to_vec();
    newest_first.reverse();
    assert_eq!(
        names(&app, &token, "?sort=created&order=desc").await,
        newest_first
    );
}

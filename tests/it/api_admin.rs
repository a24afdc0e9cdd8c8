use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn admins_list_create_and_delete_users() {
    let app = spawn_app().await;
    let alice = app.create_user("alice", "admin").await;
    let token = app.api_token(&alice).await;

    let res = app
        .api(
            Method::POST,
            "/api/admin/users",
            &token,
            Some(json!({"username": "Erin", "password": "erin-Long-password", "role": "user"})),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"username": "erin", "role": "user"})
    );

    let res = app
        .api(
            Method::POST,
            "/api/admin/users",
            &token,
            Some(json!({"username": "erin", "password": "erin-Long-password", "role": "user"})),
        )
        .await;
    assert_eq!(res.status(), 409);

    let res = app
        .api(
            Method::POST,
            "/api/admin/users",
            &token,
            Some(json!({"username": "x", "password": "password", "role": "root"})),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    for field in ["username", "password", "role"] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }

    let list: Value = app
        .api(Method::GET, "/api/admin/users", &token, None)
        .await
        .json()
        .await
        .unwrap();
    let erin = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "erin")
        .unwrap();
    assert_eq!(erin["role"], "user");
    assert_eq!(erin["totp_enabled"], false);
    assert!(erin["created"].as_str().unwrap().ends_with('Z'));
    assert!(erin.get("password_hash").is_none());

    let erin_token = {
        let res = app
            .api_login_raw(json!({"username": "erin", "password": "erin-Long-password"}))
            .await;
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let res = app
        .api(Method::DELETE, "/api/admin/users/erin", &token, None)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"deleted": "erin"})
    );
    assert_eq!(
        app.api(Method::GET, "/api/audit", &erin_token, None)
            .await
            .status(),
        401,
        "their token died"
    );
    assert_eq!(
        app.api(Method::DELETE, "/api/admin/users/erin", &token, None)
            .await
            .status(),
        404
    );

    let res = app
        .api(Method::DELETE, "/api/admin/users/alice", &token, None)
        .await;
    assert_eq!(res.status(), 400, "no deleting yourself");
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"CREATE_USER".to_string())
            && actions.contains(&"DELETE_USER".to_string())
    );
}

#[tokio::test]
async fn plain_users_get_403_on_admin_endpoints() {
    let app = spawn_app().await;
    app.create_user("alice", "admin").await;
    let bob = app.create_user("bob", "user").await;
    let token = app.api_token(&bob).await;
    assert_eq!(
        app.api(Method::GET, "/api/admin/users", &token, None)
            .await
            .status(),
        403
    );
    let res = app
        .api(
            Method::POST,
            "/api/admin/users",
            &token,
            Some(json!({"username": "mallory", "password": "mallory-Long-pass", "role": "admin"})),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.api(Method::DELETE, "/api/admin/users/alice", &token, None)
            .await
            .status(),
        403
    );
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 2);
}

use crate::helpers::{browser, location, spawn_app};
use crate::public_form::{PHONE, fields, send_form};

async fn submission_ids(app: &crate::helpers::TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM submissions ORDER BY rowid")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_admin_reads_annotates_sets_status_converts_and_deletes() {
    let app = spawn_app().await;
    let visitor = browser();
    assert_eq!(
        send_form(
            &app,
            &visitor,
            &fields("Nadia Haddad", "nadia@example.com", PHONE),
            None
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        send_form(
            &app,
            &visitor,
            &fields("Nadia H.", "NADIA@example.com", "+44 (20) 7946-0958"),
            None
        )
        .await
        .status(),
        303
    );
    assert_eq!(
        send_form(
            &app,
            &visitor,
            &fields("Other Person", "other@example.com", PHONE),
            None
        )
        .await
        .status(),
        303
    );
    let ids = submission_ids(&app).await;

    let admin = app.create_user("root", "admin").await;
    let client = browser();
    app.login_web(&client, &admin).await;
    assert_eq!(
        location(&app.get(&client, "/admin").await),
        "/admin/submissions"
    );
    let inbox = app.get_html(&client, "/admin/submissions").await;
    assert!(inbox.contains("Nadia Haddad") && inbox.contains("nadia@example.com"));
    assert!(
        inbox.contains("2nd message"),
        "the repeat sender is flagged"
    );
    assert!(inbox.contains("not verified online"));
    assert!(
        inbox.find("Other Person").unwrap() < inbox.find("Nadia Haddad").unwrap(),
        "newest first"
    );

    let page = format!("/admin/submissions/{}", ids[0]);
    let detail = app.get_html(&client, &page).await;
    assert!(detail.contains("Please call me about the offer.") && detail.contains("afternoon"));

    let res = app
        .post_form(
            &client,
            &page,
            &format!("{page}/note"),
            &[("note", "Called back, left a voicemail")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let html = app.get_html(&client, &page).await;
    assert!(html.contains("Called back, left a voicemail") && html.contains("root"));
    let body: String = sqlx::query_scalar("SELECT body FROM submission_notes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        body.starts_with("cvs1:") && !body.contains("voicemail"),
        "notes are sealed to the inbox key"
    );
    let res = app
        .post_form(&client, &page, &format!("{page}/note"), &[("note", "   ")])
        .await;
    assert_eq!(res.status(), 400);

    let res = app
        .post_form(
            &client,
            &page,
            &format!("{page}/status"),
            &[("status", "contacted")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            &client,
            &page,
            &format!("{page}/status"),
            &[("status", "archived")],
        )
        .await;
    assert_eq!(res.status(), 400);
    let filtered = app
        .get_html(&client, "/admin/submissions?status=contacted")
        .await;
    assert!(filtered.contains("Nadia Haddad") && !filtered.contains("Other Person"));
    assert_eq!(
        app.get(&client, "/admin/submissions?status=bogus")
            .await
            .status(),
        400
    );

    let res = app
        .post_form(&client, &page, &format!("{page}/convert"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let contact_path = location(&res);
    assert!(contact_path.starts_with("/contacts/"));
    let contact = app.get_html(&client, &contact_path).await;
    assert!(contact.contains("Nadia Haddad"));
    let linked: Option<String> =
        sqlx::query_scalar("SELECT contact_id FROM submissions WHERE id = $1")
            .bind(&ids[0])
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        Some(contact_path.trim_start_matches("/contacts/").to_string()),
        linked
    );

    // The second message of the same person converts into a duplicate: refused with a link.
    let second = format!("/admin/submissions/{}", ids[1]);
    let res = app
        .post_form(&client, &second, &format!("{second}/convert"), &[])
        .await;
    assert_eq!(res.status(), 303, "a different name is not a duplicate");
    let third = format!("/admin/submissions/{}", ids[0]);
    sqlx::query("UPDATE submissions SET contact_id = NULL WHERE id = $1")
        .bind(&ids[0])
        .execute(&app.db)
        .await
        .unwrap();
    let res = app
        .post_form(&client, &third, &format!("{third}/convert"), &[])
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains(&contact_path));

    let delete = format!("/admin/submissions/{}/delete", ids[2]);
    assert_eq!(app.get(&client, &delete).await.status(), 200);
    let res = app.post_form(&client, &delete, &delete, &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(submission_ids(&app).await.len(), 2);
    assert_eq!(
        app.get(&client, &format!("/admin/submissions/{}", ids[2]))
            .await
            .status(),
        404
    );

    let actions = app.audit_actions().await;
    for a in [
        "VIEW_SUBMISSION",
        "NOTE_SUBMISSION",
        "STATUS_SUBMISSION",
        "CONVERT_SUBMISSION",
        "DELETE_SUBMISSION",
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
            .all(|d| !d.contains("Nadia") && !d.contains("voicemail"))
    );
}

#[tokio::test]
async fn only_admins_past_totp_reach_the_inbox() {
    let app = spawn_app().await;
    send_form(
        &app,
        &browser(),
        &fields("Nadia", "nadia@example.com", PHONE),
        None,
    )
    .await;
    let id = submission_ids(&app).await.remove(0);
    let paths = [
        "/admin/submissions".to_string(),
        format!("/admin/submissions/{id}"),
        format!("/admin/submissions/{id}/delete"),
    ];
    let anonymous = browser();
    for p in &paths {
        assert_eq!(location(&app.get(&anonymous, p).await), "/login", "{p}");
    }
    let bob = app.create_user("bob", "user").await;
    let user = browser();
    app.login_web(&user, &bob).await;
    for p in &paths {
        assert_eq!(app.get(&user, p).await.status(), 403, "{p}");
    }
    for action in ["note", "status", "convert", "delete"] {
        let res = app
            .post_form(
                &user,
                "/contacts",
                &format!("/admin/submissions/{id}/{action}"),
                &[("note", "x"), ("status", "spam")],
            )
            .await;
        assert_eq!(res.status(), 403, "{action}");
    }
    let status: String = sqlx::query_scalar("SELECT status FROM submissions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "new");
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM submission_notes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(notes, 0);
}

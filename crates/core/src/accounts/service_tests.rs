//! Accounts through their services, against a real SQLite file, with the clock moved by the
//! test instead of waiting: the password rules, the name taken, the lockout and its end, the
//! password re-entry, tokens that expire, and what an admin may not do to themselves.

use crate::accounts::lockout::{FIRST_LOCK_SECONDS, FREE_FAILURES};
use crate::accounts::{self, PasswordCheck};
use crate::audit::Actor;
use crate::error::Error;
use crate::testing::{self, PASSWORD, actions};

const CLI: Actor<'static> = Actor {
    user_id: None,
    username: "cli",
};

#[tokio::test]
async fn a_weak_password_a_bad_name_and_a_taken_name_are_refused() {
    let v = testing::vault().await;
    match accounts::create_user(&v, CLI, "ann", "password123", "user").await {
        Err(Error::Invalid(fields)) => assert!(fields.contains_key("password"), "{fields:?}"),
        other => panic!("expected a password message, got {other:?}"),
    }
    match accounts::create_user(&v, CLI, "no spaces allowed", PASSWORD, "root").await {
        Err(Error::Invalid(fields)) => {
            assert!(
                fields.contains_key("username") && fields.contains_key("role"),
                "{fields:?}"
            )
        }
        other => panic!("expected field messages, got {other:?}"),
    }
    testing::user(&v, "ann", "user").await;
    assert!(matches!(
        accounts::create_user(&v, CLI, "ANN", PASSWORD, "user").await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(accounts::all_users(&v).await.expect("users").len(), 1);
    assert_eq!(actions(&v).await, ["CREATE_USER"]);
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_name_until_the_clock_passes_the_lock() {
    let v = testing::vault().await;
    testing::user(&v, "ann", "user").await;
    for _ in 0..FREE_FAILURES {
        let check = accounts::check_password(&v, "ann", "wrong password!!", "web", None)
            .await
            .expect("checked");
        assert!(matches!(check, PasswordCheck::Invalid), "{check:?}");
    }
    // Locked: even the right password is refused unchecked.
    match accounts::check_password(&v, "ann", PASSWORD, "web", None)
        .await
        .expect("checked")
    {
        PasswordCheck::Locked { retry_after } => {
            assert!(retry_after > 0 && retry_after <= FIRST_LOCK_SECONDS)
        }
        other => panic!("expected a lock, got {other:?}"),
    }
    assert!(actions(&v).await.contains(&"LOGIN_LOCKED".to_string()));
    v.clock.advance(FIRST_LOCK_SECONDS + 1);
    let check = accounts::check_password(&v, "ann", PASSWORD, "web", None)
        .await
        .expect("checked");
    assert!(
        matches!(check, PasswordCheck::Valid(ref u) if u.username == "ann"),
        "{check:?}"
    );
}

#[tokio::test]
async fn unknown_names_fail_like_wrong_passwords_and_are_audited() {
    let v = testing::vault().await;
    let check = accounts::check_password(&v, "nobody", PASSWORD, "api", None)
        .await
        .expect("checked");
    assert!(matches!(check, PasswordCheck::Invalid));
    assert_eq!(actions(&v).await, ["LOGIN_FAIL"]);
}

#[tokio::test]
async fn a_wrong_current_password_is_unauthorized_and_changes_nothing() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    let new = "a different long passphrase";
    assert!(matches!(
        accounts::change_password(&v, &ann, "not my password", new, None).await,
        Err(Error::Unauthorized(_))
    ));
    assert!(actions(&v).await.contains(&"REAUTH_FAIL".to_string()));
    accounts::change_password(&v, &ann, PASSWORD, new, None)
        .await
        .expect("changed");
    assert!(matches!(
        accounts::check_password(&v, "ann", PASSWORD, "web", None).await,
        Ok(PasswordCheck::Invalid)
    ));
    assert!(matches!(
        accounts::check_password(&v, "ann", new, "web", None).await,
        Ok(PasswordCheck::Valid(_))
    ));
}

#[tokio::test]
async fn a_token_works_until_it_expires_or_the_password_changes() {
    let v = testing::vault().await;
    let ann = testing::user(&v, "ann", "user").await;
    let (token, expires) = accounts::issue_token(&v, &ann).await.expect("token");
    assert_eq!(expires, v.clock.now() + 3600);
    let owner = accounts::user_by_token(&v, &token).await.expect("query");
    assert_eq!(owner.map(|u| u.id), Some(ann.id));
    v.clock.advance(3601);
    assert!(
        accounts::user_by_token(&v, &token)
            .await
            .expect("query")
            .is_none()
    );

    let (token, _) = accounts::issue_token(&v, &ann).await.expect("token");
    accounts::change_password(&v, &ann, PASSWORD, "another long passphrase", None)
        .await
        .expect("changed");
    assert!(
        accounts::user_by_token(&v, &token)
            .await
            .expect("query")
            .is_none()
    );
}

#[tokio::test]
async fn an_admin_cannot_delete_or_reset_themselves_but_can_delete_another() {
    let v = testing::vault().await;
    let boss = testing::user(&v, "boss", "admin").await;
    testing::user(&v, "ann", "user").await;
    assert!(matches!(
        accounts::delete_user(&v, &boss, "boss").await,
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        accounts::reset_totp(&v, &boss, "boss").await,
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        accounts::delete_user(&v, &boss, "nobody").await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        accounts::delete_user(&v, &boss, "ann")
            .await
            .expect("deleted"),
        "ann"
    );
    assert!(
        accounts::user_by_name(&v, "ann")
            .await
            .expect("query")
            .is_none()
    );
    assert_eq!(
        actions(&v).await.last().map(String::as_str),
        Some("DELETE_USER")
    );
}

//! Registration and login rules.

use serde_json::json;
use triage_testkit::ok_json;

use crate::jobs_flow::assert_error;

#[tokio::test]
async fn register_login_and_me() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let user = ok_json(app.register("alice.m-1", "s3cret!").await, 201).await;
    assert_eq!(user["username"], "alice.m-1");
    assert_eq!(user["role"], "user");
    assert!(user.get("password_hash").is_none() && user.get("hashed_password").is_none());
    let keys: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "username",
            "email",
            "full_name",
            "role",
            "created_at",
            "updated_at"
        ]
    );

    let login = ok_json(app.login("alice.m-1", "s3cret!").await, 200).await;
    assert_eq!(login["token_type"], "bearer");
    assert_eq!(login["username"], "alice.m-1");
    assert_eq!(login["expires_in"], 3600);
    let token = login["access_token"].as_str().unwrap();
    let me = app
        .client
        .get(app.url("/api/auth/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let me = ok_json(me, 200).await;
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn registration_rules() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let short = assert_error(app.register("bob", "12345").await, 422, "validation_failed").await;
    assert_eq!(short["fields"][0]["field"], "password");
    let empty = assert_error(app.register("", "123456").await, 422, "validation_failed").await;
    assert_eq!(empty["fields"][0]["field"], "username");
    assert_error(
        app.register("has space", "123456").await,
        422,
        "validation_failed",
    )
    .await;
    ok_json(app.register("bob", "123456").await, 201).await;
    assert_error(
        app.register("bob", "another-one").await,
        409,
        "username_taken",
    )
    .await;
    assert_error(
        app.register("BOB", "another-one").await,
        409,
        "username_taken",
    )
    .await;
    let body = json!({"username": "carol", "password": "123456", "email": "not-an-email"});
    let bad_email = app
        .client
        .post(app.url("/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(bad_email, 422, "validation_failed").await;
    let body = json!({"username": "carol", "password": "123456", "email": "carol@clinic.ru", "full_name": "Carol C"});
    let carol = ok_json(
        app.client
            .post(app.url("/auth/register"))
            .json(&body)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    assert_eq!(carol["email"], "carol@clinic.ru");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    ok_json(app.register("dave", "correct-password").await, 201).await;
    let wrong = assert_error(
        app.login("dave", "wrong-password").await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown = assert_error(
        app.login("nobody", "wrong-password").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn malformed_bodies_are_client_errors() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let syntax = app
        .client
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(syntax, 400, "invalid_json").await;
    let shape = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"username": 5}))
        .send()
        .await
        .unwrap();
    assert_error(shape, 422, "validation_failed").await;
}

#[tokio::test]
async fn tokens_that_are_forged_or_malformed_are_refused() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    for token in ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.x"] {
        let response = app
            .client
            .get(app.url("/auth/me"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_error(response, 401, "unauthenticated").await;
    }
}

#[tokio::test]
async fn usernames_collide_after_normalisation_and_case_folding() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    ok_json(app.register("admin2", "123456").await, 201).await;
    // Fullwidth letters and digits (NFKC) and upper case (case folding) name the same user.
    for twin in ["ａｄｍｉｎ２", "ADMIN2", "Ａｄｍｉｎ2"] {
        assert_error(app.register(twin, "123456").await, 409, "username_taken").await;
    }
    // The twin spelling logs the one account in, as the plain spelling does.
    let login = ok_json(app.login("ＡＤＭＩＮ２", "123456").await, 200).await;
    assert_eq!(login["username"], "admin2");

    for punctuation in ["...", "_-_", "-.-.-"] {
        let refused = assert_error(
            app.register(punctuation, "123456").await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["fields"][0]["field"], "username", "{punctuation}");
    }
    for blank in ["      ", "\t\t\t\t\t\t", " \u{3000} \u{a0}  "] {
        let refused = assert_error(
            app.register("blanky", blank).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(refused["fields"][0]["field"], "password", "{blank:?}");
    }
    ok_json(app.register("blanky", " pass word ").await, 201).await;
}

//! Who may do what: every protected route refuses anonymous callers, other users' jobs do not
//! exist for them, user administration follows the admin/self rules.

use serde_json::json;
use triage_testkit::{TestApp, ok_json};

use crate::jobs_flow::{assert_error, put};

const NIL: &str = "00000000-0000-4000-8000-000000000000";

/// (method, path) of every protected route; `{id}` is a job id, `{uid}` a user id.
const PROTECTED: &[(&str, &str)] = &[
    ("GET", "/auth/me"),
    ("GET", "/users"),
    ("GET", "/users/{uid}"),
    ("PUT", "/users/{uid}"),
    ("DELETE", "/users/{uid}"),
    ("GET", "/users/username/someone"),
    ("POST", "/jobs"),
    ("GET", "/jobs"),
    ("GET", "/jobs/{id}"),
    ("PUT", "/jobs/{id}"),
    ("DELETE", "/jobs/{id}"),
    ("POST", "/jobs/{id}/cancel"),
    ("POST", "/jobs/{id}/retry"),
    ("GET", "/jobs/{id}/file"),
    ("GET", "/jobs/{id}/zip-contents"),
    ("GET", "/jobs/{id}/zip-info"),
    ("GET", "/jobs/{id}/results"),
    ("GET", "/jobs/{id}/results.xlsx"),
];

const JOB_ROUTES: &[(&str, &str)] = &[
    ("GET", "/jobs/{id}"),
    ("PUT", "/jobs/{id}"),
    ("DELETE", "/jobs/{id}"),
    ("POST", "/jobs/{id}/cancel"),
    ("POST", "/jobs/{id}/retry"),
    ("GET", "/jobs/{id}/file"),
    ("GET", "/jobs/{id}/zip-contents"),
    ("GET", "/jobs/{id}/zip-info"),
    ("GET", "/jobs/{id}/results"),
    ("GET", "/jobs/{id}/results.xlsx"),
];

fn request(app: &TestApp, method: &str, path: &str) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let builder = app.client.request(method.clone(), app.url(path));
    if method == reqwest::Method::PUT {
        builder.json(&json!({"title": "x"}))
    } else {
        builder
    }
}

#[tokio::test]
async fn every_protected_route_needs_a_token() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let job = ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
    let id = job["id"].as_str().unwrap();
    for prefix in ["", "/api"] {
        for (method, path) in PROTECTED {
            let path = format!(
                "{prefix}{}",
                path.replace("{id}", id).replace("{uid}", &alice.id)
            );
            let response = request(&app, method, &path).send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path}");
            assert_eq!(
                response.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
        }
    }
    // Nothing changed: the job is still there and queued.
    let job = ok_json(app.get(&format!("/jobs/{id}"), &alice).await, 200).await;
    assert_eq!(job["status"], "queued");
}

#[tokio::test]
async fn another_users_job_does_not_exist_for_them() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let job = ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
    let id = job["id"].as_str().unwrap();
    for (method, path) in JOB_ROUTES {
        let path = path.replace("{id}", id);
        let response = request(&app, method, &path)
            .bearer_auth(&mallory.token)
            .send()
            .await
            .unwrap();
        assert_error(response, 404, "not_found").await;
        // An id that exists nowhere answers exactly the same.
        let missing = request(&app, method, &path.replace(id, NIL))
            .bearer_auth(&mallory.token)
            .send()
            .await
            .unwrap();
        assert_error(missing, 404, "not_found").await;
    }
    let theirs = ok_json(app.get("/jobs", &mallory).await, 200).await;
    assert_eq!(theirs, json!([]));
    assert_error(app.get("/jobs?all=true", &mallory).await, 403, "forbidden").await;
    // Alice's job survived every attempt.
    let job = ok_json(app.get(&format!("/jobs/{id}"), &alice).await, 200).await;
    assert_eq!(job["title"], "ct-normal.zip");
    assert_eq!(job["status"], "queued");
    // An admin sees it.
    let admin = app.new_admin().await;
    ok_json(app.get(&format!("/jobs/{id}"), &admin).await, 200).await;
    let all = ok_json(app.get("/jobs?all=true", &admin).await, 200).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn malformed_ids_answer_not_found() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    for path in [
        "/jobs/not-a-uuid",
        "/jobs/123",
        "/users/42",
        "/jobs/123/file",
    ] {
        assert_error(app.get(path, &alice).await, 404, "not_found").await;
    }
}

#[tokio::test]
async fn user_administration_follows_the_admin_and_self_rules() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let admin = app.new_admin().await;

    assert_error(app.get("/users", &alice).await, 403, "forbidden").await;
    let users = ok_json(app.get("/users?limit=10", &admin).await, 200).await;
    assert_eq!(users.as_array().unwrap().len(), 3);
    assert_error(
        app.get("/users?limit=-1", &admin).await,
        422,
        "validation_failed",
    )
    .await;
    assert_error(
        app.get("/users?limit=0", &admin).await,
        422,
        "validation_failed",
    )
    .await;

    ok_json(app.get(&format!("/users/{}", alice.id), &alice).await, 200).await;
    assert_error(
        app.get(&format!("/users/{}", bob.id), &alice).await,
        404,
        "not_found",
    )
    .await;
    ok_json(
        app.get(&format!("/users/username/{}", alice.username), &alice)
            .await,
        200,
    )
    .await;
    assert_error(
        app.get(&format!("/users/username/{}", bob.username), &alice)
            .await,
        404,
        "not_found",
    )
    .await;
    ok_json(app.get(&format!("/users/{}", bob.id), &admin).await, 200).await;

    // A user cannot change their own role, nor touch someone else.
    assert_error(
        put(
            &app,
            &alice,
            &format!("/users/{}", alice.id),
            json!({"role": "admin"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let me = ok_json(app.get("/auth/me", &alice).await, 200).await;
    assert_eq!(me["role"], "user");
    assert_error(
        put(
            &app,
            &alice,
            &format!("/users/{}", bob.id),
            json!({"full_name": "x"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        put(
            &app,
            &alice,
            &format!("/users/{}", alice.id),
            json!({"username": bob.username}),
        )
        .await,
        409,
        "username_taken",
    )
    .await;

    // Renaming keeps tokens working (sub is the id), and the new name logs in.
    let renamed = ok_json(
        put(
            &app,
            &alice,
            &format!("/users/{}", alice.id),
            json!({"username": "alice_renamed", "email": "a@b.ru"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["username"], "alice_renamed");
    ok_json(app.get("/auth/me", &alice).await, 200).await;
    ok_json(app.login("alice_renamed", &alice.password).await, 200).await;

    // The admin promotes bob; the last admin cannot delete themself.
    let promoted = ok_json(
        put(
            &app,
            &admin,
            &format!("/users/{}", bob.id),
            json!({"role": "admin"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(promoted["role"], "admin");
    let demoted = ok_json(
        put(
            &app,
            &bob,
            &format!("/users/{}", bob.id),
            json!({"role": "user"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(demoted["role"], "user");
    let delete_self = app
        .client
        .delete(app.url(&format!("/users/{}", admin.id)))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_error(delete_self, 409, "last_admin").await;
}

#[tokio::test]
async fn deleting_a_user_deletes_their_jobs_and_objects() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
    ok_json(app.upload_fixture(&alice, "ct-opacity.zip").await, 201).await;
    assert_eq!(app.stored_files().await.len(), 2);
    let response = app
        .client
        .delete(app.url(&format!("/users/{}", alice.id)))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.stored_files().await, Vec::<String>::new());
    // Their token no longer works.
    assert_error(app.get("/auth/me", &alice).await, 401, "unauthenticated").await;
}

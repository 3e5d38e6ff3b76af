//! POST /internal/jobs/{id}/completion: the token, the body rules, idempotence, conflicts.

use serde_json::{Value, json};
use triage_testkit::ml_server::{Behaviour, CallbackAuth, Outcome};
use triage_testkit::{Actor, MlTestApp, ok_json};

/// An uploaded job the service has accepted (so it is `processing`).
async fn processing_job(t: &MlTestApp, alice: &Actor) -> String {
    let id = t.upload(alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept());
    assert_eq!(t.app.dispatch().await.accepted, 1);
    id
}

async fn post(t: &MlTestApp, id: &str, auth: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = t
        .app
        .client
        .post(t.app.url(&format!("/api/internal/jobs/{id}/completion")))
        .json(&body);
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn the_token_is_always_required() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = processing_job(&t, &alice).await;
    let body = json!({"status": "failed", "error": "x"});
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer "),
        Some(alice.bearer().as_str()),
    ] {
        let answer = post(&t, &id, auth, body.clone()).await;
        assert_eq!(answer.status(), 401, "{auth:?}");
    }
    // Even a malformed body learns nothing without the token.
    assert_eq!(
        post(&t, &id, None, json!({"status": "bogus"}))
            .await
            .status(),
        401
    );
    assert_eq!(t.job(&alice, &id).await["status"], "processing");

    // The raw token (no `Bearer `) is accepted, for the old service.
    let record =
        t.ml.complete_with_auth(
            &id,
            Outcome::succeeded(),
            CallbackAuth::Raw(t.ml.token().into()),
        )
        .await;
    assert_eq!(record.status, Some(200));
}

#[tokio::test]
async fn a_callback_with_a_bad_token_changes_nothing() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(
        Behaviour::accept()
            .call_back()
            .with_callback_token("not-the-token"),
    );
    t.app.dispatch().await;
    assert!(t.ml.wait_for_callbacks(1, super::secs(10)).await);
    assert_eq!(t.ml.callbacks_for(&id)[0].status, Some(401));
    assert_eq!(t.job(&alice, &id).await["status"], "processing");
}

#[tokio::test]
async fn status_synonyms_are_understood_and_others_refused() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let bearer = format!("Bearer {}", t.ml.token());
    let id = processing_job(&t, &alice).await;
    let answer = post(&t, &id, Some(&bearer), json!({"status": "cancelled"})).await;
    assert_eq!(ok_json(answer, 422).await["code"], "validation_failed");
    for progress in ["processing", "RUNNING", "in_progress"] {
        let answer = post(&t, &id, Some(&bearer), json!({"status": progress})).await;
        assert_eq!(
            ok_json(answer, 200).await["status"],
            "processing",
            "{progress}"
        );
    }
    let failed = post(
        &t,
        &id,
        Some(&bearer),
        json!({"status": "error", "error": "GPU fell off"}),
    )
    .await;
    let failed = ok_json(failed, 200).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["status_reason"]
            .as_str()
            .unwrap()
            .contains("GPU fell off")
    );
    // The same again: 200, nothing changes.
    let again = post(&t, &id, Some(&bearer), json!({"status": "failed"})).await;
    assert_eq!(
        ok_json(again, 200).await["updated_at"],
        failed["updated_at"]
    );
    // Another outcome after a terminal one: 409.
    let late = post(&t, &id, Some(&bearer), json!({"status": "done"})).await;
    assert_eq!(ok_json(late, 409).await["code"], "completion_conflict");
}

#[tokio::test]
async fn output_objects_outside_the_results_prefix_are_refused() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let bearer = format!("Bearer {}", t.ml.token());
    let id = processing_job(&t, &alice).await;
    for key in [
        format!("jobs/{id}.zip"),
        "results/../jobs/x.zip".into(),
        "/results/x.xlsx".into(),
        "results/".into(),
        "other/results/x.xlsx".into(),
    ] {
        let answer = post(
            &t,
            &id,
            Some(&bearer),
            json!({"status": "succeeded", "output_object": key}),
        )
        .await;
        assert_eq!(answer.status(), 422, "{key}");
    }
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "processing");
    // The upload is untouched.
    let file = t.app.get(&format!("/jobs/{id}/file"), &alice).await;
    assert_eq!(file.status(), 200);
}

#[tokio::test]
async fn unusable_reports_fail_the_job_with_the_reason() {
    for (outcome, words) in [
        (Outcome::Garbage, "unusable"),
        (Outcome::NoReport, "no report"),
    ] {
        let t = MlTestApp::spawn().await;
        let alice = t.app.new_user().await;
        let id = processing_job(&t, &alice).await;
        let record = t.ml.complete_with(&id, outcome).await;
        assert_eq!(record.status, Some(200));
        let job = t.job(&alice, &id).await;
        assert_eq!(job["status"], "failed");
        assert!(
            job["status_reason"].as_str().unwrap().contains(words),
            "{job}"
        );
        assert!(job["results_payload"].is_null());
        let results = t.app.get(&format!("/jobs/{id}/results"), &alice).await;
        assert_eq!(ok_json(results, 404).await["code"], "results_not_ready");
    }
}

#[tokio::test]
async fn cancelled_unknown_and_deleted_jobs() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let bearer = format!("Bearer {}", t.ml.token());
    let id = processing_job(&t, &alice).await;
    let cancel = t
        .app
        .client
        .post(t.app.url(&format!("/jobs/{id}/cancel")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let late = post(&t, &id, Some(&bearer), json!({"status": "succeeded"})).await;
    assert_eq!(ok_json(late, 409).await["code"], "completion_conflict");
    assert_eq!(t.job(&alice, &id).await["status"], "cancelled");

    let unknown = uuid::Uuid::new_v4();
    let answer = post(
        &t,
        &unknown.to_string(),
        Some(&bearer),
        json!({"status": "succeeded"}),
    )
    .await;
    assert_eq!(answer.status(), 404);

    let other = processing_job(&t, &alice).await;
    let deleted = t
        .app
        .client
        .delete(t.app.url(&format!("/jobs/{other}")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let record = t.ml.complete(&other).await;
    assert_eq!(record.status, Some(404));
}

#[tokio::test]
async fn the_token_is_checked_before_the_body_is_read() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = processing_job(&t, &alice).await;
    let url = t.app.url(&format!("/api/internal/jobs/{id}/completion"));
    let huge = vec![b'x'; 3 * 1024 * 1024];
    let bodies: [(&str, Option<&str>, Vec<u8>); 5] = [
        (
            "malformed JSON",
            Some("application/json"),
            b"{not json".to_vec(),
        ),
        (
            "wrong shape",
            Some("application/json"),
            br#"{"status": 7}"#.to_vec(),
        ),
        ("wrong content type", Some("text/plain"), b"hello".to_vec()),
        ("no content type", None, br#"{"status":"failed"}"#.to_vec()),
        ("huge body", Some("application/json"), huge),
    ];
    for (what, content_type, body) in bodies {
        for auth in [None, Some("Bearer wrong")] {
            let mut request = t.app.client.post(&url).body(body.clone());
            if let Some(content_type) = content_type {
                request = request.header("Content-Type", content_type);
            }
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 401, "{what} with {auth:?}");
            assert_eq!(
                answer.headers()["WWW-Authenticate"],
                "Bearer",
                "{what} with {auth:?}"
            );
            assert_eq!(ok_json(answer, 401).await["code"], "unauthenticated");
        }
    }
    assert_eq!(t.job(&alice, &id).await["status"], "processing");

    // With the token, the same bodies get their own answers.
    let bearer = format!("Bearer {}", t.ml.token());
    let send = |content_type: &'static str, body: &'static [u8]| {
        t.app
            .client
            .post(&url)
            .header("Authorization", &bearer)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let malformed = send("application/json", b"{not json").await.unwrap();
    assert_eq!(ok_json(malformed, 400).await["code"], "invalid_json");
    let shape = send("application/json", br#"{"status": 7}"#).await.unwrap();
    assert_eq!(ok_json(shape, 422).await["code"], "validation_failed");
    let text = send("text/plain", b"hello").await.unwrap();
    assert_eq!(ok_json(text, 415).await["code"], "unsupported_media_type");
    let progress = send("application/json", br#"{"status":"running"}"#)
        .await
        .unwrap();
    assert_eq!(ok_json(progress, 200).await["status"], "processing");
}

#[tokio::test]
async fn a_completion_may_not_name_another_jobs_report() {
    let t = MlTestApp::spawn().await;
    let (alice, mallory) = (t.app.new_user().await, t.app.new_user().await);
    let bearer = format!("Bearer {}", t.ml.token());
    let theirs = processing_job(&t, &alice).await;
    assert_eq!(t.ml.complete(&theirs).await.status, Some(200));
    let report = t
        .app
        .get(&format!("/jobs/{theirs}/results.xlsx"), &alice)
        .await;
    assert_eq!(report.status(), 200);
    let report = report.bytes().await.unwrap();

    let mine = processing_job(&t, &mallory).await;
    for key in [
        format!("results/{theirs}.xlsx"),
        format!("results/{theirs}/report.xlsx"),
        format!("results/{mine}x.xlsx"),
        "results/shared.xlsx".to_owned(),
    ] {
        let answer = post(
            &t,
            &mine,
            Some(&bearer),
            json!({"status": "succeeded", "output_object": key}),
        )
        .await;
        let answer = ok_json(answer, 422).await;
        assert_eq!(answer["code"], "validation_failed", "{key}");
        assert_eq!(answer["fields"][0]["field"], "output_object", "{key}");
    }
    let job = t.job(&mallory, &mine).await;
    assert_eq!(job["status"], "processing");
    assert!(job["results_payload"].is_null());

    // Its own key and its own area are fine.
    let own = post(
        &t,
        &mine,
        Some(&bearer),
        json!({"status": "succeeded", "output_object": format!("results/{mine}/report.xlsx")}),
    )
    .await;
    // Nothing was written there: the job fails for want of a report, not for the key.
    let own = ok_json(own, 200).await;
    assert_eq!(own["status"], "failed");
    assert!(own["status_reason"].as_str().unwrap().contains("no report"));

    // Deleting the other job leaves the first one's report alone.
    let deleted = t
        .app
        .client
        .delete(t.app.url(&format!("/jobs/{mine}")))
        .header("Authorization", mallory.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let still = t
        .app
        .get(&format!("/jobs/{theirs}/results.xlsx"), &alice)
        .await;
    assert_eq!(still.status(), 200);
    assert_eq!(still.bytes().await.unwrap(), report);
    assert_eq!(t.job(&alice, &theirs).await["status"], "succeeded");
}

#[tokio::test]
async fn deleting_a_job_spares_a_report_outside_its_area() {
    let t = MlTestApp::spawn().await;
    let (alice, mallory) = (t.app.new_user().await, t.app.new_user().await);
    let theirs = processing_job(&t, &alice).await;
    assert_eq!(t.ml.complete(&theirs).await.status, Some(200));
    let mine = processing_job(&t, &mallory).await;
    assert_eq!(t.ml.complete(&mine).await.status, Some(200));

    // A row written before completions were confined names the other job's report.
    let jobs = &t.app.app().ports().jobs;
    let mut row = jobs.get(mine.parse().unwrap()).await.unwrap().unwrap();
    let foreign = jobs
        .get(theirs.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .report_key;
    row.report_key = foreign;
    jobs.update(&row).await.unwrap();

    let deleted = t
        .app
        .client
        .delete(t.app.url(&format!("/jobs/{mine}")))
        .header("Authorization", mallory.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let report = t
        .app
        .get(&format!("/jobs/{theirs}/results.xlsx"), &alice)
        .await;
    assert_eq!(report.status(), 200, "the other job's report survives");
    // The deleted job's upload went with it.
    let files = t.app.stored_files().await;
    assert!(
        !files.iter().any(|f| f.contains(&format!("jobs/{mine}"))),
        "{files:?}"
    );
}

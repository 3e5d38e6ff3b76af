//! Reports are bounded (`ml.max_report_rows`), and lists carry them only when asked.

use triage_testkit::ml_server::{Behaviour, Outcome, sample_rows};
use triage_testkit::{Actor, MlTestApp, fixture, ok_json};

/// A job the service accepted, completed with a report of `rows` rows. Every call uploads the
/// same fixture, so `reanalyse` keeps deduplication from answering with the earlier report.
async fn completed_with_rows(t: &MlTestApp, alice: &Actor, rows: usize) -> serde_json::Value {
    let bytes = std::fs::read(fixture("ct-normal.zip")).expect("fixture");
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("ct-normal.zip"),
        )
        .text("reanalyse", "true");
    let job = ok_json(t.app.post_form("/jobs", alice, form).await, 201).await;
    let id = job["id"].as_str().expect("id").to_owned();
    t.ml.set_default(Behaviour::accept());
    assert_eq!(t.app.dispatch().await.accepted, 1);
    let template = sample_rows().remove(0);
    let rows = (0..rows)
        .map(|n| {
            let mut row = template.clone();
            row.series_uid = format!("{}.{n}", row.series_uid);
            row
        })
        .collect();
    let record = t.ml.complete_with(&id, Outcome::Succeeded(rows)).await;
    assert_eq!(record.status, Some(200), "{record:?}");
    t.job(alice, &id).await
}

#[tokio::test]
async fn a_report_over_the_row_limit_fails_the_job() {
    let t = MlTestApp::spawn_with(|c| c.ml.max_report_rows = 5).await;
    let alice = t.app.new_user().await;

    let at_limit = completed_with_rows(&t, &alice, 5).await;
    assert_eq!(at_limit["status"], "succeeded", "{at_limit}");
    assert_eq!(
        at_limit["results_payload"]["rows"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    let over = completed_with_rows(&t, &alice, 6).await;
    assert_eq!(over["status"], "failed", "{over}");
    let reason = over["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("6 rows") && reason.contains("limit of 5"),
        "{reason}"
    );
    assert!(over["results_payload"].is_null());
    let id = over["id"].as_str().unwrap();
    let results = t.app.get(&format!("/jobs/{id}/results"), &alice).await;
    assert_eq!(ok_json(results, 404).await["code"], "results_not_ready");
}

#[tokio::test]
async fn lists_carry_results_only_when_asked() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let job = completed_with_rows(&t, &alice, 3).await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["results_payload"]["rows"].as_array().unwrap().len(), 3);

    for path in ["/jobs", "/api/jobs", "/jobs?include="] {
        let list = ok_json(t.app.get(path, &alice).await, 200).await;
        let listed = &list.as_array().unwrap()[0];
        assert_eq!(listed["id"], id, "{path}");
        assert_eq!(listed["status"], "succeeded", "{path}");
        // The field stays (null), as the old frontend expects: it then fetches /results.
        assert!(listed.get("results_payload").is_some(), "{path}");
        assert!(listed["results_payload"].is_null(), "{path}");
        assert!(listed["results_parsed_at"].is_string(), "{path}");
    }
    let list = ok_json(t.app.get("/jobs?include=results", &alice).await, 200).await;
    assert_eq!(list[0]["results_payload"], job["results_payload"]);

    let bad = t.app.get("/jobs?include=everything", &alice).await;
    let bad = ok_json(bad, 422).await;
    assert_eq!(bad["fields"][0]["field"], "include");

    // Where the frontend reads results, they are whole.
    let one = ok_json(t.app.get(&format!("/jobs/{id}"), &alice).await, 200).await;
    assert_eq!(one["results_payload"], job["results_payload"]);
    let results = ok_json(t.app.get(&format!("/jobs/{id}/results"), &alice).await, 200).await;
    assert_eq!(results["results"], job["results_payload"]);
}

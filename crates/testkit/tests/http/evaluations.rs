//! Evaluations over HTTP: the fixtures analysed, a labels file uploaded, every figure
//! returned; the figures are a real SVG and a real PNG; someone else's evaluation is 404.

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use triage_testkit::{Actor, TestApp, ok_json};

/// Uploads a fixture, runs the analysis, and returns (study UID, probability) per row.
async fn analysed(app: &TestApp, actor: &Actor, name: &str) -> (String, Vec<(String, f64)>) {
    let job = ok_json(app.upload_fixture(actor, name).await, 201).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(app.dispatch().await.completed, 1, "{name}");
    let results = ok_json(app.get(&format!("/jobs/{id}/results"), actor).await, 200).await;
    let rows = results["results"]["rows"].as_array().unwrap();
    let studies = rows
        .iter()
        .map(|r| {
            (
                r["study_uid"].as_str().unwrap().to_owned(),
                r["probability_of_pathology"].as_f64().unwrap(),
            )
        })
        .collect();
    (id, studies)
}

fn labels_form(csv: String) -> Form {
    Form::new().part(
        "labels",
        Part::bytes(csv.into_bytes()).file_name("labels.csv"),
    )
}

#[tokio::test]
async fn fixtures_evaluated_against_uploaded_labels() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let (_, normal) = analysed(&app, &alice, "ct-normal.zip").await;
    let (_, emphysema) = analysed(&app, &alice, "ct-emphysema.zip").await;
    let (_, opacity) = analysed(&app, &alice, "ct-opacity.zip").await;
    let (pacs_job, pacs) = analysed(&app, &alice, "ct-two-studies-pacs.zip").await;
    let csv = format!(
        "study_uid;label\n{};нет\n{};да\n{};pathology\nnot-analysed;1\n",
        normal[0].0, emphysema[0].0, opacity[0].0
    );

    let response = app
        .post_form(
            "/evaluations",
            &alice,
            labels_form(csv.clone())
                .text("threshold", "0.25")
                .text("name", "fixtures"),
        )
        .await;
    let e = ok_json(response, 201).await;
    assert_eq!(e["name"], "fixtures");
    assert_eq!(
        (
            e["n"].as_u64(),
            e["positives"].as_u64(),
            e["negatives"].as_u64()
        ),
        (Some(3), Some(2), Some(1))
    );
    // The engine separates the fixtures (normal < 0.25 <= pathology), so the figures are exact.
    assert_eq!(e["auc"], 1.0);
    assert_eq!(
        (e["sensitivity"].as_f64(), e["specificity"].as_f64()),
        (Some(1.0), Some(1.0))
    );
    assert_eq!(
        e["confusion"],
        serde_json::json!({"tp": 2, "fp": 0, "tn": 1, "fn": 0})
    );
    assert_eq!(e["threshold"], 0.25);
    for key in [
        "auc_ci_delong",
        "auc_ci_bootstrap",
        "sensitivity_ci",
        "specificity_ci",
    ] {
        assert_eq!(e[key].as_array().unwrap().len(), 2, "{key}");
    }
    for key in [
        "ppv",
        "npv",
        "accuracy",
        "youden_threshold",
        "time_per_study",
    ] {
        assert!(!e[key].is_null(), "{key}");
    }
    assert_eq!(e["unmatched_labels"], serde_json::json!(["not-analysed"]));
    let mut unlabelled: Vec<String> = pacs.iter().map(|s| s.0.clone()).collect();
    unlabelled.sort();
    unlabelled.dedup();
    assert_eq!(e["unlabelled_studies"], serde_json::json!(unlabelled));
    let id = e["id"].as_str().unwrap().to_owned();

    let got = ok_json(app.get(&format!("/evaluations/{id}"), &alice).await, 200).await;
    assert_eq!(got["auc"], e["auc"]);
    let list = ok_json(app.get("/api/evaluations", &alice).await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    let svg = app.get(&format!("/evaluations/{id}/roc.svg"), &alice).await;
    assert_eq!(svg.status(), 200);
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    assert!(svg.contains("AUC 1.000"), "the caption carries the AUC");
    let png = app.get(&format!("/evaluations/{id}/roc.png"), &alice).await;
    assert_eq!(
        (
            png.status().as_u16(),
            png.headers()["content-type"].to_str().unwrap()
        ),
        (200, "image/png")
    );
    let png = png.bytes().await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png.as_ref()));
    let info = decoder.read_info().unwrap().info().clone();
    assert!(info.width > 100 && info.height > 100);
    let calibration = app
        .get(&format!("/evaluations/{id}/calibration.svg"), &alice)
        .await;
    roxmltree::Document::parse(&calibration.text().await.unwrap()).unwrap();
    let xlsx = app
        .get(&format!("/evaluations/{id}/report.xlsx"), &alice)
        .await;
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));

    // The same labels on one job only: a selection by id.
    let only_pacs = labels_form(csv).text("job_ids", pacs_job.clone());
    let refused = app.post_form("/evaluations", &alice, only_pacs).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "evaluation_empty", "{body}");

    // Compared with itself: no difference.
    let same = ok_json(
        app.get(&format!("/evaluations/{id}/compare/{id}"), &alice)
            .await,
        200,
    )
    .await;
    assert_eq!(
        (same["difference"].as_f64(), same["p_value"].as_f64()),
        (Some(0.0), Some(1.0))
    );

    // Someone else sees nothing of it, and cannot select Alice's jobs.
    let bob = app.new_user().await;
    for path in [
        format!("/evaluations/{id}"),
        format!("/evaluations/{id}/roc.svg"),
        format!("/evaluations/{id}/roc.png"),
        format!("/evaluations/{id}/report.xlsx"),
        format!("/evaluations/{id}/compare/{id}"),
    ] {
        let response = app.get(&path, &bob).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert!(
        ok_json(app.get("/evaluations", &bob).await, 200)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let theft = labels_form("study_uid,label\na,1\nb,0\n".into()).text("job_ids", pacs_job);
    assert_eq!(
        app.post_form("/evaluations", &bob, theft).await.status(),
        404
    );
}

#[tokio::test]
async fn bad_requests_are_422_with_a_code() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    analysed(&app, &alice, "ct-normal.zip").await;
    let code = async |form: Form| {
        let response = app.post_form("/evaluations", &alice, form).await;
        assert_eq!(response.status(), 422);
        response.json::<Value>().await.unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        code(Form::new().text("source", "reviews")).await,
        "reviews_not_available"
    );
    assert_eq!(
        code(Form::new().text("source", "file")).await,
        "validation_failed"
    );
    assert_eq!(
        code(labels_form("study_uid,label\nx,maybe\n".into())).await,
        "labels_unreadable"
    );
    assert_eq!(
        code(labels_form("a,b\n1,2\n".into())).await,
        "labels_unreadable"
    );
    assert_eq!(
        code(labels_form("study_uid,label\nx,1\n".into()).text("threshold", "NaN")).await,
        "validation_failed"
    );
    assert_eq!(
        code(labels_form("study_uid,label\nx,1\n".into()).text("from", "yesterday")).await,
        "validation_failed"
    );
    assert_eq!(
        code(labels_form("study_uid,label\nx,1\n".into()).text("job_ids", "not-a-uuid")).await,
        "validation_failed"
    );
    let anonymous = reqwest::Client::new()
        .get(app.url("/evaluations"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn review_labels_are_ground_truth() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let mut reviewed = Vec::new();
    for (fixture, label) in [
        ("ct-normal.zip", "normal"),
        ("ct-emphysema.zip", "pathology"),
        ("ct-opacity.zip", "pathology"),
    ] {
        let (_, rows) = analysed(&app, &alice, fixture).await;
        let uid = rows[0].0.clone();
        let review = app
            .client
            .post(app.url(&format!("/studies/{uid}/review")))
            .header("Authorization", alice.bearer())
            .json(&serde_json::json!({ "label": label }))
            .send()
            .await
            .unwrap();
        ok_json(review, 200).await;
        reviewed.push(uid);
    }
    // An analysed study nobody reviewed is not part of the ground truth.
    analysed(&app, &alice, "ct-two-studies-pacs.zip").await;

    let form = Form::new()
        .text("source", "reviews")
        .text("threshold", "0.25");
    let e = ok_json(app.post_form("/evaluations", &alice, form).await, 201).await;
    assert_eq!(
        (
            e["n"].as_u64(),
            e["positives"].as_u64(),
            e["negatives"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{e}"
    );
    assert_eq!(e["auc"], 1.0, "{e}");
    assert_eq!(e["unmatched_labels"], serde_json::json!([]), "{e}");

    // Bob has reviewed nothing: his reviews cannot be ground truth (and Alice's are not his).
    let bob = app.new_user().await;
    let response = app
        .post_form("/evaluations", &bob, Form::new().text("source", "reviews"))
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "reviews_not_available"
    );
}

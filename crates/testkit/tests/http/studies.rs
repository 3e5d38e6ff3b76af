//! The worklist, study detail, reviews and the audit trail over HTTP. Studies are seeded
//! through the application's store ports (jobs created and completed as the dispatcher
//! would), except in the upload test, which goes through the real upload and analysis.

use reqwest::Response;
use serde_json::{Value, json};
use triage_domain::{ReportRow, UserId};
use triage_testkit::contract::studies::{job_with, rows, succeed};
use triage_testkit::contract::users::Stores;
use triage_testkit::{Actor, TestApp, ok_json};

fn owner_of(actor: &Actor) -> UserId {
    actor.id.parse().unwrap()
}

/// The worklist rank mix of the store contract, for `actor`; returns the expected order.
async fn seed(app: &TestApp, actor: &Actor) -> Vec<String> {
    let stores = Stores::from_ports(app.app().ports());
    let owner = owner_of(actor);
    let all = ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.8"];
    let job = job_with(&stores, owner, 1, &all).await;
    let mut report = rows(&[
        ("1.1", &[0.6]),
        ("1.2", &[0.95]),
        ("1.3", &[0.2]),
        ("1.4", &[0.45]),
        ("1.6", &[0.7]),
        ("1.8", &[0.99]),
    ]);
    report.push(ReportRow {
        study_uid: Some("1.5".to_owned()),
        error: Some("broken".to_owned()),
        ..ReportRow::default()
    });
    succeed(&stores, job, 2, report).await;
    job_with(&stores, owner, 3, &["1.7"]).await; // pending
    let reviewed = review(
        app,
        actor,
        "1.8",
        json!({"label": "pathology", "agrees_with_ai": true}),
    )
    .await;
    assert_eq!(reviewed.status().as_u16(), 200);
    ["1.2", "1.6", "1.1", "1.5", "1.4", "1.3", "1.7", "1.8"]
        .map(str::to_owned)
        .to_vec()
}

async fn review(app: &TestApp, actor: &Actor, uid: &str, body: Value) -> Response {
    app.client
        .post(app.url(&format!("/studies/{uid}/review")))
        .header("Authorization", actor.bearer())
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn uids(app: &TestApp, actor: &Actor, query: &str) -> Vec<String> {
    let page = ok_json(app.get(&format!("/studies?{query}"), actor).await, 200).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["study_uid"].as_str().unwrap().to_owned())
        .collect()
}

async fn field_error(response: Response) -> String {
    let body = ok_json(response, 422).await;
    assert_eq!(body["code"], "validation_failed", "{body}");
    body["fields"][0]["field"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_worklist_orders_filters_and_pages() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let expected = seed(&app, &alice).await;
    assert_eq!(uids(&app, &alice, "").await, expected);

    let page = ok_json(app.get("/studies?limit=1", &alice).await, 200).await;
    let item = &page["items"][0];
    assert_eq!(item["study_uid"], "1.2");
    assert_eq!(item["status"], "analysed");
    assert_eq!(item["probability_of_pathology"], 0.95);
    assert_eq!(item["pathology"], true);
    assert_eq!(item["most_dangerous_pathology_type"], "finding 0");
    assert_eq!(item["series_count"], 2);
    assert_eq!(item["source"], "upload");
    assert_eq!(item["reviewed"], false);
    assert!(item["review"].is_null());
    assert!(item["job_id"].is_string() && item["received_at"].is_string());
    let reviewed = ok_json(app.get("/studies?reviewed=true", &alice).await, 200).await;
    assert_eq!(reviewed["items"][0]["review"]["label"], "pathology");
    assert_eq!(
        reviewed["items"][0]["review"]["reviewer"],
        alice.username.as_str()
    );

    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(uids(&app, &alice, "status=failed").await, s(&["1.5"]));
    assert_eq!(uids(&app, &alice, "status=pending").await, s(&["1.7"]));
    assert_eq!(
        uids(&app, &alice, "pathology=true").await,
        s(&["1.2", "1.6", "1.1", "1.8"])
    );
    assert_eq!(uids(&app, &alice, "reviewed=false").await.len(), 7);
    assert_eq!(uids(&app, &alice, "finding=finding%200").await.len(), 6);
    assert_eq!(
        uids(&app, &alice, "received_from=2030-01-02T03:04:08.123456Z").await,
        s(&["1.7"])
    );
    assert_eq!(
        uids(&app, &alice, "received_to=2030-01-02T03:04:07.123456Z")
            .await
            .len(),
        7
    );
    assert_eq!(
        uids(&app, &alice, "source=dicom").await,
        Vec::<String>::new()
    );
    assert_eq!(uids(&app, &alice, "q=1.3").await, s(&["1.3"]));

    // Pages of two while studies keep arriving: nothing skipped, nothing repeated.
    let stores = Stores::from_ports(app.app().ports());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for round in 0.. {
        let path = match &cursor {
            Some(c) => format!("/studies?limit=2&cursor={c}"),
            None => "/studies?limit=2".to_owned(),
        };
        let page = ok_json(app.get(&path, &alice).await, 200).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["study_uid"].as_str().unwrap().to_owned()),
        );
        job_with(
            &stores,
            owner_of(&alice),
            10 + round,
            &[&format!("2.{round}")],
        )
        .await;
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let originals: Vec<String> = seen
        .iter()
        .filter(|u| u.starts_with("1."))
        .cloned()
        .collect();
    assert_eq!(originals, expected);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");

    for (query, field) in [
        ("cursor=zz", "cursor"),
        ("cursor=3130", "cursor"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("status=done", "status"),
        ("pathology=maybe", "pathology"),
        ("reviewed=1x", "reviewed"),
        ("received_from=yesterday", "received_from"),
        ("received_to=2030-13-01", "received_to"),
        ("source=pacs", "source"),
        ("q=abc", "q"),
        ("owner=nobody", "owner"),
    ] {
        let response = app.get(&format!("/studies?{query}"), &alice).await;
        assert_eq!(field_error(response).await, field, "{query}");
    }
}

#[tokio::test]
async fn another_users_study_is_not_found_and_admins_see_everyone() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    let admin = app.new_admin().await;
    seed(&app, &alice).await;

    assert!(uids(&app, &mallory, "").await.is_empty());
    for path in ["/studies/1.2", "/api/studies/1.2", "/studies/1.2?owner=x"] {
        let response = app.get(path, &mallory).await;
        let status = response.status().as_u16();
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    assert_eq!(
        app.get("/studies/1.2", &mallory).await.status().as_u16(),
        404
    );
    assert_eq!(app.get("/studies/9.9", &alice).await.status().as_u16(), 404);
    assert_eq!(
        app.get("/studies/not-a-uid", &alice)
            .await
            .status()
            .as_u16(),
        404
    );
    let refused = review(&app, &mallory, "1.2", json!({"label": "normal"})).await;
    assert_eq!(refused.status().as_u16(), 404);
    // A user's `?owner=` cannot reach someone else's study.
    let sneaky = app
        .get(&format!("/studies/1.2?owner={}", alice.id), &mallory)
        .await;
    assert_eq!(sneaky.status().as_u16(), 404);
    assert!(
        uids(&app, &mallory, &format!("owner={}", alice.id))
            .await
            .is_empty()
    );

    assert_eq!(uids(&app, &admin, "").await.len(), 8);
    assert_eq!(
        uids(&app, &admin, &format!("owner={}", mallory.id))
            .await
            .len(),
        0
    );
    assert_eq!(
        uids(&app, &admin, &format!("owner={}", alice.id))
            .await
            .len(),
        8
    );
    let detail = ok_json(app.get("/studies/1.2", &admin).await, 200).await;
    assert_eq!(detail["owner_id"], alice.id.as_str());
    let by_admin = review(
        &app,
        &admin,
        "1.2",
        json!({"label": "normal", "note": "ok"}),
    )
    .await;
    assert_eq!(by_admin.status().as_u16(), 200);
}

#[tokio::test]
async fn reviews_replace_keep_history_sink_and_are_audited() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let admin = app.new_admin().await;
    seed(&app, &alice).await;

    let bad = review(&app, &alice, "1.2", json!({"label": "maybe"})).await;
    assert_eq!(field_error(bad).await, "label");
    let first = ok_json(
        review(
            &app,
            &alice,
            "1.2",
            json!({"label": "normal", "agrees_with_ai": false, "note": "артефакт"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(first["reviewed"], true);
    assert_eq!(first["review"]["agrees_with_ai"], false);
    let order = uids(&app, &alice, "").await;
    assert_eq!(order.first().map(String::as_str), Some("1.6"));
    assert!(
        order.ends_with(&["1.8".to_owned(), "1.2".to_owned()])
            || order.ends_with(&["1.2".to_owned(), "1.8".to_owned()])
    );
    ok_json(
        review(&app, &alice, "1.2", json!({"label": "pathology"})).await,
        200,
    )
    .await;

    let detail = ok_json(
        app.client
            .get(app.url("/studies/1.2"))
            .header("Authorization", alice.bearer())
            .header("X-Request-Id", "audit-probe-1")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(detail["review"]["label"], "pathology");
    let history: Vec<&str> = detail["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["pathology", "normal"]);
    assert_eq!(detail["analyses"].as_array().unwrap().len(), 1);
    assert_eq!(detail["series"].as_array().unwrap().len(), 1);

    assert_eq!(app.get("/audit", &alice).await.status().as_u16(), 403);
    let audit = ok_json(
        app.get(&format!("/audit?study=1.2&user={}", alice.id), &admin)
            .await,
        200,
    )
    .await;
    let items = audit["items"].as_array().unwrap();
    let actions: Vec<&str> = items
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["study.detail", "study.review", "study.review"]);
    assert_eq!(items[0]["request_id"], "audit-probe-1");
    assert_eq!(items[0]["client_addr"], "127.0.0.1");
    assert_eq!(items[0]["username"], alice.username.as_str());
    let page = ok_json(
        app.get("/audit?limit=1&action=study.review", &admin).await,
        200,
    )
    .await;
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = ok_json(
        app.get(
            &format!("/audit?limit=5&action=study.review&cursor={next}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    // Reviews of 1.8 (seed), 1.2 twice: three in all, one on the first page.
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    assert_ne!(rest["items"][0]["id"], page["items"][0]["id"]);
    let bad = app.get("/audit?cursor=xyz", &admin).await;
    assert_eq!(field_error(bad).await, "cursor");
}

#[tokio::test]
async fn an_analysed_upload_becomes_a_study() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let job = ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
    let pending = ok_json(app.get("/studies", &alice).await, 200).await;
    assert_eq!(pending["items"].as_array().unwrap().len(), 1);
    assert_eq!(pending["items"][0]["status"], "pending");
    app.dispatch().await;
    let page = ok_json(app.get("/studies", &alice).await, 200).await;
    let study = &page["items"][0];
    assert_eq!(study["status"], "analysed", "{study}");
    assert_eq!(study["job_id"], job["id"]);
    assert_eq!(study["pathology"], false);
    assert!(study["series_count"].as_u64().unwrap() >= 1);
    assert!(
        study["modalities"]
            .as_array()
            .unwrap()
            .contains(&json!("CT"))
    );
    let uid = study["study_uid"].as_str().unwrap();
    let detail = ok_json(app.get(&format!("/studies/{uid}"), &alice).await, 200).await;
    assert_eq!(detail["series"].as_array().unwrap().len(), 1);
    assert_eq!(detail["analyses"][0]["job_id"], job["id"]);

    let id = job["id"].as_str().unwrap();
    ok_json(app.get(&format!("/jobs/{id}/results"), &alice).await, 200).await;
    let report = app.get(&format!("/jobs/{id}/results.xlsx"), &alice).await;
    assert_eq!(report.status().as_u16(), 200);
    let admin = app.new_admin().await;
    let audit = ok_json(app.get(&format!("/audit?job={id}"), &admin).await, 200).await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["job.report", "job.results"]);
}

#[tokio::test]
async fn the_same_upload_is_analysed_once_unless_reanalyse_is_asked() {
    use reqwest::multipart::{Form, Part};
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let bytes = std::fs::read(triage_testkit::fixture("ct-normal.zip")).unwrap();
    let first = ok_json(app.upload(&alice, "a.zip", bytes.clone()).await, 201).await;
    let report = app.dispatch().await;
    assert_eq!(report.completed, 1, "{report:?}");

    // Same content, profile and threshold: no handover to the analysis at all.
    let second = ok_json(app.upload(&alice, "b.zip", bytes.clone()).await, 201).await;
    assert_eq!(second["status"], "succeeded", "{second}");
    let reason = second["status_reason"].as_str().unwrap();
    assert!(reason.contains(first["id"].as_str().unwrap()), "{reason}");
    let report = app.dispatch().await;
    assert_eq!((report.claimed, report.completed), (0, 0), "{report:?}");
    let (app_ref, alice_ref) = (&app, &alice);
    let results = |id: &Value| {
        let path = format!("/jobs/{}/results", id.as_str().unwrap());
        async move { ok_json(app_ref.get(&path, alice_ref).await, 200).await["results"].clone() }
    };
    assert_eq!(results(&first["id"]).await, results(&second["id"]).await);
    let xlsx = app
        .get(
            &format!("/jobs/{}/results.xlsx", second["id"].as_str().unwrap()),
            &alice,
        )
        .await;
    assert_eq!(xlsx.status().as_u16(), 200);
    // Deleting the first job leaves the second's report in place.
    let deleted = app
        .client
        .delete(app.url(&format!("/jobs/{}", first["id"].as_str().unwrap())))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let xlsx = app
        .get(
            &format!("/jobs/{}/results.xlsx", second["id"].as_str().unwrap()),
            &alice,
        )
        .await;
    assert_eq!(xlsx.status().as_u16(), 200);

    // A different threshold is a different analysis; so is reanalyse=true.
    let form = Form::new()
        .part("file", Part::bytes(bytes.clone()).file_name("c.zip"))
        .text("reanalyse", "true");
    let third = ok_json(app.post_form("/jobs", &alice, form).await, 201).await;
    assert_eq!(third["status"], "queued");
    let report = app.dispatch().await;
    assert_eq!(report.completed, 1, "{report:?}");
    let form = Form::new()
        .part("file", Part::bytes(bytes).file_name("d.zip"))
        .text("reanalyse", "perhaps");
    let refused = app.post_form("/jobs", &alice, form).await;
    assert_eq!(field_error(refused).await, "reanalyse");
    // Another user's identical upload is analysed for them.
    let bob = app.new_user().await;
    let theirs = ok_json(app.upload_fixture(&bob, "ct-normal.zip").await, 201).await;
    assert_eq!(theirs["status"], "queued");
}

/// Data rows (below the header) of an XLSX body, as read by calamine, and the header.
async fn xlsx_rows(response: Response) -> (Vec<String>, Vec<Vec<String>>) {
    use calamine::{Reader, Xlsx};
    assert_eq!(response.status().as_u16(), 200);
    let bytes = response.bytes().await.unwrap().to_vec();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let mut rows = sheet
        .rows()
        .map(|row| row.iter().map(ToString::to_string).collect::<Vec<_>>());
    let header = rows.next().unwrap();
    (header, rows.collect())
}

#[tokio::test]
async fn the_worklist_exports_as_one_report_row_per_series() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let mallory = app.new_user().await;
    seed(&app, &alice).await;
    let (header, rows) = xlsx_rows(app.get("/studies.xlsx", &alice).await).await;
    assert_eq!(header[0], "path_to_study");
    let uid = header.iter().position(|h| h == "study_uid").unwrap();
    let mut uids: Vec<&str> = rows.iter().map(|r| r[uid].as_str()).collect();
    uids.sort_unstable();
    // Every finished study's series (1.5's failed one included); pending 1.7 has none.
    assert_eq!(uids, ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.8"]);
    let (_, sick) = xlsx_rows(app.get("/studies.xlsx?pathology=true", &alice).await).await;
    assert_eq!(sick.len(), 4);
    let (_, none) = xlsx_rows(app.get("/studies.xlsx", &mallory).await).await;
    assert!(none.is_empty());
    let bad = app.get("/studies.xlsx?status=done", &alice).await;
    assert_eq!(field_error(bad).await, "status");
}

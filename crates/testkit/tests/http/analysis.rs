//! The embedded defaults end to end: uploads analysed by the in-process engine, results over
//! HTTP, with no other service.

use std::io::{Read, Write};

use serde_json::Value;
use triage_testkit::{Actor, TestApp, fixture, ok_json};

async fn analysed(app: &TestApp, alice: &Actor, name: &str, bytes: Vec<u8>) -> Value {
    let job = ok_json(app.upload(alice, name, bytes).await, 201).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let report = app.dispatch().await;
    assert_eq!(report.completed, 1, "{name}: {report:?}");
    let job = ok_json(app.get(&format!("/jobs/{id}"), alice).await, 200).await;
    assert_eq!(job["status"], "succeeded", "{name}: {job}");
    let results = ok_json(
        app.get(&format!("/api/jobs/{id}/results"), alice).await,
        200,
    )
    .await;
    results["results"].clone()
}

fn rows(results: &Value) -> &Vec<Value> {
    results["rows"].as_array().unwrap()
}

#[tokio::test]
async fn the_fixtures_are_analysed_in_process() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let read = |name| std::fs::read(fixture(name)).unwrap();

    let normal = analysed(&app, &alice, "ct-normal.zip", read("ct-normal.zip")).await;
    assert_eq!(rows(&normal).len(), 1);
    let row = &rows(&normal)[0];
    assert_eq!(row["pathology"], false, "{row}");
    assert!(
        row["probability_of_pathology"].as_f64().unwrap() < 0.25,
        "{row}"
    );
    assert_eq!(row["processing_status"], "Success");

    for sick in ["ct-emphysema.zip", "ct-opacity.zip"] {
        let results = analysed(&app, &alice, sick, read(sick)).await;
        let row = &rows(&results)[0];
        assert_eq!(row["pathology"], true, "{sick}: {row}");
        assert!(row["probability_of_pathology"].as_f64().unwrap() >= 0.25);
    }

    let pacs = analysed(&app, &alice, "pacs.zip", read("ct-two-studies-pacs.zip")).await;
    let mut found: Vec<(String, String)> = rows(&pacs)
        .iter()
        .map(|r| {
            assert_eq!(r["processing_status"], "Success", "{r}");
            (
                r["study_uid"].as_str().unwrap().to_owned(),
                r["series_uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut expected = uids_in(&fixture("ct-two-studies-pacs.zip"));
    expected.sort();
    assert_eq!(found, expected);
    assert_ne!(found[0].0, found[1].0, "two studies");
}

#[tokio::test]
async fn a_bad_series_fails_alone_and_the_report_downloads() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    // A whole CT series next to ten slices of another: too few to analyse.
    let mut entries = entries_of(&fixture("ct-normal.zip"));
    let short: Vec<_> = entries_of(&fixture("ct-emphysema.zip"))
        .into_iter()
        .take(10)
        .map(|(name, bytes)| (format!("short/{name}"), bytes))
        .collect();
    entries.extend(short);
    let results = analysed(&app, &alice, "mixed.zip", zip_of(&entries)).await;
    let mut statuses: Vec<&str> = rows(&results)
        .iter()
        .map(|r| r["processing_status"].as_str().unwrap())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["Failure", "Success"]);
    let failure = rows(&results)
        .iter()
        .find(|r| r["processing_status"] == "Failure")
        .unwrap();
    assert!(
        !failure["error"].as_str().unwrap_or_default().is_empty(),
        "{failure}"
    );

    let list = ok_json(app.get("/jobs", &alice).await, 200).await;
    let id = list[0]["id"].as_str().unwrap();
    let xlsx = app.get(&format!("/jobs/{id}/results.xlsx"), &alice).await;
    assert_eq!(xlsx.status(), 200);
    let bytes = xlsx.bytes().await.unwrap();
    let parsed = triage_report::parse(&bytes, Some(0.25), chrono::Utc::now()).unwrap();
    assert_eq!(parsed.rows.len(), 2);
}

/// Every (study, series) pair in a ZIP of DICOM files, read from the headers by the archive
/// crate's inventory.
fn uids_in(path: &std::path::Path) -> Vec<(String, String)> {
    let inventory = triage_archive::inspect(path, &triage_archive::Limits::default()).unwrap();
    inventory
        .dicom
        .studies
        .iter()
        .flat_map(|study| {
            study
                .series
                .iter()
                .map(|series| (study.study_uid.clone(), series.series_uid.clone()))
        })
        .collect()
}

fn entries_of(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().unwrap().into_owned(), bytes)
        })
        .filter(|(name, _)| !name.ends_with('/'))
        .collect()
}

fn zip_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = zip::ZipWriter::new(&mut out);
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, bytes) in entries {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();
    out.into_inner()
}

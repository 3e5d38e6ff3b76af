//! `triage submit` against the real `triage serve` (embedded defaults in a temp dir): the
//! combined report has the same rows as `triage analyse` on the same tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::{Process, free_port, http_client, sign_up, tree, wait_healthy};
use triage_batch::Format;
use triage_report::SeriesRow;

const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";
const PASSWORD: &str = "correct horse";

async fn start_server(dir: &Path) -> (Process, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("serve")
        .env("TRIAGE_CONFIG_DIR", dir.join("no-config"))
        .env("TRIAGE_ENV", "test")
        .env("TRIAGE__DATA_DIR", dir.join("data"))
        .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TRIAGE__SERVER__WORKERS", "2")
        .env("TRIAGE__AUTH__JWT_SECRET", SECRET)
        .env("TRIAGE__ML__POLL_INTERVAL_MS", "50")
        .env_remove("DATABASE_URL")
        .env_remove("MINIO_ENDPOINT")
        .env_remove("ML_SERVICE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&http_client(), &base).await;
    (Process(child), base)
}

fn triage(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_triage"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("TRIAGE_TOKEN");
    command
}

fn show(output: Output) -> Output {
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

/// Everything but the timing, which differs from run to run.
fn comparable(rows: &[SeriesRow]) -> BTreeSet<String> {
    rows.iter()
        .map(|r| {
            format!(
                "{} | {} | {} | {:?} | {:?} | {:?} | {:?} | {:?}",
                r.path_to_study,
                r.study_uid,
                r.series_uid,
                r.probability_of_pathology.map(|p| (p * 1e9).round()),
                r.pathology,
                r.processing_status,
                r.most_dangerous_pathology_type,
                r.error
            )
        })
        .collect()
}

#[tokio::test]
async fn submit_gives_the_same_rows_as_analyse() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_server(dir.path()).await;
    let token = sign_up(&http_client(), &base, PASSWORD).await;
    tree::mixed(dir.path());

    let submitted = show(
        triage(
            dir.path(),
            &["submit", "tree", "--server", &base, "-o", "submitted.xlsx"],
        )
        .args(["--profile", "fast_debug", "-j", "2"])
        .env("TRIAGE_TOKEN", &token)
        .output()
        .unwrap(),
    );
    assert_eq!(submitted.status.code(), Some(2), "some inputs are bad");
    let stdout = String::from_utf8_lossy(&submitted.stdout);
    assert!(
        stdout.contains("| failed             |          5 |"),
        "{stdout}"
    );

    let analysed = show(
        triage(
            dir.path(),
            &[
                "analyse",
                "tree",
                "-o",
                "analysed.xlsx",
                "--profile",
                "fast_debug",
            ],
        )
        .output()
        .unwrap(),
    );
    assert_eq!(analysed.status.code(), Some(2));

    let read =
        |name: &str| triage_batch::output::read(&dir.path().join(name), Format::Xlsx).unwrap();
    let (submitted, analysed) = (read("submitted.xlsx"), read("analysed.xlsx"));
    assert_eq!(submitted.len(), 5 + tree::FAILURES.len());
    assert_eq!(comparable(&submitted), comparable(&analysed));
}

#[tokio::test]
async fn login_prompt_reads_the_password_and_a_wrong_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start_server(dir.path()).await;
    sign_up(&http_client(), &base, PASSWORD).await;
    let zip = triage_testkit::fixture("ct-normal.zip");
    let run = |password: &str| {
        let mut child = triage(
            dir.path(),
            &[
                "submit",
                zip.to_str().unwrap(),
                "--server",
                &base,
                "-o",
                "r.json",
            ],
        )
        .args(["--username", "radiologist", "--profile", "fast_debug"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        show(child.wait_with_output().unwrap())
    };

    let refused = run("wrong password");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("login refused"));

    let accepted = run(PASSWORD);
    assert_eq!(accepted.status.code(), Some(0), "every study succeeded");
    let rows = triage_batch::output::read(&dir.path().join("r.json"), Format::Json).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].processing_status,
        triage_report::ProcessingStatus::Success
    );
}

//! WebSocket fan-out benchmark (run by `benches/ws.sh`, `just bench-ws`).
//!
//! `ws_bench <base-url> <watchers> <rounds> [server-pid]` against a running server whose
//! dispatcher is off: per round it uploads a study, opens `watchers` anonymous sockets on
//! `/api/ws/jobs/{id}` (as the old frontend does) and waits for every snapshot, then cancels the
//! job over HTTP and records, per watcher, the time from just before the cancel request until
//! its `cancelled` frame arrived (followed by close 1000). Prints one line per round and a
//! `RESULT` line over all rounds: p50/p99 of those times and the last watcher's (max), the
//! server's RSS with every socket open (from `/proc/<pid>/status`), and the connect time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::{StreamExt, stream};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Sockets being opened at once (the server's listen backlog is 2048).
const CONNECTING: usize = 256;
const WAIT: Duration = Duration::from_secs(120);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args
        .get(1)
        .expect("base url")
        .trim_end_matches('/')
        .to_owned();
    let watchers: usize = args.get(2).map_or(10_000, |n| n.parse().unwrap());
    let rounds: usize = args.get(3).map_or(3, |n| n.parse().unwrap());
    let pid: Option<u32> = args.get(4).map(|pid| pid.parse().unwrap());

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token = login(&http, &base).await;
    let archive = std::fs::read(triage_testkit::fixture("ct-normal.zip")).unwrap();

    let mut all = Vec::new();
    let mut last = Duration::ZERO;
    let mut peak_rss = 0;
    let mut connect_secs = 0.0f64;
    for round in 1..=rounds {
        let id = upload(&http, &base, &token, archive.clone()).await;
        let url = format!("{}/api/ws/jobs/{id}", base.replacen("http", "ws", 1));

        let started = Instant::now();
        let sockets: Vec<Ws> = stream::iter(0..watchers)
            .map(|_| open(&url))
            .buffer_unordered(CONNECTING)
            .collect()
            .await;
        let connected = started.elapsed();
        connect_secs = connect_secs.max(connected.as_secs_f64());
        let rss = pid.map_or(0, rss_kib);
        peak_rss = peak_rss.max(rss);

        let readers: Vec<_> = sockets
            .into_iter()
            .map(|ws| tokio::spawn(await_terminal(ws)))
            .collect();
        // Let every reader park on its socket before the clock starts.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t0 = Instant::now();
        let res = http
            .post(format!("{base}/jobs/{id}/cancel"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let mut latencies = Vec::with_capacity(watchers);
        for reader in readers {
            latencies.push(reader.await.unwrap() - t0);
        }
        latencies.sort();
        let round_last = *latencies.last().unwrap();
        last = last.max(round_last);
        println!(
            "round {round}: {watchers} watchers connected in {:.2} s, server RSS {} MiB; \
             cancel → frame p50 {:.1} ms, p99 {:.1} ms, last {:.1} ms",
            connected.as_secs_f64(),
            rss / 1024,
            ms(percentile(&latencies, 50)),
            ms(percentile(&latencies, 99)),
            ms(round_last),
        );
        all.extend(latencies);
    }
    all.sort();
    println!(
        "RESULT watchers={watchers} rounds={rounds} p50_ms={:.1} p99_ms={:.1} last_ms={:.1} rss_mib={} connect_s={connect_secs:.2}",
        ms(percentile(&all, 50)),
        ms(percentile(&all, 99)),
        ms(last),
        peak_rss / 1024,
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn login(http: &reqwest::Client, base: &str) -> String {
    let username = format!("bench_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let body = json!({"username": username, "password": "bench-password"});
    let res = http
        .post(format!("{base}/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = http
        .post(format!("{base}/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let login: Value = res.json().await.unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

async fn upload(http: &reqwest::Client, base: &str, token: &str, archive: Vec<u8>) -> String {
    let form = Form::new().part("file", Part::bytes(archive).file_name("ct-normal.zip"));
    let res = http
        .post(format!("{base}/jobs"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let job: Value = res.json().await.unwrap();
    job["id"].as_str().unwrap().to_owned()
}

/// Opens a socket (small buffers: there are thousands) and reads its snapshot.
async fn open(url: &str) -> Ws {
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio::time::timeout(WAIT, connect_async_with_config(url, Some(config), true))
            .await
            .expect("connected in time")
            .expect("handshake");
    let snapshot = next_frame(&mut ws).await;
    assert_eq!(snapshot["job"]["status"], "queued", "{snapshot}");
    ws
}

/// When the terminal frame arrived; then checks the close.
async fn await_terminal(mut ws: Ws) -> Instant {
    let frame = next_frame(&mut ws).await;
    let at = Instant::now();
    assert_eq!(frame["job"]["status"], "cancelled", "{frame}");
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Close(Some(close))))) => assert_eq!(u16::from(close.code), 1000),
        other => panic!("expected close 1000, got {other:?}"),
    }
    at
}

async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
        {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(text.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

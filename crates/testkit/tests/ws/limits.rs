//! Sockets without a token cost a client nothing to open, so they are capped per client
//! address (`ws.max_anonymous_per_client`) and in total (`ws.max_anonymous_total`).

use std::time::Instant;

use futures_util::SinkExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use triage_testkit::TestApp;
use uuid::Uuid;

use crate::client::{Auth, Socket, WAIT, spawn_with};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An anonymous socket on a job id, from `client` (as a trusted proxy would say).
async fn anonymous_from(app: &TestApp, client: &str) -> Result<Ws, Error> {
    let url = format!(
        "{}/api/ws/jobs/{}",
        app.base.replacen("http://", "ws://", 1),
        Uuid::new_v4()
    );
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("x-forwarded-for", client.parse().unwrap());
    let (ws, _) = tokio::time::timeout(WAIT, connect_async(request))
        .await
        .expect("handshake within the wait")?;
    Ok(ws)
}

/// The handshake was answered 429 `too_many_connections`.
fn assert_refused(result: Result<Ws, Error>) {
    match result {
        Err(Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body = response.body().as_deref().unwrap_or_default();
            let body: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(body["code"], "too_many_connections", "{body}");
        }
        Err(other) => panic!("expected a 429, got {other}"),
        Ok(_) => panic!("expected a 429, the socket opened"),
    }
}

#[tokio::test]
async fn anonymous_sockets_are_capped_per_client_and_in_total() {
    let app = spawn_with(|c| {
        c.server.trust_forwarded_for = true;
        c.ws.max_anonymous_per_client = 2;
        c.ws.max_anonymous_total = 3;
    })
    .await;
    let mut first_a = anonymous_from(&app, "192.0.2.1").await.unwrap();
    let _second_a = anonymous_from(&app, "192.0.2.1").await.unwrap();
    assert_refused(anonymous_from(&app, "192.0.2.1").await);

    let _first_b = anonymous_from(&app, "198.51.100.1").await.unwrap();
    // Three anonymous sockets are open: the total refuses a new client too.
    assert_refused(anonymous_from(&app, "198.51.100.2").await);

    // Sockets with a token are not capped by these limits.
    let alice = app.new_user().await;
    let path = format!("/api/ws/jobs/{}", Uuid::new_v4());
    let mut with_token = Socket::open(&app, &path, Auth::Query(&alice.token)).await;
    assert_eq!(with_token.frame().await["type"], "job.not_found");

    // A closed socket gives its slot back (once the server has seen the close).
    first_a.send(Message::Close(None)).await.unwrap();
    drop(first_a);
    let deadline = Instant::now() + WAIT;
    loop {
        match anonymous_from(&app, "198.51.100.2").await {
            Ok(_) => break,
            Err(_) if Instant::now() < deadline => tokio::task::yield_now().await,
            Err(err) => panic!("the slot never came back: {err}"),
        }
    }
}

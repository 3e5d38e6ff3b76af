//! [`RecordingProxy`]: a TCP proxy that logs the HTTP requests an adapter sends, and whether
//! the server has answered them.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::authority;

/// One request seen by the proxy, with the ticks at which it was sent and answered.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    sent: u64,
    answered: Option<u64>,
}

/// Every request, and a clock that ticks at every send and answer.
#[derive(Debug, Default)]
struct Record {
    seen: Vec<Seen>,
    clock: u64,
}

impl Record {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

type Log = Arc<Mutex<Record>>;

/// The request on a connection that waits for its answer (index into the log).
type Awaiting = Arc<Mutex<Option<usize>>>;

/// A TCP proxy in front of an S3 server that records the request line of every HTTP/1.1
/// request passing through it ("PUT /bucket/key?partNumber=1&uploadId=… HTTP/1.1") and
/// notes when the server starts answering it, so a test can see what an adapter sent —
/// including on servers that cannot list multipart uploads. Requests must carry
/// `Content-Length` bodies and must not be pipelined (rust-s3's are not).
pub struct RecordingProxy {
    /// `http://127.0.0.1:<port>`: use as the store's endpoint.
    pub endpoint: String,
    log: Log,
    accept: JoinHandle<()>,
    /// `true`: the server is "down" — live connections are cut, new ones closed at once.
    down: tokio::sync::watch::Sender<bool>,
}

impl RecordingProxy {
    /// Starts a proxy to `upstream` (an endpoint URL or `host:port`).
    pub async fn start(upstream: &str) -> RecordingProxy {
        Self::start_with(upstream, true).await
    }

    /// A proxy that only relays bytes (any protocol, e.g. PostgreSQL's), recording nothing:
    /// for [`RecordingProxy::set_down`] alone.
    pub async fn start_plain(upstream: &str) -> RecordingProxy {
        Self::start_with(upstream, false).await
    }

    async fn start_with(upstream: &str, record: bool) -> RecordingProxy {
        let upstream = authority(upstream);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let log = Log::default();
        let shared = Arc::clone(&log);
        let (down, is_down) = tokio::sync::watch::channel(false);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *is_down.borrow() {
                    drop(client);
                    continue;
                }
                let (upstream, log) = (upstream.clone(), Arc::clone(&shared));
                let mut cut = is_down.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    if !record {
                        let (mut client, mut server) = (client, server);
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.wait_for(|down| *down) => {}
                        }
                        return;
                    }
                    let (from_client, to_client) = client.into_split();
                    let (from_server, to_server) = server.into_split();
                    let awaiting = Awaiting::default();
                    let (log2, awaiting2) = (Arc::clone(&log), Arc::clone(&awaiting));
                    let answers = relay_answers(from_server, to_client, log2, awaiting2);
                    let requests = relay_requests(from_client, to_server, log, awaiting);
                    // Dropping both relays closes both sockets: the connection is cut.
                    tokio::select! {
                        _ = async { tokio::join!(answers, requests) } => {}
                        _ = cut.wait_for(|down| *down) => {}
                    }
                });
            }
        });
        RecordingProxy {
            endpoint,
            log,
            accept,
            down,
        }
    }

    /// Takes the "server" down (cutting every live connection and refusing new ones), or
    /// brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// The request lines seen so far, in order.
    pub fn requests(&self) -> Vec<String> {
        let log = self.log.lock().unwrap();
        log.seen.iter().map(|seen| seen.line.clone()).collect()
    }

    /// The upload ids of the multipart uploads the adapter worked on, in order of first use.
    pub fn upload_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for line in self.requests() {
            if let Some(id) = query_value(&line, "uploadId")
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    }

    /// Whether an AbortMultipartUpload for `upload_id` was sent and the server has answered
    /// it (with whatever status: the server's state tells whether it worked).
    pub fn aborted(&self, upload_id: &str) -> bool {
        let log = self.log.lock().unwrap();
        log.seen.iter().any(|seen| {
            seen.answered.is_some()
                && seen.line.starts_with("DELETE ")
                && query_value(&seen.line, "uploadId").as_deref() == Some(upload_id)
        })
    }
}

impl RecordingProxy {
    /// The most requests whose line contains `pattern` that were sent and not yet answered
    /// at the same time.
    pub fn max_open(&self, pattern: &str) -> usize {
        let log = self.log.lock().unwrap();
        let mut events: Vec<(u64, i64)> = Vec::new();
        for seen in log.seen.iter().filter(|seen| seen.line.contains(pattern)) {
            events.push((seen.sent, 1));
            events.push((seen.answered.unwrap_or(u64::MAX), -1));
        }
        events.sort_unstable();
        let (mut open, mut most) = (0i64, 0i64);
        for (_, change) in events {
            open += change;
            most = most.max(open);
        }
        usize::try_from(most).unwrap_or(0)
    }
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The value of `name` in the query of a request line.
fn query_value(line: &str, name: &str) -> Option<String> {
    let target = line.split(' ').nth(1)?;
    let (_, query) = target.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_owned())
    })
}

/// Copies client bytes to the server, parsing just enough HTTP/1.1 to log request lines.
async fn relay_requests(
    mut from_client: OwnedReadHalf,
    mut to_server: OwnedWriteHalf,
    log: Log,
    awaiting: Awaiting,
) {
    let (mut pending, mut body_left) = (Vec::<u8>::new(), 0usize);
    let mut chunk = vec![0; 64 * 1024];
    loop {
        loop {
            if body_left > 0 && !pending.is_empty() {
                let n = body_left.min(pending.len());
                if to_server.write_all(&pending[..n]).await.is_err() {
                    return;
                }
                pending.drain(..n);
                body_left -= n;
            } else if body_left == 0
                && let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n")
            {
                let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                body_left = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.trim().parse().ok())
                    .unwrap_or(0);
                {
                    // Logged before a byte of it reaches the server: any answer after this
                    // is the answer to it.
                    let mut log = log.lock().unwrap();
                    let line = head.lines().next().unwrap_or("").to_owned();
                    let sent = log.tick();
                    log.seen.push(Seen {
                        line,
                        sent,
                        answered: None,
                    });
                    *awaiting.lock().unwrap() = Some(log.seen.len() - 1);
                }
                if to_server.write_all(&pending[..end + 4]).await.is_err() {
                    return;
                }
                pending.drain(..end + 4);
            } else {
                break;
            }
        }
        match from_client.read(&mut chunk).await {
            Ok(0) | Err(_) => {
                let _ = to_server.shutdown().await;
                return;
            }
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Copies server bytes to the client, marking the request they answer.
async fn relay_answers(
    mut from_server: OwnedReadHalf,
    mut to_client: OwnedWriteHalf,
    log: Log,
    awaiting: Awaiting,
) {
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let n = match from_server.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let answered = awaiting.lock().unwrap().take();
        if let Some(index) = answered {
            let mut log = log.lock().unwrap();
            let now = log.tick();
            log.seen[index].answered = Some(now);
        }
        if to_client.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = to_client.shutdown().await;
}

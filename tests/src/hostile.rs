//! A hostile HTTP peer: a raw TCP server on 127.0.0.1 that answers each request with whatever
//! bytes a script says, at whatever pace: redirects, lying or absurd headers, bodies of any size,
//! trickles, garbage instead of HTTP, connections dropped mid-answer. It records every request
//! (method, target, headers, body), so a test can check what reached it, a token above all.
//!
//! The well-behaved peers (`workflows`, `fake_okta`) are held to Okta's documents; this one is
//! held to nothing, on purpose: it is what an endpoint, a proxy or a compromised host can send.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The request as text, to search for a token anywhere in it.
    pub fn text(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        format!(
            "{} {}\n{}\n{}",
            self.method,
            self.target,
            headers.join("\n"),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// What the peer does on one connection, in order; the connection is closed after the last.
#[derive(Debug, Clone)]
pub enum Step {
    Write(Vec<u8>),
    /// `chunk` written `times` times, as fast as the client reads.
    Repeat {
        chunk: Vec<u8>,
        times: usize,
    },
    Sleep(Duration),
}

/// The answer for a request: `attempt` counts this target's requests from 1.
pub type Script = dyn Fn(&Seen, u32) -> Vec<Step> + Send + Sync;

/// An HTTP response head with `connection: close`, and a body of `body`.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<Step> {
    let mut head = format!("HTTP/1.1 {status}\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    vec![Step::Write(bytes)]
}

/// 200 with an empty body.
pub fn ok() -> Vec<Step> {
    response("200 OK", &[], b"")
}

#[derive(Default)]
struct Shared {
    seen: Mutex<Vec<Seen>>,
    attempts: Mutex<HashMap<String, u32>>,
}

pub struct HostilePeer {
    address: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl HostilePeer {
    pub async fn start(
        script: impl Fn(&Seen, u32) -> Vec<Step> + Send + Sync + 'static,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let script: Arc<Script> = Arc::new(script);
        let accept = {
            let shared = shared.clone();
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (shared, script) = (shared.clone(), script.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, &shared, script.as_ref()).await;
                    });
                }
            })
        };
        Ok(Self {
            address,
            shared,
            accept,
        })
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared
            .seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }

    /// Requests whose target starts with `prefix`.
    pub fn seen_at(&self, prefix: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|seen| seen.target.starts_with(prefix))
            .collect()
    }
}

impl Drop for HostilePeer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// The most of a request head or body the peer reads: it only needs to record them.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

async fn serve(mut stream: TcpStream, shared: &Shared, script: &Script) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 || buffer.len() > MAX_REQUEST_BYTES {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST_BYTES);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    body.truncate(length);
    let seen = Seen {
        method,
        target: target.clone(),
        headers,
        body,
    };
    let attempt = {
        let mut attempts = shared.attempts.lock().map_err(|_| poisoned())?;
        let counter = attempts.entry(target).or_default();
        *counter += 1;
        *counter
    };
    shared
        .seen
        .lock()
        .map_err(|_| poisoned())?
        .push(seen.clone());
    for step in script(&seen, attempt) {
        match step {
            Step::Write(bytes) => stream.write_all(&bytes).await?,
            Step::Repeat { chunk, times } => {
                for _ in 0..times {
                    stream.write_all(&chunk).await?;
                }
            }
            Step::Sleep(pause) => tokio::time::sleep(pause).await,
        }
    }
    stream.shutdown().await
}

fn poisoned() -> std::io::Error {
    std::io::Error::other("a test thread panicked holding the peer's lock")
}

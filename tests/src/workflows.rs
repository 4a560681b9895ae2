//! A fake Okta Workflows API endpoint on 127.0.0.1 that records every request (path, headers,
//! body) and answers by script: 200, any status, 429 with or without `Retry-After`, a response
//! slower than the caller's timeout, or a connection reset.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// How the endpoint answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Status(u16),
    TooManyRequests {
        retry_after_seconds: Option<u64>,
    },
    /// Answers 200, but only after this long: past the caller's attempt timeout.
    Slow(Duration),
    /// Closes the connection without answering.
    Reset,
}

/// One request as received, and how it was answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    pub answer: Answer,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The request succeeded: a 2xx reached the caller in time.
    pub fn succeeded(&self) -> bool {
        self.answer == Answer::Ok
    }
}

type Script = Arc<dyn Fn(&str, &HashMap<String, String>) -> Answer + Send + Sync>;

pub struct WorkflowsEndpoint {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl WorkflowsEndpoint {
    /// Starts an endpoint answering 200 to everything until [`WorkflowsEndpoint::script`].
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Arc::new(|_, _| Answer::Ok)));
        let (shutdown, mut stopped) = oneshot::channel::<()>();
        let (log, rules) = (received.clone(), script.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let (log, rules) = (log.clone(), rules.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (log, rules) = (log.clone(), rules.clone());
                        async move { answer(request, &log, &rules).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            received,
            script,
            shutdown: Some(shutdown),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Decides each answer from the request's path and headers (lower-case names).
    pub fn script(
        &self,
        script: impl Fn(&str, &HashMap<String, String>) -> Answer + Send + Sync + 'static,
    ) {
        if let Ok(mut current) = self.script.lock() {
            *current = Arc::new(script);
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for WorkflowsEndpoint {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The error hyper turns into a closed connection: how a reset is served.
#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by the test's script")
    }
}

impl std::error::Error for ResetConnection {}

async fn answer(
    request: Request<Incoming>,
    log: &Mutex<Vec<Received>>,
    rules: &Mutex<Script>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let path = request.uri().to_string();
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_string(), value.to_str().ok()?.to_string()))
        })
        .collect();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let script = rules
        .lock()
        .map(|s| s.clone())
        .map_err(|_| ResetConnection)?;
    let chosen = script(&path, &headers);
    if let Ok(mut log) = log.lock() {
        log.push(Received {
            path,
            headers,
            body,
            answer: chosen,
        });
    }
    let respond = |status: u16, retry_after: Option<u64>| {
        let mut response = Response::new(Full::new(Bytes::from_static(br#"{"ok":true}"#)));
        *response.status_mut() =
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let Some(seconds) = retry_after
            && let Ok(value) = seconds.to_string().parse()
        {
            response.headers_mut().insert("retry-after", value);
        }
        response
    };
    match chosen {
        Answer::Ok => Ok(respond(200, None)),
        Answer::Status(status) => Ok(respond(status, None)),
        Answer::TooManyRequests {
            retry_after_seconds,
        } => Ok(respond(429, retry_after_seconds)),
        Answer::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Ok(respond(200, None))
        }
        Answer::Reset => Err(ResetConnection),
    }
}

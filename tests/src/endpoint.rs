//! A Workflows API endpoint stand-in that answers 200 at once and counts the TCP connections
//! it accepts (the relay should open one and keep it alive).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

pub struct CountingEndpoint {
    address: SocketAddr,
    connections: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    /// For each accepted connection, how many requests had been answered before it.
    opened_after: Arc<std::sync::Mutex<Vec<u64>>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl CountingEndpoint {
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (connections, requests) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (shutdown, mut stopped) = oneshot::channel::<()>();
        let (accepted, answered) = (connections.clone(), requests.clone());
        let opened_after = Arc::new(std::sync::Mutex::new(Vec::new()));
        let opened = opened_after.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                accepted.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut opened) = opened.lock() {
                    opened.push(answered.load(Ordering::Relaxed));
                }
                let answered = answered.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        answered.fetch_add(1, Ordering::Relaxed);
                        async move {
                            // Read the whole body, as a real endpoint would, before answering.
                            let _ = request.into_body().collect().await;
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                br#"{"ok":true}"#,
                            ))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            connections,
            requests,
            opened_after,
            shutdown: Some(shutdown),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// For each connection, the number of requests answered before it was opened.
    pub fn opened_after(&self) -> Vec<u64> {
        self.opened_after
            .lock()
            .map(|opened| opened.clone())
            .unwrap_or_default()
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for CountingEndpoint {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

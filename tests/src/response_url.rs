//! A stand-in for CloudFormation's pre-signed S3 `ResponseURL`: records each PUT (request line,
//! headers, JSON body) and can fail the first few with 500, to test retries.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::Value;

use crate::serve::{Served, serve};

/// One PUT as received: `"PUT /path?query"`, the headers, the body as JSON.
pub type Put = (String, HeaderMap, Value);

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Put>>>,
    failures: Arc<Mutex<u32>>,
}

pub struct ResponseUrl {
    shared: Shared,
    url: String,
    _served: Served,
}

impl ResponseUrl {
    /// Starts the server; the first `failures` PUTs are answered 500.
    pub async fn start(failures: u32) -> std::io::Result<Self> {
        let shared = Shared::default();
        if let Ok(mut left) = shared.failures.lock() {
            *left = failures;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        // Shaped like a pre-signed S3 URL: the query is the signature.
        let url = format!(
            "http://{}/cfn-responses/stack%7Cres?X-Amz-Signature=abc&X-Amz-Expires=7200",
            listener.local_addr()?
        );
        let app = Router::new().fallback(record).with_state(shared.clone());
        let served = serve(listener, app);
        Ok(Self {
            shared,
            url,
            _served: served,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn received(&self) -> Vec<Put> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.received().into_iter().map(|put| put.2).collect()
    }
}

async fn record(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Ok(mut received) = shared.received.lock() {
        received.push((format!("{method} {uri}"), headers, value));
    }
    match shared.failures.lock() {
        Ok(mut left) if *left > 0 => {
            *left -= 1;
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::OK,
    }
}

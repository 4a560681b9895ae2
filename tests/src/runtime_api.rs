//! A Lambda Runtime API (version 2018-06-01) on 127.0.0.1, for running the release function
//! binaries as Lambda runs them: the binary long-polls `next`, and posts a `response` or an
//! `error` per invocation.
//!
//! Why not cargo-lambda's emulator: it sends `Lambda-Runtime-Deadline-Ms: 600000` (a duration,
//! not the epoch timestamp Lambda sends), cannot report when a process first asked for work
//! (what a cold-start measurement needs), and costs a process per test.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{mpsc, oneshot};

use crate::serve::{Served, serve};

/// How an invocation ended, as the function reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Bytes),
    Error(Bytes),
    /// The function did not answer within the invocation's timeout.
    TimedOut,
}

/// How long an invocation waits for a free process before the caller gives up on it.
const NEVER_TAKEN: Duration = Duration::from_secs(900);

struct Pending {
    request_id: String,
    payload: Bytes,
    /// The function's timeout: the deadline is this long after a process takes the event, as
    /// Lambda starts the clock when the execution environment receives the invocation (AWS
    /// Lambda developer guide, "Using the Lambda runtime API for custom runtimes": `next`
    /// answers `Lambda-Runtime-Deadline-Ms`, "the date that the function times out").
    timeout: Duration,
    started: oneshot::Sender<()>,
}

#[derive(Default)]
struct Shared {
    first_next: Mutex<Option<Instant>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<String>>,
}

struct ServerState {
    shared: Arc<Shared>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
}

/// A running Runtime API, stopped when dropped.
pub struct RuntimeApi {
    address: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Pending>,
    sequence: AtomicU64,
    _served: Served,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (sender, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(ServerState {
            shared: shared.clone(),
            queue: tokio::sync::Mutex::new(receiver),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(state);
        let served = serve(listener, app);
        Ok(Self {
            address,
            shared,
            sender,
            sequence: AtomicU64::new(0),
            _served: served,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The environment Lambda gives a function process, pointing at this Runtime API.
    pub fn lambda_env(&self, function_name: &str) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address()),
            ("AWS_LAMBDA_FUNCTION_NAME", function_name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_REGION", crate::moto::REGION.to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Queues one invocation and waits for the function's answer, at most `timeout`
    /// (the function sees the matching deadline).
    pub async fn invoke(&self, payload: impl Into<Bytes>, timeout: Duration) -> Outcome {
        let request_id = format!(
            "00000000-0000-4000-8000-{:012}",
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        let (answer, answered) = oneshot::channel();
        if let Ok(mut waiting) = self.shared.waiting.lock() {
            waiting.insert(request_id.clone(), answer);
        }
        let (started, taken) = oneshot::channel();
        if self
            .sender
            .send(Pending {
                request_id,
                payload: payload.into(),
                timeout,
                started,
            })
            .is_err()
        {
            return Outcome::TimedOut;
        }
        // Every process busy: the invocation waits for one, and its timeout runs from then.
        if tokio::time::timeout(NEVER_TAKEN, taken).await.is_err() {
            return Outcome::TimedOut;
        }
        match tokio::time::timeout(timeout + Duration::from_secs(1), answered).await {
            Ok(Ok(outcome)) => outcome,
            _ => Outcome::TimedOut,
        }
    }

    /// When a function process first asked for work (`next`), if it has.
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.first_next.lock().ok().and_then(|first| *first)
    }

    /// Forgets the first `next`, to time the next process started against this API.
    pub fn reset_first_next(&self) {
        if let Ok(mut first) = self.shared.first_next.lock() {
            *first = None;
        }
    }

    /// What the function reported to `init/error`, if anything.
    pub fn init_error(&self) -> Option<String> {
        self.shared
            .init_error
            .lock()
            .ok()
            .and_then(|error| error.clone())
    }
}

async fn next(State(state): State<Arc<ServerState>>) -> Response {
    if let Ok(mut first) = state.shared.first_next.lock() {
        first.get_or_insert_with(Instant::now);
    }
    let Some(pending) = state.queue.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let deadline_ms = now_ms + pending.timeout.as_millis() as u64;
    let _ = pending.started.send(());
    set("lambda-runtime-aws-request-id", pending.request_id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:test".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
    );
    (StatusCode::OK, headers, pending.payload).into_response()
}

fn complete(state: &ServerState, request_id: &str, outcome: Outcome) -> StatusCode {
    let waiter = state
        .shared
        .waiting
        .lock()
        .ok()
        .and_then(|mut waiting| waiting.remove(request_id));
    match waiter {
        Some(waiter) => {
            let _ = waiter.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    complete(&state, &id, Outcome::Response(body))
}

async fn error(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    complete(&state, &id, Outcome::Error(body))
}

async fn init_error(State(state): State<Arc<ServerState>>, body: Bytes) -> StatusCode {
    if let Ok(mut error) = state.shared.init_error.lock() {
        *error = Some(String::from_utf8_lossy(&body).into_owned());
    }
    StatusCode::ACCEPTED
}

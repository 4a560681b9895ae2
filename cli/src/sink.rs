//! `okta-relay sink`: a local HTTP endpoint standing in for Workflows API endpoints. It prints
//! one line per request, records requests as JSON lines, and can answer chosen paths with an
//! error status to show retries and dead-lettering. It never prints or records client tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

#[derive(clap::Args)]
pub struct SinkArgs {
    /// Address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: SocketAddr,
    /// Append each request (path, relay headers, JSON body) to this file as a JSON line.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Answer a path with a status instead of 200, e.g. `/api/flo/broken/invoke=503`. Repeatable.
    #[arg(long = "fail", value_name = "PATH=STATUS", value_parser = parse_failure)]
    failures: Vec<(String, StatusCode)>,
}

fn parse_failure(text: &str) -> Result<(String, StatusCode), String> {
    let (path, status) = text.split_once('=').ok_or("expected PATH=STATUS")?;
    let status = status
        .parse::<u16>()
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok());
    match status {
        Some(status) if path.starts_with('/') => Ok((path.to_owned(), status)),
        _ => Err(format!(
            "`{text}`: expected PATH=STATUS with a path starting with / and a status 100-999"
        )),
    }
}

struct Sink {
    record: Option<Mutex<tokio::fs::File>>,
    failures: Vec<(String, StatusCode)>,
}

pub async fn run(args: SinkArgs) -> anyhow::Result<ExitCode> {
    let record = match &args.record {
        Some(path) => {
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .with_context(|| format!("cannot open {} for recording", path.display()))?;
            Some(Mutex::new(file))
        }
        None => None,
    };
    let sink = Arc::new(Sink {
        record,
        failures: args.failures,
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another sink running?", args.listen))?;
    println!("sink listening on http://{}", listener.local_addr()?);
    let app = Router::new().fallback(receive).with_state(sink);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn receive(
    State(sink): State<Arc<Sink>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let status = sink
        .failures
        .iter()
        .find(|(path, _)| path == uri.path())
        .map_or(StatusCode::OK, |(_, status)| *status);
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let relay = &payload["relay"];
    println!(
        "{} {} route={} uuid={} eventType={} attempt={} bytes={}",
        status.as_u16(),
        uri.path(),
        header("x-okta-relay-route").unwrap_or_default(),
        header("idempotency-key").unwrap_or_default(),
        relay["eventType"].as_str().unwrap_or("-"),
        header("x-okta-relay-attempt").unwrap_or_default(),
        body.len()
    );
    if let Some(record) = &sink.record {
        let line = json!({
            "path": uri.path(),
            "status": status.as_u16(),
            "route": header("x-okta-relay-route"),
            "idempotencyKey": header("idempotency-key"),
            "attempt": header("x-okta-relay-attempt"),
            "clientTokenPresent": headers.contains_key("x-api-client-token") || headers.contains_key("authorization")
                || uri.query().is_some_and(|query| query.contains("clientToken=")),
            "body": payload,
        });
        let mut file = record.lock().await;
        let _ = file.write_all(format!("{line}\n").as_bytes()).await;
    }
    (status, json!({"ok": status.is_success()}).to_string())
}

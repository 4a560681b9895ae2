//! A fake Okta Workflows API endpoint on 127.0.0.1 that records every request (path, headers,
//! body, arrival time) and answers by script: 200, any status, 429 with or without
//! `Retry-After`, a response slower than the caller's timeout, or a connection reset.
//!
//! As Okta documents its API endpoint flows (help.okta.com, "Workflows system limits" and
//! "Invoke a flow with an API endpoint"), a flow (a path, query left out) can be given:
//! - a **rate limit**: at most `per_second` invocations in any 1-second window, every request
//!   beyond answered 429. Okta does not document a `Retry-After` on that 429, so the fake sends
//!   one only when told to;
//! - a **run time**: the flow runs synchronously and the 200 comes when it has run;
//! - **OAuth 2.0 security** ("Invoke a flow with an API endpoint using OAuth 2.0"): an access token
//!   from the org authorization server ([`crate::authorization_server`]) with
//!   `okta.workflows.invoke.manage`, checked before the flow runs: expired or unknown tokens get
//!   `401` with a `WWW-Authenticate` challenge; a DPoP-bound token needs its proof (and, when
//!   the flow is set so, this server's nonce). Whether Workflows accepts DPoP-bound tokens is not
//!   documented; the fake serves both so the relay's per-client setting can be tested.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    pub at: Instant,
}

/// A flow's invocation limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowLimit {
    pub per_second: usize,
    pub retry_after_seconds: Option<u64>,
}

/// An OAuth-secured flow's checker.
#[derive(Clone)]
struct FlowSecurity {
    server: crate::authorization_server::AuthorizationServer,
    require_nonce: bool,
}

#[derive(Default)]
struct Flows {
    secured: HashMap<String, FlowSecurity>,
    limits: HashMap<String, FlowLimit>,
    run_times: HashMap<String, Duration>,
    /// Invocations each limited flow accepted, by arrival.
    accepted: HashMap<String, Vec<Instant>>,
}

/// A request's flow: its path without the query.
pub fn flow_of(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// The most arrivals any sliding 1-second window holds.
pub fn busiest_second(arrivals: &[Instant]) -> usize {
    let mut sorted = arrivals.to_vec();
    sorted.sort();
    let mut busiest = 0;
    let mut first = 0;
    for (last, at) in sorted.iter().enumerate() {
        while at.duration_since(sorted[first]) >= Duration::from_secs(1) {
            first += 1;
        }
        busiest = busiest.max(last + 1 - first);
    }
    busiest
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
    flows: Arc<Mutex<Flows>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl WorkflowsEndpoint {
    /// Starts an endpoint answering 200 to everything until [`WorkflowsEndpoint::script`].
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Arc::new(|_, _| Answer::Ok)));
        let flows = Arc::new(Mutex::new(Flows::default()));
        let (shutdown, mut stopped) = oneshot::channel::<()>();
        let (log, rules, limits) = (received.clone(), script.clone(), flows.clone());
        let base = format!("http://{address}");
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let (log, rules, limits) = (log.clone(), rules.clone(), limits.clone());
                let base = base.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (log, rules, limits) = (log.clone(), rules.clone(), limits.clone());
                        let base = base.clone();
                        async move { answer(request, &base, &log, &rules, &limits).await }
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
            flows,
            shutdown: Some(shutdown),
        })
    }

    /// Limits the flow at `path` to `limit.per_second` invocations in any 1-second window.
    pub fn limit_flow(&self, path: &str, limit: FlowLimit) {
        if let Ok(mut flows) = self.flows.lock() {
            flows.limits.insert(path.to_owned(), limit);
        }
    }

    /// Secures the flow at `path` with OAuth 2.0: tokens from `server`, DPoP nonces required when
    /// `require_nonce`.
    pub fn secure_flow(
        &self,
        path: &str,
        server: &crate::authorization_server::AuthorizationServer,
        require_nonce: bool,
    ) {
        if let Ok(mut flows) = self.flows.lock() {
            flows.secured.insert(
                path.to_owned(),
                FlowSecurity {
                    server: server.clone(),
                    require_nonce,
                },
            );
        }
    }

    /// The flow at `path` runs this long before it answers (Workflows runs an API endpoint
    /// flow synchronously).
    pub fn flow_runs_for(&self, path: &str, run_time: Duration) {
        if let Ok(mut flows) = self.flows.lock() {
            flows.run_times.insert(path.to_owned(), run_time);
        }
    }

    /// The most requests the flow at `path` received in any 1-second window, refused ones
    /// included.
    pub fn busiest_second(&self, path: &str) -> usize {
        let arrivals: Vec<Instant> = self
            .received()
            .iter()
            .filter(|r| flow_of(&r.path) == path)
            .map(|r| r.at)
            .collect();
        busiest_second(&arrivals)
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
    base: &str,
    log: &Mutex<Vec<Received>>,
    rules: &Mutex<Script>,
    flows: &Mutex<Flows>,
) -> Result<Response<Full<Bytes>>, ResetConnection> {
    let at = Instant::now();
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
    let (throttled, run_time, refused) = {
        let mut flows = flows.lock().map_err(|_| ResetConnection)?;
        let flow = flow_of(&path).to_owned();
        let refused = flows.secured.get(&flow).and_then(|security| {
            security
                .server
                .check(
                    "POST",
                    &format!("{base}{flow}"),
                    headers.get("authorization").map(String::as_str),
                    headers.get("dpop").map(String::as_str),
                    "okta.workflows.invoke.manage",
                    security.require_nonce,
                )
                .err()
        });
        let run_time = flows.run_times.get(&flow).copied();
        let throttled = match flows.limits.get(&flow).copied() {
            _ if refused.is_some() => None,
            Some(limit) => {
                let accepted = flows.accepted.entry(flow).or_default();
                accepted.retain(|earlier| at.duration_since(*earlier) < Duration::from_secs(1));
                if accepted.len() >= limit.per_second {
                    Some(Answer::TooManyRequests {
                        retry_after_seconds: limit.retry_after_seconds,
                    })
                } else {
                    accepted.push(at);
                    None
                }
            }
            None => None,
        };
        (throttled, run_time, refused)
    };
    if let Some(refusal) = refused {
        if let Ok(mut log) = log.lock() {
            log.push(Received {
                path,
                headers,
                body,
                answer: Answer::Status(refusal.status),
                at,
            });
        }
        let mut response = Response::new(Full::new(Bytes::from_static(b"")));
        *response.status_mut() =
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::UNAUTHORIZED);
        if let Ok(value) = refusal.challenge.parse() {
            response.headers_mut().insert("www-authenticate", value);
        }
        if let Some(nonce) = refusal.nonce.and_then(|nonce| nonce.parse().ok()) {
            response.headers_mut().insert("dpop-nonce", nonce);
        }
        return Ok(response);
    }
    let chosen = throttled.unwrap_or_else(|| script(&path, &headers));
    if let Ok(mut log) = log.lock() {
        log.push(Received {
            path,
            headers,
            body,
            answer: chosen,
            at,
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
        Answer::Ok => {
            if let Some(run_time) = run_time {
                tokio::time::sleep(run_time).await;
            }
            Ok(respond(200, None))
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_second_is_counted_over_sliding_windows() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!(busiest_second(&[]), 0);
        // Two per aligned second, but three within 0.9..1.8 s.
        let arrivals = [at(0), at(900), at(1000), at(1800), at(2500)];
        assert_eq!(busiest_second(&arrivals), 3);
        assert_eq!(busiest_second(&[at(0), at(1000), at(2000)]), 1);
    }
}

//! A stateful fake of Okta's Log Streams API on 127.0.0.1, faithful to Okta's OpenAPI contract:
//! every request it receives and every response it sends is checked against
//! `tests/fixtures/okta/` ([`crate::okta_contract`]); breaches are answered with Okta's 400 and
//! recorded, and tests assert there were none ([`FakeOkta::violations`]).
//!
//! Like Okta, creating an `aws_eventbridge` log stream creates the partner event source in AWS
//! (here: moto, through `CreatePartnerEventSource`), and deleting the stream deletes it.
//! Callers authenticate as Okta documents: an SSWS API token, or an OAuth 2.0 access token from
//! the org authorization server at `/oauth2/v1/token` ([`crate::authorization_server`]), checked
//! for the scope the contract's `security` names for the operation and, as Okta's Management
//! API does, for an admin role on the app (Log Streams changes need `SUPER_ADMIN`; reads any
//! admin role). DPoP-bound tokens must come with a proof carrying this server's nonce.
//! Faults are scripted per operation: any status, 429 with `X-Rate-Limit-Reset`, or Okta
//! deactivating a stream on its own.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::authorization_server::AuthorizationServer;
use crate::okta_contract::{Contract, Operation};
use crate::serve::{Served, serve};

/// When Okta's partner event source shows up in EventBridge after a stream is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerSources {
    After(Duration),
    Never,
}

#[derive(Debug, Clone)]
pub struct Fault {
    /// `operationId` the fault applies to (`createLogStream`), or every operation.
    pub operation: Option<String>,
    pub status: u16,
    /// For 429: seconds from now until Okta's rate limit resets.
    pub reset_in_seconds: Option<i64>,
    pub times: u32,
}

impl Fault {
    pub fn status(operation: &str, status: u16, times: u32) -> Self {
        Self {
            operation: Some(operation.into()),
            status,
            reset_in_seconds: None,
            times,
        }
    }

    pub fn rate_limited(operation: &str, reset_in_seconds: i64, times: u32) -> Self {
        Self {
            operation: Some(operation.into()),
            status: 429,
            reset_in_seconds: Some(reset_in_seconds),
            times,
        }
    }
}

/// One request as the fake saw it (never the Authorization header).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub operation: String,
    pub method: String,
    pub path: String,
    pub status: u16,
}

#[derive(Debug, Clone)]
struct Stream {
    id: String,
    name: String,
    /// `aws_eventbridge`, or `splunk_cloud_logstreaming` for one an admin added.
    kind: String,
    active: bool,
    settings: Value,
    created: String,
    last_updated: String,
}

struct Inner {
    token: String,
    /// The org's subdomain, part of the partner event source names Okta creates.
    subdomain: String,
    streams: Vec<Stream>,
    faults: VecDeque<Fault>,
    partner_sources: PartnerSources,
    max_page_size: usize,
    violations: Vec<String>,
    requests: Vec<Recorded>,
    next_id: u64,
    /// The System Log, oldest first.
    log_events: Vec<Value>,
    /// Events published but not yet in the System Log, and when they appear there (Okta: a
    /// bounded query "may miss events that arrive late").
    late_events: Vec<(chrono::DateTime<Utc>, Value)>,
    /// System Log rate limit: requests per window, and the window.
    log_rate_limit: (u32, i64),
    log_window: (i64, u32),
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    contract: Arc<Contract>,
    aws: Option<SdkConfig>,
    base: String,
    oauth: AuthorizationServer,
}

pub struct FakeOkta {
    shared: Shared,
    address: SocketAddr,
    _served: Served,
}

impl FakeOkta {
    /// Starts the fake; `aws` is moto's SDK configuration, where partner event sources appear.
    pub async fn start(token: &str, aws: Option<SdkConfig>) -> Result<Self, String> {
        let contract = Arc::new(Contract::load()?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|error| format!("fake Okta cannot bind: {error}"))?;
        let address = listener.local_addr().map_err(|error| error.to_string())?;
        let shared = Shared {
            inner: Arc::new(Mutex::new(Inner {
                token: token.into(),
                subdomain: "example".into(),
                streams: Vec::new(),
                faults: VecDeque::new(),
                partner_sources: PartnerSources::After(Duration::from_millis(300)),
                max_page_size: 200,
                violations: Vec::new(),
                requests: Vec::new(),
                next_id: 1,
                log_events: Vec::new(),
                late_events: Vec::new(),
                log_rate_limit: (1000, 60),
                log_window: (0, 0),
            })),
            contract,
            aws,
            base: format!("http://{address}"),
            oauth: AuthorizationServer::new(),
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let served = serve(listener, app);
        Ok(Self {
            shared,
            address,
            _served: served,
        })
    }

    /// The org authorization server: register service apps, read its counts.
    pub fn authorization_server(&self) -> AuthorizationServer {
        self.shared.oauth.clone()
    }

    /// The base URL to give the Okta client instead of the org URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        lock(&self.shared.inner)
    }

    pub fn inject(&self, fault: Fault) {
        self.inner().faults.push_back(fault);
    }

    /// The org's subdomain (default `example`, for `https://example.okta.com`).
    pub fn set_org_subdomain(&self, subdomain: &str) {
        self.inner().subdomain = subdomain.into();
    }

    pub fn set_partner_sources(&self, mode: PartnerSources) {
        self.inner().partner_sources = mode;
    }

    /// Okta's page size cap for listings, to exercise pagination with few streams.
    pub fn set_max_page_size(&self, size: usize) {
        self.inner().max_page_size = size.max(1);
    }

    /// What Okta does when the target stops acknowledging: deactivates the stream on its own.
    pub fn deactivate_out_of_band(&self, name: &str) {
        self.okta_gives_up_at(name, Utc::now());
    }

    /// Okta gave up on the target at `at`: the stream is inactive and the System Log has the
    /// `system.log_stream.lifecycle.deactivate` event by the Okta System.
    pub fn okta_gives_up_at(&self, name: &str, at: chrono::DateTime<Utc>) {
        self.deactivate_by(name, okta_system(), at);
    }

    /// A person deactivated the stream in the Admin Console at `at`.
    pub fn admin_deactivates(&self, name: &str, login: &str, at: chrono::DateTime<Utc>) {
        let admin = json!({"id": "00uadmin0000000000001", "type": "User", "alternateId": login,
                           "displayName": "Jane Admin"});
        self.deactivate_by(name, admin, at);
    }

    fn deactivate_by(&self, name: &str, actor: Value, at: chrono::DateTime<Utc>) {
        let mut inner = self.inner();
        let mut events = Vec::new();
        for stream in inner.streams.iter_mut().filter(|s| s.name == name) {
            stream.active = false;
            stream.last_updated = now();
            events.push(lifecycle_event(false, stream, actor.clone(), at));
        }
        add_log_events(&mut inner, events);
    }

    /// Events that are published now but appear in the System Log only after `delay`.
    pub fn seed_late_log_events(&self, events: impl IntoIterator<Item = Value>, delay: Duration) {
        let visible = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        self.inner()
            .late_events
            .extend(events.into_iter().map(|event| (visible, event)));
    }

    /// Adds a stream as if someone created it in the Admin Console (no partner source is made).
    pub fn seed_stream(&self, name: &str, settings: Value, active: bool) -> String {
        let mut inner = self.inner();
        let stream = new_stream(&mut inner, name, settings);
        let id = stream.id.clone();
        inner.streams.push(Stream { active, ..stream });
        id
    }

    /// Adds a Splunk Cloud stream, as an admin would in the Admin Console: it counts towards
    /// the org's two streams and holds its name across types.
    pub fn seed_splunk_stream(&self, name: &str) -> String {
        let mut inner = self.inner();
        let stream = new_stream(
            &mut inner,
            name,
            json!({"edition": "aws", "host": "acme.splunkcloud.com"}),
        );
        let id = stream.id.clone();
        inner.streams.push(Stream {
            kind: "splunk_cloud_logstreaming".into(),
            ..stream
        });
        id
    }

    /// `(id, name, status, settings)` of every stream.
    pub fn streams(&self) -> Vec<(String, String, &'static str, Value)> {
        self.inner()
            .streams
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    s.name.clone(),
                    status(s.active),
                    s.settings.clone(),
                )
            })
            .collect()
    }

    /// Adds events to the System Log (`published` decides the order and the windows they fall in).
    pub fn seed_log_events(&self, events: impl IntoIterator<Item = Value>) {
        add_log_events(&mut self.inner(), events);
    }

    /// The System Log's events, oldest first (those already visible).
    pub fn log_events(&self) -> Vec<Value> {
        let mut inner = self.inner();
        promote_late_events(&mut inner);
        inner.log_events.clone()
    }

    /// The System Log's rate limit: `requests` per window of `window_seconds`.
    pub fn set_log_rate_limit(&self, requests: u32, window_seconds: i64) {
        self.inner().log_rate_limit = (requests, window_seconds);
    }

    /// Every breach of the contract seen so far, requests and responses.
    pub fn violations(&self) -> Vec<String> {
        self.inner().violations.clone()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner().requests.clone()
    }
}

/// Late events whose time has come join the System Log.
fn promote_late_events(inner: &mut Inner) {
    let now = Utc::now();
    let (visible, late): (Vec<_>, Vec<_>) = std::mem::take(&mut inner.late_events)
        .into_iter()
        .partition(|(at, _)| *at <= now);
    inner.late_events = late;
    add_log_events(inner, visible.into_iter().map(|(_, event)| event));
}

fn add_log_events(inner: &mut Inner, events: impl IntoIterator<Item = Value>) {
    inner.log_events.extend(events);
    inner
        .log_events
        .sort_by(|a, b| a["published"].as_str().cmp(&b["published"].as_str()));
}

/// The actor of what Okta does on its own (Okta support: "When an event is done by the system,
/// it is logged to the System logs as Okta System (System Principal)").
fn okta_system() -> Value {
    json!({"id": "0oa1system0000000000", "type": "SystemPrincipal", "alternateId": "system@okta.com",
           "displayName": "Okta System"})
}

/// The user the fake's API token belongs to: whoever calls the API acts as them.
fn token_owner() -> Value {
    json!({"id": "00utokenowner0000001", "type": "User", "alternateId": "api-admin@example.com",
           "displayName": "API Admin"})
}

/// A `system.log_stream.lifecycle.activate` or `.deactivate` event for `stream`, as Okta writes
/// it to the System Log (Okta's "Log streaming": the lifecycle events are in the System Log).
fn lifecycle_event(
    activate: bool,
    stream: &Stream,
    actor: Value,
    at: chrono::DateTime<Utc>,
) -> Value {
    let kind = if activate { "activate" } else { "deactivate" };
    json!({
        "uuid": format!("lifecycle-{kind}-{}-{}", stream.id, at.timestamp_micros()),
        "published": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "eventType": format!("system.log_stream.lifecycle.{kind}"),
        "version": "0", "severity": "INFO",
        "displayMessage": format!("{kind} log stream"),
        "actor": actor,
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": stream.id, "type": "LogStream", "alternateId": stream.name, "displayName": stream.name}],
    })
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn status(active: bool) -> &'static str {
    if active { "ACTIVE" } else { "INACTIVE" }
}

fn new_stream(inner: &mut Inner, name: &str, settings: Value) -> Stream {
    let id = format!("0oa{:017}", inner.next_id);
    inner.next_id += 1;
    let stamp = now();
    Stream {
        id,
        name: name.into(),
        kind: "aws_eventbridge".into(),
        active: true,
        settings,
        created: stamp.clone(),
        last_updated: stamp,
    }
}

fn okta_error(
    status: StatusCode,
    code: &str,
    summary: &str,
    causes: &[String],
) -> (StatusCode, Value) {
    let causes: Vec<Value> = causes.iter().map(|c| json!({"errorSummary": c})).collect();
    (
        status,
        json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": format!("oae{}", Utc::now().timestamp_micros()),
            "errorCauses": causes,
        }),
    )
}

fn not_found(id: &str) -> (StatusCode, Value) {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (LogStream)"),
        &[],
    )
}

fn invalid(causes: &[String]) -> (StatusCode, Value) {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: logStream",
        causes,
    )
}

async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    if path == "/oauth2/v1/token" && method == Method::POST {
        let endpoint = format!("{}/oauth2/v1/token", shared.base);
        let dpop = headers.get("dpop").and_then(|value| value.to_str().ok());
        let (status, body, nonce) = shared.oauth.token(&endpoint, &body, dpop);
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        record(
            &mut lock(&shared.inner),
            "token",
            &method,
            &path,
            status.as_u16(),
        );
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(nonce) = nonce.and_then(|nonce| HeaderValue::from_str(&nonce).ok()) {
            response.headers_mut().insert("dpop-nonce", nonce);
        }
        response
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        return response;
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let Some(operation) = shared.contract.operation(method.as_str(), &path) else {
        let breach = format!("{method} {path} is not an operation of the contract");
        let mut inner = lock(&shared.inner);
        inner.violations.push(breach.clone());
        record(&mut inner, "unknown", &method, &path, 404);
        let (status, body) = okta_error(StatusCode::NOT_FOUND, "E0000022", &breach, &[]);
        return (status, axum::Json(body)).into_response();
    };
    let (status, body, extra) = answer(&shared, &operation, &path, &headers, &query, &body);
    let bytes = match &body {
        Some(body) => serde_json::to_vec(body).unwrap_or_default(),
        None => Vec::new(),
    };
    let mut inner = lock(&shared.inner);
    for breach in shared
        .contract
        .check_response(&operation, status.as_u16(), &bytes)
    {
        inner
            .violations
            .push(format!("{} {path}: {breach}", operation.id));
    }
    record(&mut inner, &operation.id, &method, &path, status.as_u16());
    drop(inner);
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    response.headers_mut().extend(extra);
    response
}

fn record(inner: &mut Inner, operation: &str, method: &Method, path: &str, status: u16) {
    inner.requests.push(Recorded {
        operation: operation.into(),
        method: method.to_string(),
        path: path.into(),
        status,
    });
}

fn answer(
    shared: &Shared,
    operation: &Operation,
    path: &str,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: &[u8],
) -> (StatusCode, Option<Value>, HeaderMap) {
    let mut extra = HeaderMap::new();
    let mut inner = lock(&shared.inner);
    if let Err((status, body)) = authorise(shared, &inner, operation, path, headers, &mut extra) {
        return (status, Some(body), extra);
    }
    let breaches = shared.contract.check_request(operation, query, body);
    if !breaches.is_empty() {
        for breach in &breaches {
            inner
                .violations
                .push(format!("{} request: {breach}", operation.id));
        }
        let (status, body) = invalid(&breaches);
        return (status, Some(body), extra);
    }
    if let Some(fault) = take_fault(&mut inner, &operation.id) {
        let status =
            StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (code, summary) = match fault.status {
            403 => (
                "E0000006",
                "You do not have permission to perform the requested action",
            ),
            404 => ("E0000007", "Not found: Resource not found"),
            429 => (
                "E0000047",
                "API call exceeded rate limit due to too many requests.",
            ),
            400 => ("E0000001", "Api validation failed: injected"),
            _ => ("E0000009", "Internal Server Error"),
        };
        if let Some(seconds) = fault.reset_in_seconds {
            let reset = Utc::now().timestamp() + seconds;
            for (name, value) in [
                ("x-rate-limit-limit", "100".to_string()),
                ("x-rate-limit-remaining", "0".to_string()),
                ("x-rate-limit-reset", reset.to_string()),
            ] {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    extra.insert(name, value);
                }
            }
        }
        let (status, body) = okta_error(status, code, summary, &[]);
        return (status, Some(body), extra);
    }
    let id = path_id(path);
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let result = match operation.id.as_str() {
        "listLogStreams" => return list(shared, &inner, query),
        "listLogEvents" => return system_log(shared, &mut inner, query),
        "createLogStream" => create(shared, &mut inner, &parsed),
        "getLogStream" => find(&inner, &id).map(|s| (StatusCode::OK, Some(to_json(shared, s)))),
        "replaceLogStream" => replace(shared, &mut inner, &id, &parsed),
        "activateLogStream" | "deactivateLogStream" => {
            let active = operation.id == "activateLogStream";
            find_mut(&mut inner, &id)
                .map(|stream| {
                    stream.active = active;
                    stream.last_updated = now();
                    stream.clone()
                })
                .map(|stream| {
                    let event = lifecycle_event(active, &stream, token_owner(), Utc::now());
                    add_log_events(&mut inner, [event]);
                    (StatusCode::OK, Some(to_json(shared, &stream)))
                })
        }
        "deleteLogStream" => delete(shared, &mut inner, &id),
        other => Err(okta_error(
            StatusCode::NOT_IMPLEMENTED,
            "E0000009",
            &format!("the fake does not serve {other}"),
            &[],
        )),
    };
    match result {
        Ok((status, body)) => (status, body, extra),
        Err((status, body)) => (status, Some(body), extra),
    }
}

/// An SSWS token, or an OAuth access token with the operation's scope and an admin role that
/// allows it.
fn authorise(
    shared: &Shared,
    inner: &Inner,
    operation: &Operation,
    path: &str,
    headers: &HeaderMap,
    extra: &mut HeaderMap,
) -> Result<(), (StatusCode, Value)> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    shared.oauth.saw(authorization);
    let invalid = || {
        okta_error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        )
    };
    match authorization {
        Some(value) if value.starts_with("SSWS ") => {
            if value == format!("SSWS {}", inner.token) {
                Ok(())
            } else {
                Err(invalid())
            }
        }
        Some(_) => {
            let url = format!("{}{path}", shared.base);
            let dpop = headers.get("dpop").and_then(|v| v.to_str().ok());
            let scopes = operation.oauth_scopes();
            let mut last = None;
            for scope in &scopes {
                match shared.oauth.check(
                    operation.method.to_ascii_uppercase().as_str(),
                    &url,
                    authorization,
                    dpop,
                    scope,
                    true,
                ) {
                    Ok(grant) => {
                        let changes = operation.method != "get";
                        let allowed = match grant.admin_role.as_deref() {
                            Some("SUPER_ADMIN") => true,
                            Some(_) => !changes,
                            None => false,
                        };
                        if !allowed {
                            return Err(okta_error(
                                StatusCode::FORBIDDEN,
                                "E0000006",
                                "You do not have permission to perform the requested action",
                                &[],
                            ));
                        }
                        return Ok(());
                    }
                    Err(refusal) => last = Some(refusal),
                }
            }
            let refusal = last.unwrap_or(crate::authorization_server::Refusal {
                status: 401,
                challenge: r#"Bearer error="invalid_token""#.into(),
                nonce: None,
            });
            if let Ok(value) = HeaderValue::from_str(&refusal.challenge) {
                extra.insert("www-authenticate", value);
            }
            if let Some(nonce) = refusal.nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
                extra.insert("dpop-nonce", nonce);
            }
            Err(if refusal.status == 403 {
                okta_error(
                    StatusCode::FORBIDDEN,
                    "E0000006",
                    "You do not have permission to perform the requested action",
                    &[],
                )
            } else {
                invalid()
            })
        }
        None => Err(invalid()),
    }
}

/// The path's `{logStreamId}`: `/api/v1/logStreams/{logStreamId}[/lifecycle/…]`.
fn path_id(path: &str) -> String {
    path.split('/').nth(4).unwrap_or_default().to_string()
}

fn take_fault(inner: &mut Inner, operation: &str) -> Option<Fault> {
    let index = inner
        .faults
        .iter()
        .position(|f| f.operation.as_deref().is_none_or(|o| o == operation))?;
    let fault = inner.faults.get_mut(index)?;
    fault.times = fault.times.saturating_sub(1);
    let taken = fault.clone();
    if fault.times == 0 {
        inner.faults.remove(index);
    }
    Some(taken)
}

type Outcome = Result<(StatusCode, Option<Value>), (StatusCode, Value)>;

fn find<'a>(inner: &'a Inner, id: &str) -> Result<&'a Stream, (StatusCode, Value)> {
    inner
        .streams
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| not_found(id))
}

fn find_mut<'a>(inner: &'a mut Inner, id: &str) -> Result<&'a mut Stream, (StatusCode, Value)> {
    inner
        .streams
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| not_found(id))
}

fn to_json(shared: &Shared, stream: &Stream) -> Value {
    let href = format!("{}/api/v1/logStreams/{}", shared.base, stream.id);
    let lifecycle = if stream.active {
        "deactivate"
    } else {
        "activate"
    };
    json!({
        "id": stream.id,
        "type": stream.kind,
        "name": stream.name,
        "lastUpdated": stream.last_updated,
        "created": stream.created,
        "status": status(stream.active),
        "settings": stream.settings,
        "_links": {
            "self": {"href": href, "method": "GET"},
            lifecycle: {"href": format!("{href}/lifecycle/{lifecycle}"), "method": "POST"},
        }
    })
}

fn list(
    shared: &Shared,
    inner: &Inner,
    query: &[(String, String)],
) -> (StatusCode, Option<Value>, HeaderMap) {
    let get = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let filter = get("filter");
    let keep: Box<dyn Fn(&Stream) -> bool> = match filter.map(parse_filter) {
        None => Box::new(|_| true),
        Some(Some(("type", value))) => {
            let value = value.to_string();
            Box::new(move |s| s.kind == value)
        }
        Some(Some(("status", value))) => {
            let value = value.to_string();
            Box::new(move |s| status(s.active) == value)
        }
        Some(_) => {
            let (status, body) = okta_error(
                StatusCode::BAD_REQUEST,
                "E0000031",
                "Invalid search criteria.",
                &["filter: only `eq` on `status` or `type`".into()],
            );
            return (status, Some(body), HeaderMap::new());
        }
    };
    let limit = get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(20)
        .min(inner.max_page_size);
    let matching: Vec<&Stream> = inner.streams.iter().filter(|s| keep(s)).collect();
    let start = match get("after") {
        Some(after) => matching
            .iter()
            .position(|s| s.id == after)
            .map_or(matching.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|s| to_json(shared, s))
        .collect();
    let mut headers = HeaderMap::new();
    let mut link = |url: String, rel: &str| {
        if let Ok(value) = HeaderValue::from_str(&format!("<{url}>; rel=\"{rel}\"")) {
            headers.append("link", value);
        }
    };
    let mut params = url::form_urlencoded::Serializer::new(String::new());
    params.append_pair("limit", &limit.to_string());
    if let Some(filter) = filter {
        params.append_pair("filter", filter);
    }
    let base = format!("{}/api/v1/logStreams?{}", shared.base, params.finish());
    link(base.clone(), "self");
    if start + limit < matching.len()
        && let Some(last) = page.last().and_then(|s| s["id"].as_str())
    {
        link(format!("{base}&after={last}"), "next");
    }
    (StatusCode::OK, Some(Value::Array(page)), headers)
}

fn parse_filter(filter: &str) -> Option<(&str, &str)> {
    let mut parts = filter.splitn(3, ' ');
    let (field, operator, value) = (parts.next()?, parts.next()?, parts.next()?);
    let value = value.strip_prefix('"')?.strip_suffix('"')?;
    (operator == "eq" && matches!(field, "type" | "status")).then_some((field, value))
}

fn name_taken(inner: &Inner, name: &str, except: Option<&str>) -> bool {
    inner
        .streams
        .iter()
        .any(|s| s.name == name && Some(s.id.as_str()) != except)
}

/// "You can configure up to two Log Stream integrations per org" (Okta, Log Streams API). Okta
/// does not document the error a third one meets; the fake answers a validation error, and the
/// provisioner must not rely on its words (it checks the count before creating).
const MAX_STREAMS: usize = 2;

fn create(shared: &Shared, inner: &mut Inner, body: &Value) -> Outcome {
    let name = body["name"].as_str().unwrap_or_default();
    if inner.streams.len() >= MAX_STREAMS {
        return Err(invalid(&[format!(
            "logStream: the org already has {MAX_STREAMS} log streams, the maximum."
        )]));
    }
    if name_taken(inner, name, None) {
        return Err(invalid(&[
            "name: A log stream with this name already exists.".into(),
        ]));
    }
    let stream = new_stream(inner, name, body["settings"].clone());
    inner.streams.push(stream.clone());
    if let PartnerSources::After(delay) = inner.partner_sources {
        spawn_partner_source(shared, &inner.subdomain, &stream.settings, delay, true);
    }
    Ok((StatusCode::OK, Some(to_json(shared, &stream))))
}

fn replace(shared: &Shared, inner: &mut Inner, id: &str, body: &Value) -> Outcome {
    let name = body["name"].as_str().unwrap_or_default().to_string();
    find(inner, id)?;
    if name_taken(inner, &name, Some(id)) {
        return Err(invalid(&[
            "name: A log stream with this name already exists.".into(),
        ]));
    }
    let stream = find_mut(inner, id)?;
    if stream.settings != body["settings"] {
        return Err(invalid(&[
            "settings: settings of an aws_eventbridge log stream can't be modified after creation."
                .into(),
        ]));
    }
    stream.name = name;
    stream.last_updated = now();
    let stream = stream.clone();
    Ok((StatusCode::OK, Some(to_json(shared, &stream))))
}

fn delete(shared: &Shared, inner: &mut Inner, id: &str) -> Outcome {
    let stream = find(inner, id)?.clone();
    inner.streams.retain(|s| s.id != id);
    spawn_partner_source(
        shared,
        &inner.subdomain,
        &stream.settings,
        Duration::ZERO,
        false,
    );
    Ok((StatusCode::NO_CONTENT, None))
}

/// Creates (or deletes) the partner event source in moto, as Okta does in AWS.
fn spawn_partner_source(
    shared: &Shared,
    subdomain: &str,
    settings: &Value,
    delay: Duration,
    create: bool,
) {
    let Some(aws) = shared.aws.clone() else {
        return;
    };
    let name = format!(
        "aws.partner/okta.com/{subdomain}/{}",
        settings["eventSourceName"].as_str().unwrap_or_default()
    );
    let account = settings["accountId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let region = settings["region"].as_str().unwrap_or_default().to_string();
    let inner = shared.inner.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let config = aws_sdk_eventbridge::config::Builder::from(&aws)
            .region(Region::new(region))
            .build();
        let client = aws_sdk_eventbridge::Client::from_conf(config);
        let failed = if create {
            let sent = client
                .create_partner_event_source()
                .name(&name)
                .account(&account)
                .send();
            sent.await
                .err()
                .map(|e| aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string())
        } else {
            let sent = client
                .delete_partner_event_source()
                .name(&name)
                .account(&account)
                .send();
            sent.await
                .err()
                .map(|e| aws_sdk_eventbridge::error::DisplayErrorContext(e).to_string())
        };
        // Not a contract breach, but a test that expects the source must see why it is missing.
        if let Some(error) = failed {
            lock(&inner).violations.push(format!(
                "the fake could not update partner source {name} in moto: {error}"
            ));
        }
    });
}

/// A System Log `filter` (Okta's "System Log API", Filtering: `field eq "value"` joined by
/// `and`), limited to the fields the fake knows; anything else is refused as Okta refuses an
/// invalid filter.
fn parse_log_filter(text: &str) -> Result<Vec<(String, String)>, String> {
    const FIELDS: [&str; 4] = ["eventType", "target.id", "actor.id", "actor.type"];
    text.split(" and ")
        .map(|clause| {
            let (field, value) = clause
                .trim()
                .split_once(" eq ")
                .ok_or_else(|| format!("`{clause}` is not `field eq \"value\"`"))?;
            let value = value
                .trim()
                .strip_prefix('"')
                .and_then(|value| value.strip_suffix('"'))
                .ok_or_else(|| format!("the value in `{clause}` is not quoted"))?;
            if !FIELDS.contains(&field.trim()) {
                return Err(format!("the fake does not filter on `{field}`"));
            }
            Ok((field.trim().to_owned(), value.to_owned()))
        })
        .collect()
}

fn log_field_is(event: &Value, field: &str, value: &str) -> bool {
    match field {
        "eventType" => event["eventType"] == value,
        "actor.id" => event["actor"]["id"] == value,
        "actor.type" => event["actor"]["type"] == value,
        "target.id" => event["target"]
            .as_array()
            .is_some_and(|targets| targets.iter().any(|target| target["id"] == value)),
        _ => false,
    }
}

/// `GET /api/v1/logs`: events published in `[since, until)`, oldest first, `limit` per page,
/// `after` the previous page's last uuid; `X-Rate-Limit-*` headers, 429 once the window's
/// requests are spent.
fn system_log(
    shared: &Shared,
    inner: &mut Inner,
    query: &[(String, String)],
) -> (StatusCode, Option<Value>, HeaderMap) {
    let mut headers = HeaderMap::new();
    let now = Utc::now().timestamp();
    let (allowed, window) = inner.log_rate_limit;
    if now >= inner.log_window.0 {
        inner.log_window = (now + window, 0);
    }
    let (reset, used) = inner.log_window;
    let spent = used >= allowed;
    if !spent {
        inner.log_window.1 += 1;
    }
    let remaining = allowed.saturating_sub(inner.log_window.1);
    for (name, value) in [
        ("x-rate-limit-limit", allowed.to_string()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-reset", reset.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    if spent {
        let (status, body) = okta_error(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
            &[],
        );
        return (status, Some(body), headers);
    }
    let get = |name: &str| {
        query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let time = |name: &str| get(name).and_then(|v| chrono::DateTime::parse_from_rfc3339(&v).ok());
    let (since, until) = (time("since"), time("until"));
    promote_late_events(inner);
    let filter = match get("filter")
        .map(|text| parse_log_filter(&text))
        .transpose()
    {
        Ok(filter) => filter.unwrap_or_default(),
        Err(reason) => {
            let (status, body) = okta_error(
                StatusCode::BAD_REQUEST,
                "E0000031",
                "Invalid search criteria.",
                &[reason],
            );
            return (status, Some(body), headers);
        }
    };
    let descending = get("sortOrder").as_deref() == Some("DESCENDING");
    let limit = get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let mut in_window: Vec<&Value> = inner
        .log_events
        .iter()
        .filter(|event| {
            let published = event["published"]
                .as_str()
                .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok());
            published.is_some_and(|p| since.is_none_or(|s| p >= s) && until.is_none_or(|u| p < u))
        })
        .filter(|event| {
            filter
                .iter()
                .all(|(field, value)| log_field_is(event, field, value))
        })
        .collect();
    if descending {
        in_window.reverse();
    }
    let start = match get("after") {
        Some(after) => in_window
            .iter()
            .position(|e| e["uuid"] == after.as_str())
            .map_or(in_window.len(), |i| i + 1),
        None => 0,
    };
    let page: Vec<Value> = in_window
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| (*e).clone())
        .collect();
    if start + limit < in_window.len()
        && let Some(last) = page.last().and_then(|e| e["uuid"].as_str())
    {
        let mut params = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in query.iter().filter(|(n, _)| n != "after") {
            params.append_pair(name, value);
        }
        params.append_pair("after", last);
        if let Ok(value) = HeaderValue::from_str(&format!(
            "<{}/api/v1/logs?{}>; rel=\"next\"",
            shared.base,
            params.finish()
        )) {
            headers.append("link", value);
        }
    }
    (StatusCode::OK, Some(Value::Array(page)), headers)
}

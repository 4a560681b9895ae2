#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The Workflows client against a local HTTP endpoint (wiremock): headers, token placement,
//! which statuses are retried, timeouts, refused connections, and no token in any error.

use std::time::Duration;

use relay_core::{
    Deliver, DeliveryReport, DeliveryRequest, Failure, LoadOptions, Outcome, RouteTable,
    TokenSource,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};
use workflows_client::workflows::http_client;
use workflows_client::{RetryPolicy, TokenError, TokenResolver, WorkflowsClient};

const TOKEN: &str = "wf-client-token-7f3a9c";

/// Resolves every token source to the same test token.
struct FixedToken;

impl TokenResolver for FixedToken {
    async fn token(&self, _source: &TokenSource) -> Result<SecretString, TokenError> {
        Ok(SecretString::from(TOKEN))
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_attempts: 4,
        min_attempt_time: Duration::from_millis(20),
    }
}

fn table(endpoint: &str, auth: serde_json::Value, timeout_ms: u64) -> RouteTable {
    let routes = json!({"version": 1, "routes": [{
        "name": "alerts", "pattern": {"detail": {"uuid": [{"exists": true}]}},
        "endpoint": endpoint, "auth": auth, "timeoutMs": timeout_ms
    }]});
    RouteTable::from_json(
        &routes.to_string(),
        LoadOptions {
            allow_http_localhost: true,
            ..Default::default()
        },
    )
    .unwrap()
}

async fn deliver(server: &MockServer, auth: serde_json::Value) -> DeliveryReport {
    deliver_to(
        &format!("{}/api/flo/abc/invoke", server.uri()),
        auth,
        2_000,
        Duration::from_secs(5),
    )
    .await
}

async fn deliver_to(
    endpoint: &str,
    auth: serde_json::Value,
    timeout_ms: u64,
    budget: Duration,
) -> DeliveryReport {
    let table = table(endpoint, auth, timeout_ms);
    let client = WorkflowsClient::new(http_client().unwrap(), FixedToken, fast_policy());
    let body = serde_json::to_vec(&json!({"event": {"uuid": "uuid-1"}})).unwrap();
    client
        .deliver(DeliveryRequest {
            route: &table.routes()[0],
            uuid: "uuid-1",
            body: body.into(),
            budget,
            earlier_attempts: 0,
        })
        .await
}

fn header_auth() -> serde_json::Value {
    json!({"tokenParameter": "/okta-relay/tokens/alerts"})
}

#[tokio::test]
async fn posts_json_with_client_token_header_and_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/flo/abc/invoke"))
        .and(header("x-api-client-token", TOKEN))
        .and(header("idempotency-key", "uuid-1"))
        .and(header("x-okta-relay-route", "alerts"))
        .and(header("x-okta-relay-attempt", "1"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"event": {"uuid": "uuid-1"}})))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let report = deliver(&server, header_auth()).await;
    assert_eq!((delivered(&report), report.attempts), (200, 1));
}

#[tokio::test]
async fn query_and_bearer_placements() {
    let server = MockServer::start().await;
    Mock::given(query_param("clientToken", TOKEN))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let report = deliver(&server, json!({"scheme": "query", "tokenEnv": "T"})).await;
    assert_eq!(delivered(&report), 202);
    server.reset().await;

    Mock::given(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    assert!(
        deliver(&server, json!({"scheme": "bearer", "tokenEnv": "T"}))
            .await
            .is_delivered()
    );
}

#[tokio::test]
async fn public_endpoint_gets_no_token() {
    let server = MockServer::start().await;
    Mock::given(header_exists("x-api-client-token"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    assert!(
        deliver(&server, json!({"scheme": "none"}))
            .await
            .is_delivered()
    );
}

#[tokio::test]
async fn retries_5xx_408_and_429_then_succeeds() {
    let server = MockServer::start().await;
    for status in [503, 408] {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let report = deliver(&server, header_auth()).await;
    assert_eq!((delivered(&report), report.attempts), (200, 4));
    let attempts: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            request.headers["x-okta-relay-attempt"]
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(attempts, ["1", "2", "3", "4"]);
}

#[tokio::test]
async fn other_4xx_fail_permanently_without_retry() {
    for status in [400, 401, 403, 404] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&server)
            .await;
        let report = deliver(&server, header_auth()).await;
        let (failure, permanent) = failed(&report);
        assert_eq!(
            (failure.last_status, permanent, report.attempts),
            (Some(status), true, 1)
        );
        assert!(
            failure.reason.starts_with(&format!("HTTP {status}")),
            "{}",
            failure.reason
        );
    }
}

#[tokio::test]
async fn persistent_5xx_gives_up_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502))
        .expect(4)
        .mount(&server)
        .await;
    let report = deliver(&server, header_auth()).await;
    let (failure, permanent) = failed(&report);
    assert_eq!(
        (failure.last_status, permanent, report.attempts),
        (Some(502), false, 4)
    );
    assert_eq!(
        failure.reason,
        "HTTP 502 Bad Gateway (gave up after 4 attempt(s))"
    );
}

#[tokio::test]
async fn slow_endpoint_times_out_and_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let endpoint = format!("{}/flow", server.uri());
    let report = deliver_to(&endpoint, header_auth(), 200, Duration::from_secs(5)).await;
    assert_eq!((delivered(&report), report.attempts), (200, 2));
}

#[tokio::test]
async fn refused_connection_is_retried_then_reported_without_the_token() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{closed_port}/flow");
    let report = deliver_to(
        &endpoint,
        json!({"scheme": "query", "tokenEnv": "T"}),
        500,
        Duration::from_secs(2),
    )
    .await;
    assert!(!format!("{report:?}").contains(TOKEN));
    let (failure, permanent) = failed(&report);
    assert_eq!(
        (failure.last_status, permanent, report.attempts),
        (None, false, 4)
    );
    assert!(
        failure.reason.starts_with("could not connect"),
        "{}",
        failure.reason
    );
}

#[tokio::test]
async fn missing_token_fails_permanently_naming_the_source_only() {
    let table = table(
        "https://example.workflows.okta.com/flow",
        json!({"tokenEnv": "OKTA_RELAY_TEST_UNSET_TOKEN"}),
        1000,
    );
    let client = WorkflowsClient::new(
        http_client().unwrap(),
        workflows_client::EnvTokens,
        fast_policy(),
    );
    let request = DeliveryRequest {
        route: &table.routes()[0],
        uuid: "u",
        body: bytes::Bytes::from_static(b"{}"),
        budget: Duration::from_secs(1),
        earlier_attempts: 0,
    };
    let report = client.deliver(request).await;
    let (failure, permanent) = failed(&report);
    assert_eq!(
        failure.reason,
        "client token environment variable OKTA_RELAY_TEST_UNSET_TOKEN is not set"
    );
    assert!(permanent);
    assert_eq!(report.attempts, 0);
}

/// The status the endpoint answered, for a delivered report.
fn delivered(report: &DeliveryReport) -> u16 {
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    let answer = report.answer.as_deref().unwrap_or_default();
    answer
        .strip_prefix("HTTP ")
        .and_then(|status| status.get(..3))
        .and_then(|status| status.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// The failure of a report that failed, and whether it is permanent.
fn failed(report: &DeliveryReport) -> (Failure, bool) {
    match &report.outcome {
        Outcome::Rejected(failure) => (failure.clone(), true),
        Outcome::GaveUp(failure) => (failure.clone(), false),
        other => panic!("not a failure: {other:?}"),
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The pipeline with in-memory delivery and dead-letter fakes: which routes get what, what is
//! dead-lettered, and what the metrics say.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use relay_core::{
    DeadLetter, DeadLetterError, DeadLetterSink, Deliver, DeliveryReport, DeliveryRequest,
    EnrichContext, Failure, LoadOptions, Outcome, RouteTable, relay_invocation,
};
use serde_json::{Value, json};

const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");
const BUDGET: Duration = Duration::from_secs(10);

/// Answers each route with a scripted result and records what it was asked to send.
#[derive(Default)]
struct ScriptedEndpoints {
    failures: HashMap<String, Outcome>,
    sent: Mutex<Vec<(String, String, Value)>>,
}

impl Deliver for ScriptedEndpoints {
    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        self.sent
            .lock()
            .unwrap()
            .push((request.route.name.clone(), request.uuid.to_owned(), body));
        let now = Utc::now();
        let (outcome, attempts) = match self.failures.get(&request.route.name) {
            Some(failure @ Outcome::Rejected(_)) => (failure.clone(), 1),
            Some(failure) => (failure.clone(), 4),
            None => (Outcome::Delivered, 1),
        };
        DeliveryReport {
            outcome,
            answer: None,
            attempts,
            first_attempt_at: now,
            last_attempt_at: now,
            latency: Duration::from_millis(5),
        }
    }
}

#[derive(Default)]
struct MemoryQueue {
    broken: bool,
    letters: Mutex<Vec<DeadLetter>>,
}

impl DeadLetterSink for MemoryQueue {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        if self.broken {
            return Err(DeadLetterError {
                count: letters.len(),
                destination: "memory".into(),
                reason: "queue is down".into(),
            });
        }
        self.letters.lock().unwrap().extend_from_slice(letters);
        Ok(())
    }
}

fn table() -> RouteTable {
    let routes = json!({"version": 1, "routes": [
        {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/1/invoke", "auth": {"tokenEnv": "TOKEN_A"}},
        {"name": "risky", "pattern": {"relay": {"risk": {"level": ["HIGH"]}}},
         "endpoint": "https://example.workflows.okta.com/api/flo/2/invoke", "auth": {"tokenEnv": "TOKEN_B"},
         "fields": ["event.uuid", "relay.risk", "relay.route"]},
        {"name": "lifecycle", "pattern": {"detail": {"eventType": ["user.lifecycle.create"]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/3/invoke", "auth": {"scheme": "none"}}
    ]});
    RouteTable::from_json(&routes.to_string(), LoadOptions::default()).unwrap()
}

fn now() -> DateTime<Utc> {
    "2026-11-24T09:20:00Z".parse().unwrap()
}

fn sample(event_type: &str, nth: usize) -> &'static str {
    SAMPLES
        .lines()
        .filter(|line| line.contains(&format!("\"eventType\":\"{event_type}\"")))
        .nth(nth)
        .unwrap()
}

async fn relay(
    payload: &[u8],
    endpoints: &ScriptedEndpoints,
    queue: &MemoryQueue,
) -> Result<relay_core::InvocationMetrics, DeadLetterError> {
    let context = EnrichContext {
        org: None,
        now: now(),
    };
    relay_invocation(payload, &table(), &context, BUDGET, endpoints, queue).await
}

#[tokio::test]
async fn delivers_to_every_matching_route_with_its_own_payload() {
    let (endpoints, queue) = (ScriptedEndpoints::default(), MemoryQueue::default());
    let risky_login = sample("user.session.start", 1);
    let metrics = relay(risky_login.as_bytes(), &endpoints, &queue)
        .await
        .unwrap();

    let sent = endpoints.sent.lock().unwrap();
    let routes: Vec<&str> = sent.iter().map(|(route, _, _)| route.as_str()).collect();
    assert_eq!(routes, ["sessions", "risky"]);
    let (_, uuid, full) = &sent[0];
    assert_eq!(full["event"]["uuid"], uuid.as_str());
    assert_eq!(full["relay"]["route"], "sessions");
    assert_eq!(full["relay"]["actor"]["login"], "bob@example.com");
    let (_, _, trimmed) = &sent[1];
    assert_eq!(
        trimmed,
        &json!({"event": {"uuid": uuid}, "relay": {"risk": full["relay"]["risk"], "route": "risky"}})
    );
    assert_eq!(
        (
            metrics.received,
            metrics.matched,
            metrics.delivered,
            metrics.dead_lettered
        ),
        (1, 1, 2, 0)
    );
    assert_eq!(metrics.delivery_latency_ms.len(), 2);
    assert!(queue.letters.lock().unwrap().is_empty());
}

#[tokio::test]
async fn unmatched_event_is_filtered_out_and_sent_nowhere() {
    let (endpoints, queue) = (ScriptedEndpoints::default(), MemoryQueue::default());
    let metrics = relay(
        sample("system.api_token.create", 0).as_bytes(),
        &endpoints,
        &queue,
    )
    .await
    .unwrap();
    assert!(endpoints.sent.lock().unwrap().is_empty());
    assert_eq!(
        (metrics.filtered_out, metrics.matched, metrics.delivered),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn failed_route_is_dead_lettered_alone_with_everything_a_redrive_needs() {
    let failure = Outcome::GaveUp(Failure {
        reason: "HTTP 503 Service Unavailable".into(),
        last_status: Some(503),
        retry_after: None,
    });
    let endpoints = ScriptedEndpoints {
        failures: HashMap::from([("risky".into(), failure)]),
        ..Default::default()
    };
    let queue = MemoryQueue::default();
    let payload = sample("user.session.start", 1);
    let metrics = relay(payload.as_bytes(), &endpoints, &queue).await.unwrap();

    let letters = queue.letters.lock().unwrap();
    assert_eq!(letters.len(), 1, "only the failed route is dead-lettered");
    let DeadLetter::DeliveryFailed(letter) = &letters[0] else {
        panic!("{:?}", letters[0])
    };
    assert_eq!(
        (
            letter.route.as_str(),
            letter.last_status,
            letter.attempts,
            letter.permanent
        ),
        ("risky", Some(503), 4, false)
    );
    assert_eq!(
        letter.endpoint,
        "https://example.workflows.okta.com/api/flo/2/invoke"
    );
    let received: Value = serde_json::from_str(payload).unwrap();
    assert_eq!(
        letter.event["detail"], received["detail"],
        "the event travels as received"
    );
    assert_eq!(letter.event["source"], received["source"]);
    assert_eq!(
        (
            metrics.delivered,
            metrics.failed,
            metrics.dead_lettered,
            metrics.retries
        ),
        (1, 1, 1, 3)
    );
}

#[tokio::test]
async fn permanent_failure_is_marked_permanent() {
    let failure = Outcome::Rejected(Failure {
        reason: "HTTP 401 Unauthorized".into(),
        last_status: Some(401),
        retry_after: None,
    });
    let endpoints = ScriptedEndpoints {
        failures: HashMap::from([("lifecycle".into(), failure)]),
        ..Default::default()
    };
    let queue = MemoryQueue::default();
    relay(
        sample("user.lifecycle.create", 0).as_bytes(),
        &endpoints,
        &queue,
    )
    .await
    .unwrap();
    let letters = queue.letters.lock().unwrap();
    let DeadLetter::DeliveryFailed(letter) = &letters[0] else {
        panic!()
    };
    assert!(letter.permanent);
    assert_eq!(letter.attempts, 1);
}

#[tokio::test]
async fn bad_input_is_dead_lettered_with_its_reason_and_never_sent() {
    let cases: [(&[u8], &str); 4] = [
        (b"{not json", "payload is not JSON"),
        (br#"{"hello": "world"}"#, "not an EventBridge event"),
        (br#"{"detail-type": "x", "source": "s", "detail": {"uuid": 1}}"#, "detail is not an Okta LogEvent: uuid"),
        (br#"{"detail-type": "x", "source": "s", "detail": {"uuid": "u", "eventType": "e", "published": "p"}}"#, "published"),
    ];
    for (payload, reason) in cases {
        let (endpoints, queue) = (ScriptedEndpoints::default(), MemoryQueue::default());
        let metrics = relay(payload, &endpoints, &queue).await.unwrap();
        assert!(endpoints.sent.lock().unwrap().is_empty());
        assert_eq!((metrics.bad_input, metrics.dead_lettered), (1, 1));
        let letters = queue.letters.lock().unwrap();
        let DeadLetter::BadInput(rejected) = &letters[0] else {
            panic!()
        };
        assert!(
            rejected.reason.contains(reason),
            "{} does not mention {reason}",
            rejected.reason
        );
        assert_eq!(rejected.payload.as_bytes(), payload);
    }
}

#[tokio::test]
async fn dead_letter_queue_failure_fails_the_invocation() {
    let failure = Outcome::GaveUp(Failure {
        reason: "timed out".into(),
        last_status: None,
        retry_after: None,
    });
    let endpoints = ScriptedEndpoints {
        failures: HashMap::from([("sessions".into(), failure)]),
        ..Default::default()
    };
    let queue = MemoryQueue {
        broken: true,
        ..Default::default()
    };
    let error = relay(
        sample("user.session.start", 0).as_bytes(),
        &endpoints,
        &queue,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "could not dead-letter 1 record(s) to memory: queue is down"
    );
    let error = relay(b"garbage", &ScriptedEndpoints::default(), &queue)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("queue is down"));
}

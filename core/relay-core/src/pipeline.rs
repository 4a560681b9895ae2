//! One invocation, end to end: read → enrich → route → deliver → dead-letter what failed.
//! Delivery and the dead-letter queue are traits, so the same pipeline runs in Lambda (HTTP and
//! SQS adapters), in `okta-relay replay` (HTTP and a file) and in tests (in-memory fakes).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use okta::LogEvent;
use serde_json::{Map, Value};

use crate::dead_letter::{self, DeadLetter, FailedDelivery};
use crate::enrich::{EnrichContext, enrich, to_object};
use crate::envelope::{BadInput, Received, read_envelope};
use crate::metrics::InvocationMetrics;
use crate::payload::Payloads;
use crate::routes::{Route, RouteTable};

/// Sends one payload to one route's endpoint, retrying as its policy allows within `budget`.
pub trait Deliver: Sync {
    fn deliver(&self, request: DeliveryRequest<'_>) -> impl Future<Output = DeliveryReport> + Send;

    /// Gets ready to deliver to `route` (reads and caches its credential), so that the paced
    /// slot is spent on the request itself: a slow first token read would otherwise delay a
    /// container's first requests into the next window and crowd it. Errors are left to
    /// `deliver`, which reports them.
    fn prepare(&self, route: &Route) -> impl Future<Output = ()> + Send {
        let _ = route;
        async {}
    }
}

/// Writes dead letters somewhere durable. An error here fails the invocation, so that Lambda's
/// own retry and on-failure destination keep the event.
pub trait DeadLetterSink: Sync {
    fn send(
        &self,
        letters: &[DeadLetter],
    ) -> impl Future<Output = Result<(), DeadLetterError>> + Send;
}

#[derive(Debug, thiserror::Error)]
#[error("could not dead-letter {count} record(s) to {destination}: {reason}")]
pub struct DeadLetterError {
    pub count: usize,
    pub destination: String,
    pub reason: String,
}

#[derive(Debug)]
pub struct DeliveryRequest<'a> {
    pub route: &'a Route,
    pub uuid: &'a str,
    pub body: Bytes,
    /// Time left for this delivery, retries included.
    pub budget: Duration,
    /// Attempts made at this request before, in earlier invocations (0 the first time): a flow
    /// sees the attempt number count on across the inbox's retries.
    pub earlier_attempts: u32,
}

/// What became of one delivery, in the domain's words: the adapter decides which of these its
/// peer's answer means, and keeps its protocol (HTTP statuses, headers) to itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The endpoint accepted it.
    Delivered,
    /// The idempotency store says it reached this route before: nothing was sent.
    AlreadyDelivered,
    /// Refused: sending the same payload again cannot help (a revoked token, a bad request, a
    /// redirect, a token that cannot be read).
    Rejected(Failure),
    /// Every attempt the budget allowed failed in a way that may pass later (timeouts, the
    /// endpoint unavailable or throttling).
    GaveUp(Failure),
}

/// Why a delivery failed, for the log line and the dead letter.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub reason: String,
    /// The last answer's code as the adapter reports it (an HTTP status for Workflows), kept in
    /// the dead letter for the operator; the core never decides anything on it.
    pub last_status: Option<u16>,
    /// How long the peer asked to wait before the next try (its `Retry-After`), if it said.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct DeliveryReport {
    pub outcome: Outcome,
    /// What the endpoint last answered, for the log line (`HTTP 202 Accepted`).
    pub answer: Option<String>,
    pub attempts: u32,
    pub first_attempt_at: DateTime<Utc>,
    pub last_attempt_at: DateTime<Utc>,
    pub latency: Duration,
}

impl DeliveryReport {
    /// The endpoint has the event (now or before).
    pub fn is_delivered(&self) -> bool {
        matches!(self.outcome, Outcome::Delivered | Outcome::AlreadyDelivered)
    }

    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Rejected(failure) | Outcome::GaveUp(failure) => Some(failure),
            Outcome::Delivered | Outcome::AlreadyDelivered => None,
        }
    }
}

/// An event read, enriched and routed, with the payload for each matching route.
#[derive(Debug)]
pub struct Routed<'t> {
    pub uuid: String,
    pub event_type: String,
    pub published: DateTime<Utc>,
    /// The event as received.
    pub received: Received,
    pub deliveries: Vec<(&'t Route, Bytes)>,
}

/// Reads and routes one payload without sending anything (`--dry-run` shows exactly this).
pub fn route_event<'t>(
    payload: &[u8],
    table: &'t RouteTable,
    context: &EnrichContext<'_>,
) -> Result<Routed<'t>, BadInput> {
    let mut received = read_envelope(payload)?;
    let event = LogEvent::from_value(&received.envelope.detail)?;
    let relay = enrich(&received.envelope, &event, context);
    let (uuid, event_type, published) = (
        event.uuid.to_owned(),
        event.event_type.to_owned(),
        event.published,
    );

    // The enrichment as a JSON object only when some route's pattern reads it.
    let relay_object = table.reads_relay().then(|| to_object(&relay));
    let document = match_document(&mut received, relay_object);
    let routes = table.matching(&document);
    restore_detail(&mut received, document);
    let payloads = Payloads::new(&received.detail_json, &received.envelope.detail, &relay);
    let deliveries = routes
        .into_iter()
        .map(|route| (route, Bytes::from(payloads.for_route(route))))
        .collect();
    Ok(Routed {
        uuid,
        event_type,
        published,
        received,
        deliveries,
    })
}

/// Relays one invocation payload. Returns its metrics; fails only when dead letters could not be
/// written, because then nothing else holds the event.
pub async fn relay_invocation(
    payload: &[u8],
    table: &RouteTable,
    context: &EnrichContext<'_>,
    budget: Duration,
    deliver: &impl Deliver,
    dead_letters: &impl DeadLetterSink,
) -> Result<InvocationMetrics, DeadLetterError> {
    let mut metrics = InvocationMetrics {
        received: 1,
        ..Default::default()
    };
    let routed = match route_event(payload, table, context) {
        Ok(routed) => routed,
        Err(bad_input) => {
            tracing::error!(outcome = "bad_input", reason = %bad_input, payload_bytes = payload.len(), "rejected payload");
            dead_letters
                .send(&[DeadLetter::rejected(
                    payload,
                    bad_input.to_string(),
                    context.now,
                )])
                .await?;
            metrics.bad_input = 1;
            metrics.dead_lettered = 1;
            return Ok(metrics);
        }
    };
    if routed.deliveries.is_empty() {
        tracing::info!(outcome = "filtered_out", uuid = %routed.uuid, event_type = %routed.event_type, "no route matched");
        metrics.filtered_out = 1;
        return Ok(metrics);
    }
    metrics.matched = 1;

    let sends = routed.deliveries.iter().map(|(route, body)| {
        deliver.deliver(DeliveryRequest {
            route,
            uuid: &routed.uuid,
            body: body.clone(),
            budget,
            earlier_attempts: 0,
        })
    });
    let reports = join_all(sends).await;

    let mut letters = Vec::new();
    for ((route, _), report) in routed.deliveries.iter().zip(reports) {
        log_outcome(&routed, route, &report);
        if report.outcome == Outcome::AlreadyDelivered {
            metrics.duplicates_skipped += 1;
            continue;
        }
        metrics.retries += u64::from(report.attempts.saturating_sub(1));
        metrics
            .delivery_latency_ms
            .push(report.latency.as_secs_f64() * 1000.0);
        match report.failure() {
            None => {
                metrics.delivered += 1;
                let lag = report.last_attempt_at - routed.published;
                metrics
                    .end_to_end_lag_ms
                    .push(lag.num_milliseconds().max(0) as f64);
            }
            Some(failure) => {
                metrics.failed += 1;
                letters.push(failed_delivery(
                    &routed,
                    route,
                    &report,
                    failure,
                    context.now,
                ));
            }
        }
    }
    if !letters.is_empty() {
        dead_letters.send(&letters).await?;
        metrics.dead_lettered = letters.len() as u64;
    }
    Ok(metrics)
}

/// What routes match on: the event exactly as received, as EventBridge rules saw it (`time` as
/// written, every field as sent), plus the `relay` enrichment when a route reads it, so a route
/// can filter on `relay.risk.level` as well as `detail.eventType`. `detail` is moved in and back
/// out ([`restore_detail`]) rather than copied.
fn match_document(received: &mut Received, relay: Option<Map<String, Value>>) -> Value {
    let mut document = received.fields.clone();
    document.insert(
        "detail".into(),
        std::mem::take(&mut received.envelope.detail),
    );
    if let Some(relay) = relay {
        document.insert("relay".into(), Value::Object(relay));
    }
    Value::Object(document)
}

/// Moves `detail` back into the envelope.
fn restore_detail(received: &mut Received, document: Value) {
    if let Value::Object(mut document) = document {
        received.envelope.detail = document.remove("detail").unwrap_or_default();
    }
}

fn log_outcome(routed: &Routed<'_>, route: &Route, report: &DeliveryReport) {
    let latency_ms = report.latency.as_millis() as u64;
    let answer = report.answer.as_deref().unwrap_or_default();
    match &report.outcome {
        Outcome::AlreadyDelivered => tracing::info!(
            outcome = "duplicate", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            "delivered before; skipped"
        ),
        Outcome::Delivered => tracing::info!(
            outcome = "delivered", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            answer, attempts = report.attempts, latency_ms, "delivered"
        ),
        Outcome::Rejected(failure) | Outcome::GaveUp(failure) => tracing::warn!(
            outcome = "dead_lettered", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            answer, attempts = report.attempts, latency_ms,
            permanent = matches!(report.outcome, Outcome::Rejected(_)),
            reason = %failure.reason, "delivery failed"
        ),
    }
}

fn failed_delivery(
    routed: &Routed<'_>,
    route: &Route,
    report: &DeliveryReport,
    failure: &Failure,
    now: DateTime<Utc>,
) -> DeadLetter {
    DeadLetter::DeliveryFailed(FailedDelivery {
        schema: dead_letter::SCHEMA.into(),
        uuid: routed.uuid.clone(),
        route: route.name.clone(),
        endpoint: route.endpoint.to_string(),
        reason: failure.reason.clone(),
        last_status: failure.last_status,
        attempts: report.attempts,
        permanent: matches!(report.outcome, Outcome::Rejected(_)),
        first_attempt_at: dead_letter::timestamp(report.first_attempt_at),
        last_attempt_at: dead_letter::timestamp(report.last_attempt_at),
        dead_lettered_at: dead_letter::timestamp(now.max(report.last_attempt_at)),
        event: routed.received.to_value(),
        event_truncated: false,
    })
}

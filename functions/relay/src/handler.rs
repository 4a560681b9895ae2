//! One invocation: a batch from the inbox, relayed along the current routes within the time
//! Lambda gives us; the answer names the messages SQS must hand out again.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use okta::OrgUrl;
use relay_core::inbox::{BatchPorts, Inbox, InboxMessage, RetrySettings, relay_batch};
use relay_core::{
    DeadLetterSink, Deliver, EnrichContext, InvocationMetrics, Pacer, RoutesSource,
    RoutesSourceError,
};
use tokio::time::Instant;
use tracing::Instrument;

pub struct Deps<R, D, S, I> {
    pub routes: R,
    pub deliver: D,
    pub dead_letters: S,
    pub inbox: I,
    /// This container's share of every route's `maxRequestsPerSecond`, kept across invocations.
    pub pacer: Pacer,
    pub retry: RetrySettings,
    pub org: Option<OrgUrl>,
    /// Kept back from the deadline to write retries and dead letters after the last POST.
    pub safety_margin: Duration,
}

/// Why a whole invocation fails. No message is lost: SQS hands the batch out again after the
/// visibility timeout, and after the redrive policy's receive count moves it to the dead-letter
/// queue.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("no route table to relay with: {0}; the batch stays in the inbox until it can be read")]
    Routes(#[from] RoutesSourceError),
}

impl HandlerError {
    /// The invocation's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Routes(_) => "RoutesUnavailable",
        }
    }
}

/// One SQS record as the event source mapping delivers it (`messageId`, `body`, and the
/// `SentTimestamp` attribute in epoch milliseconds).
pub struct Record {
    pub message_id: String,
    pub body: String,
    pub sent_timestamp: Option<String>,
}

/// The inbox message a record is; a missing or unreadable `SentTimestamp` counts from now (the
/// event then gets at most a little more than `MaxEventAgeHours`).
pub fn inbox_message(record: Record, now: DateTime<Utc>) -> InboxMessage {
    let sent_at = record
        .sent_timestamp
        .and_then(|millis| millis.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
        .filter(|sent| *sent <= now)
        .unwrap_or(now);
    InboxMessage {
        id: record.message_id,
        body: record.body,
        sent_at,
    }
}

/// Relays the batch; answers its metrics and the ids of the messages to hand out again.
pub async fn handle<R, D, S, I>(
    deps: &Deps<R, D, S, I>,
    messages: &[InboxMessage],
    time_left: Duration,
) -> (InvocationMetrics, Result<Vec<String>, HandlerError>)
where
    R: RoutesSource,
    D: Deliver,
    S: DeadLetterSink,
    I: Inbox,
{
    let mut metrics = InvocationMetrics::default();
    let routes = deps
        .routes
        .current()
        .instrument(tracing::info_span!("routes", hop = "routes"));
    let snapshot = match routes.await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            tracing::error!(outcome = "routes_unavailable", error = %error, messages = messages.len(), "cannot relay: no route table");
            metrics.received = messages.len() as u64;
            metrics.routes_config_errors = 1;
            return (metrics, Err(error.into()));
        }
    };
    if let Some(reason) = &snapshot.stale {
        tracing::error!(outcome = "routes_stale", error = %reason, "relaying with the last good route table");
        metrics.routes_config_errors = 1;
    }
    let context = EnrichContext {
        org: deps.org.as_ref(),
        now: Utc::now(),
    };
    let deadline = Instant::now() + time_left.saturating_sub(deps.safety_margin);
    let ports = BatchPorts {
        deliver: &deps.deliver,
        dead_letters: &deps.dead_letters,
        inbox: &deps.inbox,
        pacer: &deps.pacer,
    };
    let outcome = relay_batch(
        messages,
        &snapshot.table,
        &context,
        &ports,
        &deps.retry,
        deadline,
    )
    .await;
    metrics.add(&outcome.metrics);
    (metrics, Ok(outcome.failed_message_ids))
}

/// Writes the invocation's metrics as one EMF line on stdout.
/// The invocation's EMF document, then, with `per_route`, one per route that had work.
pub fn print_metrics(metrics: &InvocationMetrics, function_name: &str, per_route: bool) {
    let now = Utc::now().timestamp_millis();
    let document = metrics.to_emf(function_name, now);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{document}");
    if per_route {
        for document in metrics.to_route_emf(function_name, now) {
            let _ = writeln!(stdout, "{document}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_core::{
        DeadLetter, DeadLetterError, DeliveryReport, DeliveryRequest, Enqueue, InboxError,
        LoadOptions, Outcome, RouteTable, RoutesSnapshot,
    };
    use std::sync::{Arc, Mutex};

    struct FixedRoutes(Result<RoutesSnapshot, String>);

    impl RoutesSource for FixedRoutes {
        async fn current(&self) -> Result<RoutesSnapshot, RoutesSourceError> {
            self.0
                .clone()
                .map_err(|reason| RoutesSourceError::Unreadable {
                    origin: "parameter /r".into(),
                    reason,
                })
        }
    }

    /// Accepts everything and remembers the budgets it was given.
    #[derive(Default)]
    struct AcceptAll(Mutex<Vec<Duration>>);

    impl Deliver for AcceptAll {
        async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
            self.0.lock().unwrap().push(request.budget);
            let now = Utc::now();
            DeliveryReport {
                outcome: Outcome::Delivered,
                answer: None,
                attempts: 1,
                first_attempt_at: now,
                last_attempt_at: now,
                latency: Duration::ZERO,
            }
        }
    }

    struct NoDeadLetters;

    impl DeadLetterSink for NoDeadLetters {
        async fn send(&self, _letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
            Ok(())
        }
    }

    struct NoInbox;

    impl Inbox for NoInbox {
        async fn send(&self, messages: &[Enqueue]) -> Result<(), InboxError> {
            assert!(messages.is_empty(), "nothing is requeued here");
            Ok(())
        }
    }

    fn snapshot(stale: Option<&str>) -> RoutesSnapshot {
        let routes = r#"{"version": 1, "routes": [{"name": "all", "pattern": {"detail": {"uuid": [{"exists": true}]}},
            "endpoint": "https://example.workflows.okta.com/flow", "auth": {"scheme": "none"}}]}"#;
        let table = Arc::new(RouteTable::from_json(routes, LoadOptions::default()).unwrap());
        RoutesSnapshot {
            table,
            stale: stale.map(str::to_owned),
        }
    }

    fn deps(
        routes: Result<RoutesSnapshot, String>,
    ) -> Deps<FixedRoutes, AcceptAll, NoDeadLetters, NoInbox> {
        Deps {
            routes: FixedRoutes(routes),
            deliver: AcceptAll::default(),
            dead_letters: NoDeadLetters,
            inbox: NoInbox,
            pacer: Pacer::new(2),
            retry: RetrySettings::default(),
            org: None,
            safety_margin: Duration::from_secs(3),
        }
    }

    const EVENT: &str = include_str!("../../../samples/eventbridge-events.jsonl");

    fn message(body: &str) -> InboxMessage {
        inbox_message(
            Record {
                message_id: "m-1".into(),
                body: body.into(),
                sent_timestamp: Some(Utc::now().timestamp_millis().to_string()),
            },
            Utc::now(),
        )
    }

    #[tokio::test]
    async fn an_attempt_gets_its_timeout_when_the_invocation_has_that_much_left() {
        let deps = deps(Ok(snapshot(None)));
        let batch = [message(EVENT.lines().next().unwrap())];
        let (metrics, result) = handle(&deps, &batch, Duration::from_secs(120)).await;
        assert_eq!(result.unwrap(), Vec::<String>::new());
        assert_eq!(
            (
                metrics.received,
                metrics.delivered,
                metrics.routes_config_errors
            ),
            (1, 1, 0)
        );
        let budgets = deps.deliver.0.lock().unwrap().clone();
        assert_eq!(budgets.len(), 1);
        assert!(budgets[0] <= Duration::from_secs(60), "{budgets:?}");
        assert!(budgets[0] > Duration::from_secs(59), "{budgets:?}");
    }

    #[tokio::test]
    async fn without_routes_the_invocation_fails_so_the_batch_stays_in_the_inbox() {
        let deps = deps(Err("AccessDeniedException".into()));
        let (metrics, result) = handle(&deps, &[message("{}")], Duration::from_secs(120)).await;
        let error = result.unwrap_err();
        assert_eq!(error.error_type(), "RoutesUnavailable");
        assert_eq!(
            error.to_string(),
            "no route table to relay with: routes parameter /r: could not read: AccessDeniedException; \
             the batch stays in the inbox until it can be read"
        );
        assert_eq!((metrics.received, metrics.routes_config_errors), (1, 1));
    }

    #[tokio::test]
    async fn stale_routes_still_relay_but_count_a_config_error() {
        let deps = deps(Ok(snapshot(Some("routes parameter /r: invalid"))));
        let batch = [message(EVENT.lines().next().unwrap())];
        let (metrics, result) = handle(&deps, &batch, Duration::from_secs(120)).await;
        result.unwrap();
        assert_eq!((metrics.delivered, metrics.routes_config_errors), (1, 1));
    }

    #[test]
    fn a_record_without_a_readable_sent_timestamp_counts_from_now() {
        let now = Utc::now();
        for stamp in [None, Some("soon".to_string()), Some(i64::MAX.to_string())] {
            let message = inbox_message(
                Record {
                    message_id: "m".into(),
                    body: String::new(),
                    sent_timestamp: stamp,
                },
                now,
            );
            assert_eq!(message.sent_at, now);
        }
        let message = inbox_message(
            Record {
                message_id: "m".into(),
                body: String::new(),
                sent_timestamp: Some("1764000000000".into()),
            },
            now,
        );
        assert_eq!(message.sent_at.timestamp(), 1_764_000_000);
    }
}

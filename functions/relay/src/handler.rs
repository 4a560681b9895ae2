//! One invocation: current routes, then the relay pipeline within the time Lambda gives us.

use std::io::Write;
use std::time::Duration;

use chrono::Utc;
use okta::OrgUrl;
use relay_core::{
    DeadLetterError, DeadLetterSink, Deliver, EnrichContext, InvocationMetrics, RoutesSource,
    RoutesSourceError, relay_invocation,
};

pub struct Deps<R, D, S> {
    pub routes: R,
    pub deliver: D,
    pub dead_letters: S,
    pub org: Option<OrgUrl>,
    /// Kept back from the deadline so failures can still be dead-lettered.
    pub safety_margin: Duration,
}

/// Why an invocation fails. Either way the event is not lost: Lambda retries the invocation and
/// then sends it to the function's on-failure destination.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("no route table to relay with: {0}")]
    Routes(#[from] RoutesSourceError),
    #[error(transparent)]
    DeadLetter(#[from] DeadLetterError),
}

impl HandlerError {
    /// The invocation's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Routes(_) => "RoutesUnavailable",
            Self::DeadLetter(_) => "DeadLetterQueueUnwritable",
        }
    }
}

pub async fn handle<R, D, S>(
    deps: &Deps<R, D, S>,
    payload: &[u8],
    time_left: Duration,
) -> (InvocationMetrics, Result<(), HandlerError>)
where
    R: RoutesSource,
    D: Deliver,
    S: DeadLetterSink,
{
    let mut metrics = InvocationMetrics::default();
    let snapshot = match deps.routes.current().await {
        Ok(snapshot) => snapshot,
        Err(error) => {
            tracing::error!(outcome = "routes_unavailable", error = %error, "cannot relay: no route table");
            metrics.received = 1;
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
    let budget = time_left.saturating_sub(deps.safety_margin);
    match relay_invocation(
        payload,
        &snapshot.table,
        &context,
        budget,
        &deps.deliver,
        &deps.dead_letters,
    )
    .await
    {
        Ok(relayed) => {
            metrics.add(&relayed);
            (metrics, Ok(()))
        }
        Err(error) => {
            tracing::error!(outcome = "dead_letter_failed", error = %error, "dead letters could not be written; failing the invocation");
            metrics.received = 1;
            (metrics, Err(error.into()))
        }
    }
}

/// Writes the invocation's metrics as one EMF line on stdout.
pub fn print_metrics(metrics: &InvocationMetrics, function_name: &str) {
    let document = metrics.to_emf(function_name, Utc::now().timestamp_millis());
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{document}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_core::{
        DeadLetter, DeliveryReport, DeliveryRequest, LoadOptions, Outcome, RouteTable,
        RoutesSnapshot,
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

    fn snapshot(stale: Option<&str>) -> RoutesSnapshot {
        let routes = r#"{"version": 1, "routes": [{"name": "all", "pattern": {"detail": {"uuid": [{"exists": true}]}},
            "endpoint": "https://example.workflows.okta.com/flow", "auth": {"scheme": "none"}}]}"#;
        let table = Arc::new(RouteTable::from_json(routes, LoadOptions::default()).unwrap());
        RoutesSnapshot {
            table,
            stale: stale.map(str::to_owned),
        }
    }

    fn deps(routes: Result<RoutesSnapshot, String>) -> Deps<FixedRoutes, AcceptAll, NoDeadLetters> {
        Deps {
            routes: FixedRoutes(routes),
            deliver: AcceptAll::default(),
            dead_letters: NoDeadLetters,
            org: None,
            safety_margin: Duration::from_secs(3),
        }
    }

    const EVENT: &str = include_str!("../../../samples/eventbridge-events.jsonl");

    #[tokio::test]
    async fn delivers_within_the_time_left_minus_the_safety_margin() {
        let deps = deps(Ok(snapshot(None)));
        let payload = EVENT.lines().next().unwrap().as_bytes();
        let (metrics, result) = handle(&deps, payload, Duration::from_secs(30)).await;
        result.unwrap();
        assert_eq!(
            (
                metrics.received,
                metrics.delivered,
                metrics.routes_config_errors
            ),
            (1, 1, 0)
        );
        assert_eq!(*deps.deliver.0.lock().unwrap(), [Duration::from_secs(27)]);
    }

    #[tokio::test]
    async fn without_routes_the_invocation_fails_so_lambda_keeps_the_event() {
        let deps = deps(Err("AccessDeniedException".into()));
        let (metrics, result) = handle(&deps, b"{}", Duration::from_secs(30)).await;
        let error = result.unwrap_err().to_string();
        assert_eq!(
            error,
            "no route table to relay with: routes parameter /r: could not read: AccessDeniedException"
        );
        assert_eq!((metrics.received, metrics.routes_config_errors), (1, 1));
    }

    #[tokio::test]
    async fn stale_routes_still_relay_but_count_a_config_error() {
        let deps = deps(Ok(snapshot(Some("routes parameter /r: invalid"))));
        let payload = EVENT.lines().next().unwrap().as_bytes();
        let (metrics, result) = handle(&deps, payload, Duration::from_secs(30)).await;
        result.unwrap();
        assert_eq!((metrics.delivered, metrics.routes_config_errors), (1, 1));
    }
}

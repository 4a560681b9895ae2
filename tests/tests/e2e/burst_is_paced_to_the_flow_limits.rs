//! Scenario 7: a burst (a password spray, an outage's backfill) meets Okta Workflows' limit of
//! L invocations per second per flow (help.okta.com, "Workflows system limits"; the fake
//! refuses the excess with 429). N = 60·L events arrive within a second or two, each for two
//! flows limited to L a second: `alerts` takes one event per request, `digest` batches of
//! `maxEvents`. Two relay containers share each flow's limit (`MAX_CONCURRENCY`). Nothing is
//! lost or dead-lettered and no flow sees more than L requests in any 1-second window; the line
//! reports how fast each flow drained against its bound (the unbatched within 1.15·N/L s, the
//! batched within 1.15·N/(L·maxEvents) + maxWaitSeconds). Run with the fake's 429 carrying no
//! `Retry-After` and `Retry-After: 1`, and once more with another caller taking part of the
//! alerts flow's limit, so 429s do happen.
//!
//! `SOAK_EVENTS` (`make soak`) runs it with L = 10 and that many events instead, and holds the
//! drain times to their bounds.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use okta_relay_e2e::report;
use okta_relay_e2e::workflows::{Answer, FlowLimit, WorkflowsEndpoint};
use serde_json::{Value, json};

use crate::world::*;

const MAX_EVENTS: usize = 10;
const MAX_WAIT_SECONDS: u64 = 2;
const CONTAINERS: usize = 2;

struct Burst {
    limit: usize,
    events: usize,
    retry_after_seconds: Option<u64>,
    /// Requests per second another caller sends to the alerts flow.
    other_caller: Option<u64>,
}

impl Burst {
    /// Seconds the unbatched flow needs at its limit, N/L.
    fn alerts_floor(&self) -> f64 {
        self.events as f64 / self.limit as f64
    }

    /// The unbatched flow's drain bound in seconds, 1.15·N/L.
    fn alerts_bound(&self) -> f64 {
        1.15 * self.alerts_floor()
    }

    /// The batched flow's drain bound in seconds, 1.15·N/(L·maxEvents) + maxWaitSeconds.
    fn digest_bound(&self) -> f64 {
        self.alerts_bound() / MAX_EVENTS as f64 + MAX_WAIT_SECONDS as f64
    }
}

fn burst_routes(workflows: &WorkflowsEndpoint, limit: usize) -> Value {
    json!({"version": 1, "routes": [
        {"name": "alerts", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
         "endpoint": workflows.url("/alerts"),
         "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/sessions"},
         "timeoutMs": 5000, "maxRequestsPerSecond": limit},
        {"name": "digest", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
         "endpoint": workflows.url("/digest"),
         "auth": {"scheme": "header", "tokenParameter": "/okta-relay/workflows/sessions"},
         "timeoutMs": 5000, "maxRequestsPerSecond": limit,
         "batch": {"maxEvents": MAX_EVENTS, "maxWaitSeconds": MAX_WAIT_SECONDS}}
    ]})
}

struct Measured {
    /// The median of the alerts flow's accepted requests per second, over 5-second windows.
    alerts_steady_rate: f64,
    alerts_drained: Duration,
    digest_drained: Duration,
    busiest: (usize, usize),
    throttled: usize,
    requests: (usize, usize),
    requeued_messages: u64,
    invocations: u64,
    /// The requests of the first second that held more than the limit, if any.
    crowded: String,
}

/// The requests of the first 1-second window at `flow` holding more than `limit`, one a line.
fn crowded_second(
    received: &[okta_relay_e2e::workflows::Received],
    flow: &str,
    limit: usize,
    started: Instant,
) -> Option<String> {
    let mut arrivals: Vec<_> = received.iter().filter(|r| r.path == flow).collect();
    arrivals.sort_by_key(|r| r.at);
    (0..arrivals.len()).find_map(|first| {
        let window: Vec<_> = arrivals[first..]
            .iter()
            .take_while(|r| r.at.duration_since(arrivals[first].at) < Duration::from_secs(1))
            .collect();
        (window.len() > limit).then(|| {
            window
                .iter()
                .map(|r| {
                    format!(
                        "{flow} at {:.3} s: {} attempt {} answered {:?}",
                        r.at.duration_since(started).as_secs_f64(),
                        r.header("idempotency-key").unwrap_or("-"),
                        r.header("x-okta-relay-attempt").unwrap_or("-"),
                        r.answer
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    })
}

async fn run(burst: &Burst) -> Measured {
    let workflows_routes = |w: &WorkflowsEndpoint| burst_routes(w, burst.limit);
    let mut deployment = Deployment::new(CONTAINERS, 300);
    // docs/DEPLOY.md's sizing: a batch holds two windows of the batched route's share.
    deployment.batch_size = 2 * (burst.limit / CONTAINERS) * MAX_EVENTS;
    // The routes need the endpoint's address: deploy, then replace the table before any event.
    let relay = Relay::deploy(deployment).await;
    put_parameter(
        &relay.ssm,
        ROUTES_PARAMETER,
        &workflows_routes(&relay.workflows).to_string(),
        false,
    )
    .await;
    for flow in ["/alerts", "/digest"] {
        relay.workflows.limit_flow(
            flow,
            FlowLimit {
                per_second: burst.limit,
                retry_after_seconds: burst.retry_after_seconds,
            },
        );
    }
    let stop_other = Arc::new(AtomicBool::new(false));
    let other = burst.other_caller.map(|rate| {
        let url = relay.workflows.url("/alerts");
        let stop = stop_other.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::SeqCst) {
                let _ = client
                    .post(&url)
                    .header("idempotency-key", "another-caller")
                    .body("{}")
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(1000 / rate.max(1))).await;
            }
        })
    });

    let events: Vec<Value> = (0..burst.events).map(event).collect();
    let payloads: Vec<Vec<u8>> = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    let started = Instant::now();
    relay.send(&payloads).await;
    // The unbatched flow alone needs N/L seconds: at soak scale (20,000 events, 2,300 s) far
    // more than the drain timeout the other scenarios share.
    relay
        .drain(DRAIN_TIMEOUT + Duration::from_secs_f64(burst.alerts_bound()))
        .await;
    stop_other.store(true, Ordering::SeqCst);
    if let Some(other) = other {
        let _ = other.await;
    }

    let received = relay.workflows.received();
    let crowded = ["/alerts", "/digest"]
        .iter()
        .filter_map(|flow| crowded_second(&received, flow, burst.limit, started))
        .collect::<Vec<_>>()
        .join("\n");
    let ours = |flow: &str| {
        received
            .iter()
            .filter(|r| r.path == flow && r.header("idempotency-key") != Some("another-caller"))
            .collect::<Vec<_>>()
    };
    let (alerts, digest) = (ours("/alerts"), ours("/digest"));
    let delivered_alerts: BTreeSet<&str> = alerts
        .iter()
        .filter(|r| r.succeeded())
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    let mut digested = BTreeSet::new();
    for request in digest.iter().filter(|r| r.succeeded()) {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let members = body["events"].as_array().unwrap();
        assert!(members.len() <= MAX_EVENTS, "{}", members.len());
        assert_eq!(body["relay"]["batchSize"], members.len());
        for member in members {
            digested.insert(member["event"]["uuid"].as_str().unwrap().to_string());
        }
    }
    let uuids: BTreeSet<String> = events
        .iter()
        .map(|e| e["detail"]["uuid"].as_str().unwrap().to_string())
        .collect();
    let lost_alerts = uuids
        .iter()
        .filter(|u| !delivered_alerts.contains(u.as_str()))
        .count();
    let lost_digest = uuids.iter().filter(|u| !digested.contains(*u)).count();
    let letters = relay.dead_letters().await;
    assert_eq!(
        (lost_alerts, lost_digest, letters.len()),
        (0, 0, 0),
        "nothing lost or dead-lettered: {letters:?}"
    );
    let last_success = |requests: &[&okta_relay_e2e::workflows::Received]| {
        requests
            .iter()
            .filter(|r| r.succeeded())
            .map(|r| r.at.duration_since(started))
            .max()
            .unwrap_or_default()
    };
    let logs = relay.logs();
    assert_no_secrets("the relay's logs", &logs);
    let requeued_messages = metric_sum(&logs, "Requeued");
    let stats = relay.mapping.stats();
    let mut per_window = std::collections::BTreeMap::new();
    for request in alerts.iter().filter(|r| r.succeeded()) {
        *per_window
            .entry(request.at.duration_since(started).as_secs() / 5)
            .or_insert(0u32) += 1;
    }
    let mut rates: Vec<f64> = per_window.values().map(|n| f64::from(*n) / 5.0).collect();
    rates.sort_by(f64::total_cmp);
    Measured {
        alerts_steady_rate: rates.get(rates.len() / 2).copied().unwrap_or_default(),
        alerts_drained: last_success(&alerts),
        digest_drained: last_success(&digest),
        busiest: (
            relay.workflows.busiest_second("/alerts"),
            relay.workflows.busiest_second("/digest"),
        ),
        throttled: alerts
            .iter()
            .chain(&digest)
            .filter(|r| matches!(r.answer, Answer::TooManyRequests { .. }))
            .count(),
        requests: (alerts.len(), digest.len()),
        requeued_messages,
        invocations: stats.invocations.load(Ordering::SeqCst),
        crowded,
    }
}

fn line(name: &str, burst: &Burst, m: &Measured) -> String {
    format!(
        "scenario 7 ({name}): {} events for 2 flows limited to {} requests/s, {CONTAINERS} \
         containers: 0 lost, 0 dead-lettered; busiest second alerts {} digest {}; alerts at a \
         median {:.1} requests/s, drained in {:.1} s (bound {:.1} s, floor {:.1} s) with {} \
         requests, digest in {:.1} s (bound \
         {:.1} s) with {} batches; {} refused with 429; {} messages went back to the inbox (paced \
         out, throttled or a batch filling); {} invocations",
        burst.events,
        burst.limit,
        m.busiest.0,
        m.busiest.1,
        m.alerts_steady_rate,
        m.alerts_drained.as_secs_f64(),
        burst.alerts_bound(),
        burst.alerts_floor(),
        m.requests.0,
        m.digest_drained.as_secs_f64(),
        burst.digest_bound(),
        m.requests.1,
        m.throttled,
        m.requeued_messages,
        m.invocations,
    )
}

/// No flow ever sees more than its limit in a second. How fast the flows drained is held to
/// the bounds by `make soak` (thousands of events, where the burst's first and last seconds
/// weigh little) and reported here: at 240 events the unbatched flow drains in 65-70 s against
/// a bound of 69 s, and a fresh-clone CI run measured 70.0 s, so asserting it here would fail
/// CI on machine load rather than on the relay.
fn assert_within_the_limits(name: &str, burst: &Burst, m: &Measured, drain_bounds: bool) {
    assert!(
        m.busiest.0 <= burst.limit && m.busiest.1 <= burst.limit,
        "{name}: a flow saw more than {} requests in one second: {:?}\n{}",
        burst.limit,
        m.busiest,
        m.crowded
    );
    if !drain_bounds {
        return;
    }
    assert!(
        m.alerts_drained.as_secs_f64() <= burst.alerts_bound(),
        "{name}: alerts drained in {:?}",
        m.alerts_drained
    );
    assert!(
        m.digest_drained.as_secs_f64() <= burst.digest_bound(),
        "{name}: digest drained in {:?}",
        m.digest_drained
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_7_a_burst_is_paced_to_each_flows_limit_and_nothing_is_dead_lettered() {
    let soak: Option<usize> = std::env::var("SOAK_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok());
    let (limit, events) = match soak {
        Some(events) => (10, events),
        None => (4, 240),
    };
    for retry_after_seconds in [None, Some(1)] {
        let burst = Burst {
            limit,
            events,
            retry_after_seconds,
            other_caller: None,
        };
        let name = match retry_after_seconds {
            None => "429 without Retry-After",
            Some(_) => "429 with Retry-After: 1",
        };
        let measured = run(&burst).await;
        report(line(name, &burst, &measured));
        assert_within_the_limits(name, &burst, &measured, soak.is_some());
        if soak.is_some() {
            return;
        }
    }
    // Another caller takes 1 of the alerts flow's requests a second: the relay's share no
    // longer fits, 429s come back, and they go back to the inbox like pacing does.
    let burst = Burst {
        limit,
        events: events / 2,
        retry_after_seconds: None,
        other_caller: Some(2),
    };
    let measured = run(&burst).await;
    let name = "a shared limit, 429 without Retry-After";
    report(line(name, &burst, &measured));
    assert!(
        measured.busiest.1 <= burst.limit,
        "{name}: the digest flow saw {} requests in one second\n{}",
        measured.busiest.1,
        measured.crowded
    );
}

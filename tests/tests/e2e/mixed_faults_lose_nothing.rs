//! Scenario 2: 10,000 events through the inbox and release relays while the endpoint fails
//! about 30 % of attempts (5xx, 429, timeouts, resets): every event reaches every route it
//! matches, or is dead-lettered (refused for good); what may pass later goes back to the inbox
//! for that route alone; nothing is lost, no secret leaks.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use okta_relay_e2e::report;
use okta_relay_e2e::workflows::Answer;
use serde_json::Value;

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scenario_2_ten_thousand_events_under_mixed_faults_lose_nothing() {
    let mut relay = Relay::start(8, 300).await;
    relay.workflows.script(mixed_faults);
    let events: Vec<Value> = (0..10_000).map(event).collect();
    let payloads: Vec<Vec<u8>> = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    let started = Instant::now();
    relay.relay_all(&payloads).await;
    let elapsed = started.elapsed();
    relay.assert_all_running();
    let stats = relay.mapping.stats();
    let failed_invocations = stats
        .failed_invocations
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        failed_invocations,
        0,
        "no invocation failed: {}",
        relay.logs()
    );

    let received = relay.workflows.received();
    let attempts = received.len();
    let failed_attempts = received.iter().filter(|r| !r.succeeded()).count();
    let mut delivered: BTreeMap<(String, &str), usize> = BTreeMap::new();
    let mut reached: BTreeMap<(String, &str), usize> = BTreeMap::new();
    // A response slower than the relay's timeout still reached the flow, which may have run.
    let mut slow: BTreeSet<(String, &str)> = BTreeSet::new();
    for request in &received {
        let key = (
            request.header("idempotency-key").unwrap().to_string(),
            route_of(&request.path),
        );
        *reached.entry(key.clone()).or_default() += 1;
        if matches!(request.answer, Answer::Slow(_)) {
            slow.insert(key.clone());
        }
        if request.succeeded() {
            *delivered.entry(key).or_default() += 1;
        }
    }
    let letters = relay.dead_letters().await;
    let mut dead_lettered: BTreeSet<(String, String)> = BTreeSet::new();
    for letter in &letters {
        assert_eq!(letter["kind"], "delivery_failed", "{letter}");
        assert!(!letter["reason"].as_str().unwrap().is_empty(), "{letter}");
        assert!(
            letter["event"]["detail"]["uuid"].is_string(),
            "the event travels with its dead letter"
        );
        dead_lettered.insert((
            letter["uuid"].as_str().unwrap().into(),
            letter["route"].as_str().unwrap().into(),
        ));
    }
    let (mut expected, mut lost) = (0, Vec::new());
    for event in &events {
        let uuid = event["detail"]["uuid"].as_str().unwrap().to_string();
        for route in expected_routes(event) {
            expected += 1;
            let key = (uuid.clone(), route);
            if !delivered.contains_key(&key)
                && !dead_lettered.contains(&(uuid.clone(), route.to_string()))
            {
                lost.push(key);
            }
        }
    }
    let logs = relay.logs();
    let duplicates: usize = delivered.values().map(|n| n - 1).sum();
    let reached_twice = reached.values().filter(|n| **n > 1).count();
    let possible_duplicates = slow
        .iter()
        .filter(|key| delivered.contains_key(*key))
        .count();
    report(format!(
        "scenario 2: {} events sent, {} deliveries expected, {} delivered, {} dead-lettered, {} lost, \
         {} duplicates (2xx twice), {possible_duplicates} possible duplicates (a timed-out attempt \
         reached the flow, a retry succeeded), {} (event, route) reached the endpoint more than \
         once; {attempts} attempts, {:.1} % failed; {:.1} s; mapping: {}; relay: {} requeue \
         writes failed, {} dead-letter writes failed",
        events.len(),
        expected,
        delivered.len(),
        dead_lettered.len(),
        lost.len(),
        duplicates,
        reached_twice,
        100.0 * failed_attempts as f64 / attempts as f64,
        elapsed.as_secs_f64(),
        relay.mapping.stats(),
        logs.matches("\"requeue_failed\"").count(),
        logs.matches("\"dead_letter_failed\"").count(),
    ));
    assert!(lost.is_empty(), "lost: {:?}", &lost[..lost.len().min(10)]);
    assert!(
        failed_attempts * 100 >= attempts * 25,
        "at least ~30 % of attempts failed"
    );
    assert_no_secrets("the relay's logs", &logs);
    assert_no_secrets(
        "the dead letters",
        &serde_json::to_string(&letters).unwrap(),
    );
}

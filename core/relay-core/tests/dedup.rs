#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The de-duplicating delivery with an in-memory idempotency store: duplicates are skipped and
//! counted, failures release the claim, a live lease holds off a concurrent duplicate, and a
//! store that cannot answer never stops a delivery.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use chrono::Utc;
use relay_core::dedup::LEASE_MARGIN;

mod support;
use relay_core::{
    Claim, DeadLetter, DeadLetterError, DeadLetterSink, Deduplicated, Deliver, DeliveryKey,
    DeliveryReport, DeliveryRequest, EnrichContext, IdempotencyStore, LoadOptions, RouteTable,
    StoreError, relay_invocation,
};
use serde_json::json;

const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");
const BUDGET: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Entry {
    InFlight,
    Delivered,
}

#[derive(Default)]
struct MemoryStore {
    entries: Mutex<HashMap<String, Entry>>,
    down: AtomicBool,
    leases: Mutex<Vec<Duration>>,
}

impl MemoryStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError {
                store: "memory".into(),
                reason: "ProvisionedThroughputExceededException".into(),
            });
        }
        Ok(())
    }

    fn entry(&self, key: &str) -> Option<Entry> {
        self.entries.lock().unwrap().get(key).copied()
    }
}

impl IdempotencyStore for MemoryStore {
    async fn claim(&self, key: DeliveryKey<'_>, lease: Duration) -> Result<Claim, StoreError> {
        self.check()?;
        self.leases.lock().unwrap().push(lease);
        let mut entries = self.entries.lock().unwrap();
        Ok(match entries.get(&key.to_string()) {
            Some(Entry::Delivered) => Claim::Delivered,
            Some(Entry::InFlight) => Claim::InFlight,
            None => {
                entries.insert(key.to_string(), Entry::InFlight);
                Claim::Claimed
            }
        })
    }

    async fn complete(&self, key: DeliveryKey<'_>) -> Result<(), StoreError> {
        self.check()?;
        self.entries
            .lock()
            .unwrap()
            .insert(key.to_string(), Entry::Delivered);
        Ok(())
    }

    async fn release(&self, key: DeliveryKey<'_>) -> Result<(), StoreError> {
        self.check()?;
        self.entries.lock().unwrap().remove(&key.to_string());
        Ok(())
    }
}

/// Counts the deliveries that reach the endpoint; fails them while `failing` is set.
#[derive(Default)]
struct Endpoint {
    sent: AtomicU32,
    failing: AtomicBool,
}

impl Deliver for Endpoint {
    async fn deliver(&self, _request: DeliveryRequest<'_>) -> DeliveryReport {
        self.sent.fetch_add(1, Ordering::SeqCst);
        support::one_attempt(self.failing.load(Ordering::SeqCst))
    }
}

#[derive(Default)]
struct Letters(Mutex<Vec<DeadLetter>>);

impl DeadLetterSink for Letters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        self.0.lock().unwrap().extend_from_slice(letters);
        Ok(())
    }
}

fn table() -> RouteTable {
    let routes = json!({"version": 1, "routes": [
        {"name": "all", "pattern": {"detail": {"uuid": [{"exists": true}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/1/invoke", "auth": {"scheme": "none"}},
        {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/2/invoke", "auth": {"scheme": "none"}}
    ]});
    RouteTable::from_json(&routes.to_string(), LoadOptions::default()).unwrap()
}

fn session_start() -> &'static [u8] {
    SAMPLES
        .lines()
        .find(|line| line.contains("\"eventType\":\"user.session.start\""))
        .unwrap()
        .as_bytes()
}

async fn relay(
    deliver: &impl Deliver,
    letters: &Letters,
) -> Result<relay_core::InvocationMetrics, DeadLetterError> {
    let context = EnrichContext {
        org: None,
        now: Utc::now(),
    };
    relay_invocation(
        session_start(),
        &table(),
        &context,
        BUDGET,
        deliver,
        letters,
    )
    .await
}

fn uuid() -> String {
    let event: serde_json::Value = serde_json::from_slice(session_start()).unwrap();
    event["detail"]["uuid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_stream_duplicate_reaches_each_route_once() {
    let deliver = Deduplicated::new(Endpoint::default(), MemoryStore::default());
    let letters = Letters::default();

    let first = relay(&deliver, &letters).await.unwrap();
    let second = relay(&deliver, &letters).await.unwrap();

    assert_eq!(deliver.inner().sent.load(Ordering::SeqCst), 2);
    assert_eq!((first.delivered, first.duplicates_skipped), (2, 0));
    assert_eq!(
        (second.matched, second.delivered, second.duplicates_skipped),
        (1, 0, 2)
    );
    assert_eq!((second.failed, second.dead_lettered), (0, 0));
    assert!(letters.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_delivery_releases_its_claim_so_a_retry_delivers() {
    let store = MemoryStore::default();
    let deliver = Deduplicated::new(Endpoint::default(), store);
    deliver.inner().failing.store(true, Ordering::SeqCst);
    let letters = Letters::default();

    let failed = relay(&deliver, &letters).await.unwrap();
    assert_eq!((failed.failed, failed.dead_lettered), (2, 2));

    deliver.inner().failing.store(false, Ordering::SeqCst);
    let retried = relay(&deliver, &letters).await.unwrap();
    assert_eq!((retried.delivered, retried.duplicates_skipped), (2, 0));
    assert_eq!(deliver.inner().sent.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_live_lease_holds_off_a_concurrent_duplicate() {
    let store = MemoryStore::default();
    let key = format!("all#{}", uuid());
    store
        .entries
        .lock()
        .unwrap()
        .insert(key.clone(), Entry::InFlight);
    let deliver = Deduplicated::new(Endpoint::default(), store);

    let metrics = relay(&deliver, &Letters::default()).await.unwrap();

    // `all` is in another invocation's hands; `sessions` is this one's.
    assert_eq!((metrics.delivered, metrics.duplicates_skipped), (1, 1));
    assert_eq!(deliver.inner().sent.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unreachable_store_never_stops_a_delivery() {
    let store = MemoryStore::default();
    store.down.store(true, Ordering::SeqCst);
    let deliver = Deduplicated::new(Endpoint::default(), store);
    let letters = Letters::default();

    let first = relay(&deliver, &letters).await.unwrap();
    let second = relay(&deliver, &letters).await.unwrap();

    // At-least-once, as without the store: both copies delivered, nothing lost.
    assert_eq!((first.delivered, second.delivered), (2, 2));
    assert_eq!(second.duplicates_skipped, 0);
    assert_eq!(deliver.inner().sent.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn delivered_keys_are_route_and_uuid_and_leases_outlive_the_budget() {
    let deliver = Deduplicated::new(Endpoint::default(), MemoryStore::default());
    relay(&deliver, &Letters::default()).await.unwrap();

    let store = deliver.store();
    for route in ["all", "sessions"] {
        let key = format!("{route}#{}", uuid());
        assert_eq!(store.entry(&key), Some(Entry::Delivered), "{key}");
    }
    let leases = store.leases.lock().unwrap();
    assert_eq!(*leases, [BUDGET + LEASE_MARGIN, BUDGET + LEASE_MARGIN]);
}

/// A flow that ran but whose answer came too late: the first request to each route times out
/// (as the Workflows client reports it), the flow having run anyway; later ones answer 200.
#[derive(Default)]
struct RunsButAnswersLate {
    keys: Mutex<Vec<(String, String)>>,
}

impl Deliver for RunsButAnswersLate {
    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        let mut keys = self.keys.lock().unwrap();
        let first = !keys.iter().any(|(route, _)| *route == request.route.name);
        keys.push((request.route.name.clone(), request.uuid.to_owned()));
        let mut report = support::one_attempt(false);
        if first {
            report.outcome = relay_core::Outcome::GaveUp(relay_core::Failure {
                reason: "timed out after 60000 ms".into(),
                last_status: None,
                retry_after: None,
            });
        }
        report
    }
}

/// docs/RELAY.md, "Synchronous flows and timeouts": a timed-out attempt is not recorded as
/// delivered, so its retry is sent again with the same idempotency-key (the flow may have run:
/// it drops the repeat by that key) rather than skipped (which would lose the event whenever
/// the flow had not run).
#[tokio::test]
async fn a_timed_out_attempt_is_sent_again_with_the_same_key_not_skipped() {
    let deliver = Deduplicated::new(RunsButAnswersLate::default(), MemoryStore::default());
    let letters = Letters::default();

    let timed_out = relay(&deliver, &letters).await.unwrap();
    assert_eq!((timed_out.delivered, timed_out.failed), (0, 2));
    for route in ["all", "sessions"] {
        let key = format!("{route}#{}", uuid());
        assert_eq!(deliver.store().entry(&key), None, "{key}: released");
    }

    let retried = relay(&deliver, &letters).await.unwrap();
    assert_eq!((retried.delivered, retried.duplicates_skipped), (2, 0));
    let keys = deliver.inner().keys.lock().unwrap();
    assert_eq!(keys.len(), 4);
    assert!(keys.iter().all(|(_, key)| *key == uuid()), "{keys:?}");
}

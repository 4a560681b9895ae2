#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `redrive::drain` over an in-memory queue that behaves like SQS (received messages are hidden
//! until deleted or released): each message handled once per drain, deleted only when every
//! route accepted it, and nothing left hidden when a drain stops early.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use relay_core::redrive::{
    DeadLetterQueue, DrainOptions, Handled, QueueError, QueuedLetter, Redriver, drain,
};
use relay_core::{Deliver, DeliveryReport, DeliveryRequest, LoadOptions, RouteTable};
use serde_json::json;

mod support;

/// Message id → (body, hidden).
#[derive(Default)]
struct MemoryQueue(Mutex<BTreeMap<String, (String, bool)>>);

impl MemoryQueue {
    fn with(bodies: &[String]) -> Self {
        let queue = Self::default();
        for (index, body) in bodies.iter().enumerate() {
            queue
                .0
                .lock()
                .unwrap()
                .insert(format!("m-{index}"), (body.clone(), false));
        }
        queue
    }

    fn visible(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .values()
            .filter(|(_, hidden)| !hidden)
            .count()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

impl DeadLetterQueue for MemoryQueue {
    async fn receive(&self, _hide: Duration) -> Result<Vec<QueuedLetter>, QueueError> {
        let mut messages = self.0.lock().unwrap();
        Ok(messages
            .iter_mut()
            .filter(|(_, (_, hidden))| !*hidden)
            .take(2)
            .map(|(id, (body, hidden))| {
                *hidden = true;
                QueuedLetter {
                    message_id: id.clone(),
                    receipt_handle: id.clone(),
                    body: body.clone(),
                }
            })
            .collect())
    }

    async fn delete(&self, letter: &QueuedLetter) -> Result<(), QueueError> {
        self.0.lock().unwrap().remove(&letter.receipt_handle);
        Ok(())
    }

    async fn release(&self, letter: &QueuedLetter) -> Result<(), QueueError> {
        if let Some((_, hidden)) = self.0.lock().unwrap().get_mut(&letter.receipt_handle) {
            *hidden = false;
        }
        Ok(())
    }
}

/// Accepts every event but `u-failing`.
struct Endpoint;

impl Deliver for Endpoint {
    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        support::one_attempt(request.uuid == "u-failing")
    }
}

fn table() -> RouteTable {
    let routes = json!({"version": 1, "routes": [
        {"name": "all", "pattern": {"detail": {"uuid": [{"exists": true}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/1/invoke", "auth": {"scheme": "none"}}
    ]});
    RouteTable::from_json(&routes.to_string(), LoadOptions::default()).unwrap()
}

fn letter(uuid: &str) -> String {
    let sample = include_str!("../../../samples/eventbridge-events.jsonl")
        .lines()
        .next()
        .unwrap();
    let mut event: serde_json::Value = serde_json::from_str(sample).unwrap();
    event["detail"]["uuid"] = json!(uuid);
    json!({"schema": "okta-relay.dead-letter/v1", "kind": "delivery_failed", "uuid": uuid,
           "route": "all", "event": event})
    .to_string()
}

fn options(limit: usize) -> DrainOptions {
    DrainOptions {
        dry_run: false,
        limit,
        budget: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn delivered_messages_are_deleted_and_the_rest_handled_once_and_released() {
    let queue = MemoryQueue::with(&[
        letter("u-1"),
        letter("u-failing"),
        "{\"kind\": \"mystery\"}".into(),
        letter("u-2"),
        letter("u-3"),
    ]);
    let mut seen = Vec::new();
    let tally = drain_endpoint(&queue, &options(100), || true, |h| seen.push(h.clone()))
        .await
        .unwrap();

    assert_eq!(
        (tally.redriven, tally.kept, tally.not_redrivable),
        (3, 1, 1)
    );
    assert_eq!(seen.len(), 5, "each message once: {seen:?}");
    assert_eq!((queue.len(), queue.visible()), (2, 2));
    assert!(
        seen.iter()
            .any(|h| matches!(h, Handled::Kept { uuid: Some(u), reason, .. }
        if u == "u-failing" && reason.contains("HTTP 503")))
    );
}

#[tokio::test]
async fn a_drain_told_to_stop_leaves_nothing_hidden() {
    let queue = MemoryQueue::with(&[letter("u-1"), letter("u-2"), letter("u-3")]);
    let handled = std::cell::Cell::new(0);
    let tally = drain_endpoint(
        &queue,
        &options(100),
        || handled.get() < 1,
        |_| handled.set(handled.get() + 1),
    )
    .await
    .unwrap();

    assert_eq!(tally.redriven, 1);
    assert_eq!(
        (queue.len(), queue.visible()),
        (2, 2),
        "the unhandled one of the batch is back"
    );
}

#[tokio::test]
async fn the_limit_caps_the_messages_handled_and_a_dry_run_deletes_nothing() {
    let queue = MemoryQueue::with(&[letter("u-1"), letter("u-2"), letter("u-3")]);
    let tally = drain_endpoint(&queue, &options(2), || true, |_| {})
        .await
        .unwrap();
    assert_eq!(tally.redriven, 2);
    assert_eq!((queue.len(), queue.visible()), (1, 1));

    let dry = DrainOptions {
        dry_run: true,
        ..options(100)
    };
    let tally = drain_endpoint(&queue, &dry, || true, |_| {}).await.unwrap();
    assert_eq!((tally.would_send, tally.redriven), (1, 0));
    assert_eq!((queue.len(), queue.visible()), (1, 1));
}

/// Drains `queue` with [`table`] and the [`Endpoint`].
async fn drain_endpoint(
    queue: &MemoryQueue,
    options: &DrainOptions,
    keep_going: impl Fn() -> bool,
    on_message: impl FnMut(&Handled),
) -> Result<relay_core::redrive::Tally, QueueError> {
    let table = table();
    let redriver = Redriver {
        table: &table,
        org: None,
        deliver: &Endpoint,
    };
    drain(queue, &redriver, options, keep_going, on_message).await
}

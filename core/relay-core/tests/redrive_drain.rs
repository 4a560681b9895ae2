#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! `redrive::drain` over an in-memory queue that behaves like SQS (received messages are hidden
//! until deleted or released): each message handled once per drain, put back in the inbox owing
//! exactly its failed route, deleted only once the inbox has it, and nothing left hidden when a
//! drain stops early.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use relay_core::redrive::{
    DeadLetterQueue, DrainOptions, Handled, QueueError, QueuedLetter, Redriver, drain,
};
use relay_core::{Enqueue, Inbox, InboxError, LoadOptions, Retry, RouteTable};
use serde_json::json;

/// A message: its body, whether it is hidden, when it was sent.
type Stored = (String, bool, Option<DateTime<Utc>>);

/// Message id → message.
#[derive(Default)]
struct MemoryQueue(Mutex<BTreeMap<String, Stored>>);

impl MemoryQueue {
    fn with(bodies: &[String]) -> Self {
        let queue = Self::default();
        for (index, body) in bodies.iter().enumerate() {
            queue
                .0
                .lock()
                .unwrap()
                .insert(format!("m-{index}"), (body.clone(), false, None));
        }
        queue
    }

    /// A message the queue receives now, as the relay's dead letters do.
    fn send(&self, id: String, body: String) {
        self.0
            .lock()
            .unwrap()
            .insert(id, (body, false, Some(Utc::now())));
    }

    fn visible(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .values()
            .filter(|(_, hidden, _)| !hidden)
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
            .filter(|(_, (_, hidden, _))| !*hidden)
            .take(2)
            .map(|(id, (body, hidden, sent_at))| {
                *hidden = true;
                QueuedLetter {
                    message_id: id.clone(),
                    receipt_handle: id.clone(),
                    body: body.clone(),
                    sent_at: *sent_at,
                }
            })
            .collect())
    }

    async fn delete(&self, letter: &QueuedLetter) -> Result<(), QueueError> {
        self.0.lock().unwrap().remove(&letter.receipt_handle);
        Ok(())
    }

    async fn release(&self, letter: &QueuedLetter) -> Result<(), QueueError> {
        if let Some((_, hidden, _)) = self.0.lock().unwrap().get_mut(&letter.receipt_handle) {
            *hidden = false;
        }
        Ok(())
    }
}

/// The relay's inbox: takes every message but those about `u-unwritable`.
#[derive(Default)]
struct MemoryInbox(Mutex<Vec<Enqueue>>);

impl Inbox for MemoryInbox {
    async fn send(&self, messages: &[Enqueue]) -> Result<(), InboxError> {
        if messages.iter().any(|m| m.body.contains("u-unwritable")) {
            return Err(InboxError {
                unsent: (0..messages.len()).collect(),
                total: messages.len(),
                inbox: "memory".into(),
                reason: "AccessDenied".into(),
            });
        }
        self.0.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

impl MemoryInbox {
    fn retries(&self) -> Vec<Retry> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|m| Retry::read(&m.body).unwrap().unwrap())
            .collect()
    }
}

fn table() -> RouteTable {
    let routes = json!({"version": 1, "routes": [
        {"name": "all", "pattern": {"detail": {"uuid": [{"exists": true}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/1/invoke", "auth": {"scheme": "none"}},
        {"name": "other", "pattern": {"detail": {"uuid": [{"exists": true}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/2/invoke", "auth": {"scheme": "none"}}
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
        hide: Duration::from_secs(5),
    }
}

#[tokio::test]
async fn requeued_messages_are_deleted_and_the_rest_handled_once_and_released() {
    let queue = MemoryQueue::with(&[
        letter("u-1"),
        letter("u-unwritable"),
        "{\"kind\": \"mystery\"}".into(),
        letter("u-2"),
        letter("u-3"),
    ]);
    let inbox = MemoryInbox::default();
    let (tally, seen) = drain_all(&queue, &inbox).await;

    assert_eq!(
        (tally.redriven, tally.kept, tally.not_redrivable),
        (3, 1, 1)
    );
    assert_eq!(seen.len(), 5, "each message once: {seen:?}");
    assert_eq!((queue.len(), queue.visible()), (2, 2));
    assert!(
        seen.iter()
            .any(|h| matches!(h, Handled::Kept { uuid: Some(u), reason, .. }
        if u == "u-unwritable" && reason.contains("AccessDenied")))
    );
    // Each goes back owing the route it failed on, not `other`, which it also matches.
    let retries = inbox.retries();
    assert_eq!(retries.len(), 3);
    for retry in &retries {
        assert_eq!(retry.retry.routes, ["all"]);
        assert_eq!(retry.retry.attempts, 0);
        assert_eq!(
            retry.event["source"],
            "aws.partner/okta.com/example/okta-relay"
        );
    }
}

#[tokio::test]
async fn a_letter_whose_route_is_gone_stays_and_an_event_goes_back_for_every_route() {
    let gone = letter("u-gone").replace("\"route\":\"all\"", "\"route\":\"removed\"");
    let sample = include_str!("../../../samples/eventbridge-events.jsonl")
        .lines()
        .next()
        .unwrap();
    let queue = MemoryQueue::with(&[gone, sample.to_owned()]);
    let inbox = MemoryInbox::default();
    let (tally, seen) = drain_all(&queue, &inbox).await;
    assert_eq!((tally.redriven, tally.kept), (1, 1));
    assert!(seen.iter().any(|h| matches!(h, Handled::Kept { reason, .. }
        if reason == "route `removed` is no longer in the route table or no longer matches this event")));
    assert_eq!(inbox.retries()[0].retry.routes, ["all", "other"]);
}

/// The relay behind the inbox, while the flow still refuses: everything put back is
/// dead-lettered again, as a new message.
struct RefusingRelay<'q> {
    dead_letters: &'q MemoryQueue,
    sent: Mutex<usize>,
}

impl Inbox for RefusingRelay<'_> {
    async fn send(&self, messages: &[Enqueue]) -> Result<(), InboxError> {
        for message in messages {
            let mut sent = self.sent.lock().unwrap();
            *sent += 1;
            let retry = Retry::read(&message.body).unwrap().unwrap();
            let uuid = retry.event["detail"]["uuid"].as_str().unwrap();
            self.dead_letters
                .send(format!("again-{sent}"), letter(uuid));
        }
        Ok(())
    }
}

#[tokio::test]
async fn what_is_dead_lettered_again_during_a_drain_waits_for_the_next_one() {
    let queue = MemoryQueue::with(&[letter("u-1"), letter("u-2")]);
    let relay = RefusingRelay {
        dead_letters: &queue,
        sent: Mutex::new(0),
    };
    let table = table();
    let redriver = Redriver {
        table: &table,
        org: None,
        inbox: &relay,
    };
    let tally = drain(&queue, &redriver, &options(100), || true, |_| {})
        .await
        .unwrap();
    assert_eq!(tally.redriven, 2, "each letter once, not its copies");
    assert_eq!(*relay.sent.lock().unwrap(), 2);
    assert_eq!(
        (queue.len(), queue.visible()),
        (2, 2),
        "the copies wait, visible"
    );
}

#[tokio::test]
async fn a_drain_told_to_stop_leaves_nothing_hidden() {
    let queue = MemoryQueue::with(&[letter("u-1"), letter("u-2"), letter("u-3")]);
    let handled = std::cell::Cell::new(0);
    let tally = drain_to(
        &queue,
        &MemoryInbox::default(),
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
    let inbox = MemoryInbox::default();
    let tally = drain_to(&queue, &inbox, &options(2), || true, |_| {})
        .await
        .unwrap();
    assert_eq!(tally.redriven, 2);
    assert_eq!((queue.len(), queue.visible()), (1, 1));

    let dry = DrainOptions {
        dry_run: true,
        ..options(100)
    };
    let tally = drain_to(&queue, &inbox, &dry, || true, |_| {})
        .await
        .unwrap();
    assert_eq!((tally.would_send, tally.redriven), (1, 0));
    assert_eq!((queue.len(), queue.visible()), (1, 1));
    assert_eq!(
        inbox.retries().len(),
        2,
        "the dry run put nothing in the inbox"
    );
}

/// Drains all of `queue` into `inbox`; answers the tally and every outcome.
async fn drain_all(
    queue: &MemoryQueue,
    inbox: &MemoryInbox,
) -> (relay_core::redrive::Tally, Vec<Handled>) {
    let mut seen = Vec::new();
    let tally = drain_to(
        queue,
        inbox,
        &options(100),
        || true,
        |h| seen.push(h.clone()),
    )
    .await
    .unwrap();
    (tally, seen)
}

/// Drains `queue` into `inbox` with [`table`].
async fn drain_to(
    queue: &MemoryQueue,
    inbox: &MemoryInbox,
    options: &DrainOptions,
    keep_going: impl Fn() -> bool,
    on_message: impl FnMut(&Handled),
) -> Result<relay_core::redrive::Tally, QueueError> {
    let table = table();
    let redriver = Redriver {
        table: &table,
        org: None,
        inbox,
    };
    drain(queue, &redriver, options, keep_going, on_message).await
}

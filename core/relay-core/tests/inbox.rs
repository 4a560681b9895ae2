#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! One inbox batch with in-memory flows, inbox and dead-letter queue: exactly the routes that
//! failed come back, refusals and old events are dead-lettered, batches are cut and wait to
//! fill, pacing spaces the POSTs, and a failed write hands the message out again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use relay_core::inbox::RETRY_SCHEMA;
use relay_core::{
    BatchOutcome, BatchPorts, DeadLetter, DeadLetterError, DeadLetterSink, Deliver, DeliveryReport,
    DeliveryRequest, Enqueue, EnrichContext, Failure, Inbox, InboxError, InboxMessage, LoadOptions,
    Outcome, Pacer, Retry, RetrySettings, RouteTable, relay_batch,
};
use serde_json::{Value, json};
use tokio::time::Instant;

const SAMPLES: &str = include_str!("../../../samples/eventbridge-events.jsonl");

/// Answers each route as scripted (200 otherwise) and records every POST: (route, key, body,
/// when it started).
#[derive(Default)]
struct Flows {
    answers: HashMap<String, Outcome>,
    posts: Mutex<Vec<(String, String, Value, Instant)>>,
}

impl Flows {
    fn answering(route: &str, outcome: Outcome) -> Self {
        Self {
            answers: HashMap::from([(route.to_owned(), outcome)]),
            ..Self::default()
        }
    }

    fn posts_to(&self, route: &str) -> Vec<(String, Value, Instant)> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(name, ..)| name == route)
            .map(|(_, key, body, at)| (key.clone(), body.clone(), *at))
            .collect()
    }
}

impl Deliver for Flows {
    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        self.posts.lock().unwrap().push((
            request.route.name.clone(),
            request.uuid.to_owned(),
            serde_json::from_slice(&request.body).unwrap(),
            Instant::now(),
        ));
        let now = Utc::now();
        DeliveryReport {
            outcome: self
                .answers
                .get(&request.route.name)
                .cloned()
                .unwrap_or(Outcome::Delivered),
            answer: None,
            attempts: 1,
            first_attempt_at: now,
            last_attempt_at: now,
            latency: Duration::from_millis(3),
        }
    }
}

#[derive(Default)]
struct Queues {
    broken_inbox: bool,
    inbox: Mutex<Vec<Enqueue>>,
    letters: Mutex<Vec<DeadLetter>>,
}

impl Inbox for Queues {
    async fn send(&self, messages: &[Enqueue]) -> Result<(), InboxError> {
        if self.broken_inbox {
            return Err(InboxError {
                unsent: (0..messages.len()).collect(),
                total: messages.len(),
                inbox: "memory".into(),
                reason: "down".into(),
            });
        }
        self.inbox.lock().unwrap().extend_from_slice(messages);
        Ok(())
    }
}

impl DeadLetterSink for Queues {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        self.letters.lock().unwrap().extend_from_slice(letters);
        Ok(())
    }
}

impl Queues {
    fn retries(&self) -> Vec<(Retry, Duration)> {
        self.inbox
            .lock()
            .unwrap()
            .iter()
            .map(|m| (Retry::read(&m.body).unwrap().unwrap(), m.delay))
            .collect()
    }
}

/// `sessions` takes session events; `everything` takes every event, batched when `batch` is
/// given.
fn table(batch: Option<Value>, rate: f64) -> RouteTable {
    let mut everything = json!({"name": "everything", "pattern": {"source": [{"prefix": "aws.partner/okta.com/"}]},
        "endpoint": "https://example.workflows.okta.com/api/flo/2/invoke", "auth": {"scheme": "none"},
        "maxRequestsPerSecond": rate});
    if let Some(batch) = batch {
        everything["batch"] = batch;
    }
    let routes = json!({"version": 1, "routes": [
        {"name": "sessions", "pattern": {"detail": {"eventType": [{"prefix": "user.session."}]}},
         "endpoint": "https://example.workflows.okta.com/api/flo/1/invoke", "auth": {"scheme": "none"}},
        everything
    ]});
    RouteTable::from_json(&routes.to_string(), LoadOptions::default()).unwrap()
}

fn message(id: usize, body: &str, sent_at: DateTime<Utc>) -> InboxMessage {
    InboxMessage {
        id: format!("m{id}"),
        body: body.to_owned(),
        sent_at,
    }
}

/// Every sample event, `copies` times over (uuids made unique), as fresh inbox messages.
fn messages(copies: usize) -> Vec<InboxMessage> {
    let mut messages = Vec::new();
    for copy in 0..copies {
        for line in SAMPLES.lines() {
            let mut event: Value = serde_json::from_str(line).unwrap();
            let uuid = format!("{}-{copy}", event["detail"]["uuid"].as_str().unwrap());
            event["detail"]["uuid"] = json!(uuid);
            messages.push(message(messages.len(), &event.to_string(), Utc::now()));
        }
    }
    messages
}

async fn run(
    messages: &[InboxMessage],
    table: &RouteTable,
    flows: &Flows,
    queues: &Queues,
    pacer: &Pacer,
    budget: Duration,
) -> BatchOutcome {
    let context = EnrichContext {
        org: None,
        now: Utc::now(),
    };
    let ports = BatchPorts {
        deliver: flows,
        dead_letters: queues,
        inbox: queues,
        pacer,
    };
    relay_batch(
        messages,
        table,
        &context,
        &ports,
        &RetrySettings::default(),
        Instant::now() + budget,
    )
    .await
}

const MINUTE: Duration = Duration::from_secs(60);

fn throttled(retry_after: Option<u64>) -> Outcome {
    Outcome::GaveUp(Failure {
        reason: "HTTP 429 Too Many Requests".into(),
        last_status: Some(429),
        retry_after: retry_after.map(Duration::from_secs),
    })
}

#[tokio::test]
async fn only_the_route_that_failed_comes_back_with_the_delay_the_flow_asked_for() {
    let table = table(None, 10.0);
    let flows = Flows::answering("sessions", throttled(Some(7)));
    let queues = Queues::default();
    let batch = messages(1)[..1].to_vec(); // a session event: both routes
    let outcome = run(&batch, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;

    assert!(outcome.failed_message_ids.is_empty());
    assert_eq!(flows.posts_to("everything").len(), 1);
    let retries = queues.retries();
    assert_eq!(retries.len(), 1);
    let (retry, delay) = &retries[0];
    assert_eq!(retry.retry.schema, RETRY_SCHEMA);
    assert_eq!(retry.retry.routes, ["sessions"]);
    assert_eq!(retry.retry.attempts, 1);
    assert_eq!(*delay, Duration::from_secs(7));
    assert_eq!(
        retry.event["detail"]["uuid"],
        "4f1d8f4e-7a0b-11ef-9c3a-2b1f5c8e9d01-0"
    );
    assert_eq!(
        (outcome.metrics.delivered, outcome.metrics.requeued),
        (1, 1)
    );
    assert!(queues.letters.lock().unwrap().is_empty());

    // The retry, handed out again, goes to `sessions` alone.
    let flows = Flows::default();
    let again = [message(
        9,
        &queues.inbox.lock().unwrap()[0].body,
        Utc::now(),
    )];
    let queues = Queues::default();
    let outcome = run(&again, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    assert_eq!(flows.posts_to("sessions").len(), 1);
    assert!(flows.posts_to("everything").is_empty());
    assert_eq!(outcome.metrics.delivered, 1);
    assert!(queues.retries().is_empty());
}

#[tokio::test]
async fn without_retry_after_the_delay_doubles_per_failed_attempt() {
    let table = table(None, 10.0);
    let flows = Flows::answering("everything", throttled(None));
    let queues = Queues::default();
    let mut retry = Retry::fresh(
        serde_json::from_str(SAMPLES.lines().nth(2).unwrap()).unwrap(),
        vec!["everything".into()],
        Utc::now(),
    );
    retry.retry.attempts = 3;
    let batch = [message(
        0,
        &serde_json::to_string(&retry).unwrap(),
        Utc::now(),
    )];
    run(&batch, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    let (retry, delay) = &queues.retries()[0];
    assert_eq!(retry.retry.attempts, 4);
    assert_eq!(*delay, Duration::from_secs(8));
    assert_eq!(
        RetrySettings::default().backoff(40),
        Duration::from_secs(900),
        "SQS delays at most 900 s"
    );
}

#[tokio::test]
async fn refusals_and_events_past_the_maximum_age_are_dead_lettered_not_retried() {
    let table = table(None, 10.0);
    let refused = Outcome::Rejected(Failure {
        reason: "HTTP 401 Unauthorized".into(),
        last_status: Some(401),
        retry_after: None,
    });
    let flows = Flows::answering("sessions", refused);
    let queues = Queues::default();
    let batch = messages(1)[..1].to_vec();
    let outcome = run(&batch, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    assert!(queues.retries().is_empty());
    let letters = queues.letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].route(), Some("sessions"));
    assert_eq!(outcome.metrics.dead_lettered, 1);

    let flows = Flows::answering("everything", throttled(None));
    let queues = Queues::default();
    let day_ago = Utc::now() - chrono::Duration::hours(25);
    let old = [message(0, SAMPLES.lines().nth(2).unwrap(), day_ago)];
    run(&old, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    assert!(queues.retries().is_empty());
    let letters = queues.letters.lock().unwrap().clone();
    assert_eq!(letters.len(), 1);
    assert!(
        letters[0].reason().contains("MaxEventAgeHours"),
        "{}",
        letters[0].reason()
    );
}

#[tokio::test]
async fn a_batched_route_gets_full_batches_and_the_rest_waits_to_fill() {
    let table = table(Some(json!({"maxEvents": 10, "maxWaitSeconds": 30})), 10.0);
    let flows = Flows::default();
    let queues = Queues::default();
    let batch = messages(3);
    let outcome = run(
        &batch[..25],
        &table,
        &flows,
        &queues,
        &Pacer::new(1),
        2 * MINUTE,
    )
    .await;

    let posts = flows.posts_to("everything");
    assert_eq!(posts.len(), 2);
    for (key, body, _) in &posts {
        assert_eq!(body["events"].as_array().unwrap().len(), 10);
        assert_eq!(body["relay"]["batchSize"], 10);
        assert_eq!(body["relay"]["route"], "everything");
        assert_eq!(body["relay"]["batchKey"], key.as_str());
        assert!(key.starts_with("batch-"));
    }
    assert_ne!(posts[0].0, posts[1].0);
    let retries = queues.retries();
    assert_eq!(retries.len(), 5, "the last five wait for more");
    for (retry, delay) in &retries {
        assert_eq!(retry.retry.routes, ["everything"]);
        assert_eq!(retry.retry.attempts, 0, "waiting is not a failed attempt");
        assert!(*delay > Duration::from_secs(28) && *delay <= Duration::from_secs(30));
    }
    assert_eq!(
        outcome.metrics.delivered,
        20 + 6,
        "20 in batches, 6 session events"
    );

    // Once they have waited long enough, what there is goes.
    let flows = Flows::default();
    let queues = Queues::default();
    let waited = Utc::now() - chrono::Duration::seconds(31);
    let late: Vec<_> = batch[..5]
        .iter()
        .map(|m| message(0, &m.body, waited))
        .collect();
    run(&late, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    let posts = flows.posts_to("everything");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].1["events"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn batches_are_cut_to_the_byte_limit() {
    let table = table(Some(json!({"maxEvents": 100, "maxBytes": 8192})), 1000.0);
    let flows = Flows::default();
    let queues = Queues::default();
    run(
        &messages(2),
        &table,
        &flows,
        &queues,
        &Pacer::new(1),
        2 * MINUTE,
    )
    .await;
    let posts = flows.posts_to("everything");
    assert!(posts.len() > 2);
    let events: usize = posts
        .iter()
        .map(|(_, body, _)| {
            assert!(body.to_string().len() <= 8192);
            body["events"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(events, 20);
}

#[tokio::test]
async fn routes_due_again_at_different_times_come_back_as_separate_retries() {
    let table = table(None, 10.0);
    let mut flows = Flows::answering("sessions", throttled(Some(2)));
    flows
        .answers
        .insert("everything".into(), throttled(Some(60)));
    let queues = Queues::default();
    let batch = messages(1)[..1].to_vec(); // a session event: both routes
    let outcome = run(&batch, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;

    assert!(outcome.failed_message_ids.is_empty());
    let mut retries: Vec<(Vec<String>, Duration)> = queues
        .retries()
        .into_iter()
        .map(|(retry, delay)| (retry.retry.routes, delay))
        .collect();
    retries.sort_by_key(|(_, delay)| *delay);
    assert_eq!(
        retries,
        [
            (vec!["sessions".to_string()], Duration::from_secs(2)),
            (vec!["everything".to_string()], Duration::from_secs(60)),
        ],
        "the session flow's retry must not wait for the other flow's minute"
    );
    assert_eq!(outcome.metrics.requeued, 2);
}

#[tokio::test(start_paused = true)]
async fn posts_are_paced_and_what_does_not_fit_goes_back_with_the_backlog() {
    // 4 per second for the whole relay, 2 containers: this one starts 2 POSTs per 1.05 s.
    let table = table(None, 4.0);
    let flows = Flows::default();
    let queues = Queues::default();
    let pacer = Pacer::new(2);
    let budget = Duration::from_secs(63); // 60 s attempt timeout: 3 s of slots
    let outcome = run(&messages(1), &table, &flows, &queues, &pacer, budget).await;

    // A new container's first window opens at 1.05 s and takes 2, the next at 2.1 s 2 more;
    // the third, at 3.15 s, is more than three seconds away and not waited for
    // (relay_core::pacing::HOLD_AT_MOST).
    let posts = flows.posts_to("everything");
    assert_eq!(posts.len(), 4);
    assert_eq!(outcome.metrics.paced_out, 6);
    let retries = queues.retries();
    let paced: Vec<_> = retries
        .iter()
        .filter(|(retry, _)| retry.retry.routes == ["everything"])
        .collect();
    assert_eq!(paced.len(), 6);
    assert!(paced.iter().all(|(retry, _)| retry.retry.attempts == 0));
    // Each comes back two seconds before a slot of this container's is free (the invocation
    // that takes it then waits for the slot; relay_core::pacing::COME_BACK_EARLY): two per
    // window, at 3.15 s, 4.2 s, 5.25 s, counted from when the last two POSTs started (2.1 s).
    let delays: Vec<Duration> = paced.iter().map(|(_, delay)| *delay).collect();
    let window = Duration::from_millis(1050);
    let expected: Vec<Duration> = (1..=3u32)
        .flat_map(|n| [window * n, window * n])
        .map(|slot_in| slot_in.saturating_sub(Duration::from_secs(2)))
        .collect();
    assert_eq!(delays, expected);
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_waits_only_for_the_next_window_of_slots() {
    // The same flow and containers, but the batch fills the event source mapping's BatchSize:
    // more is waiting in the inbox, and holding this invocation for one flow would keep it out.
    let table = table(None, 4.0);
    let flows = Flows::default();
    let queues = Queues::default();
    let batch = messages(1);
    let pacer = Pacer::new(2).with_batch_size(batch.len());
    let outcome = run(
        &batch,
        &table,
        &flows,
        &queues,
        &pacer,
        Duration::from_secs(63),
    )
    .await;

    // The new container's first window (at 1.05 s) is within relay_core::pacing::HOLD_WHEN_FULL,
    // the second (2.1 s) is not.
    assert_eq!(flows.posts_to("everything").len(), 2);
    assert_eq!(outcome.metrics.paced_out, 8);
    assert!(outcome.failed_message_ids.is_empty());

    // One message short of a full batch: the invocation holds as before (three windows' worth
    // would be 6, but the third window is 3.15 s away).
    let flows = Flows::default();
    let pacer = Pacer::new(2).with_batch_size(batch.len() + 1);
    run(
        &batch,
        &table,
        &flows,
        &Queues::default(),
        &pacer,
        Duration::from_secs(63),
    )
    .await;
    assert_eq!(flows.posts_to("everything").len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_new_container_does_not_crowd_the_last_starts_of_the_one_it_replaces() {
    // 4 per second, 2 containers: each starts 2 POSTs per 1.05 s. Lambda gives the next batch
    // to a new container (a pacer of its own) the moment the first one's invocation ends, then
    // the first one relays again: the new one starts a window after the last POST it may be replacing.
    let table = table(None, 4.0);
    let flows = Flows::default();
    let queues = Queues::default();
    let budget = Duration::from_secs(63);
    let two = messages(1)[..2].to_vec();
    let first = Pacer::new(2);
    let second = Pacer::new(2);
    run(&two, &table, &flows, &queues, &first, budget).await;
    run(&two, &table, &flows, &queues, &second, budget).await;
    run(&two, &table, &flows, &queues, &first, budget).await;
    let posts = flows.posts_to("everything");
    assert_eq!(posts.len(), 6);
    // The new container's first POST comes a window after the last of the one before it.
    let window = first.share(4.0).window;
    assert!(
        posts[2].2 - posts[1].2 >= window,
        "{:?}",
        posts[2].2 - posts[1].2
    );
    // The first container's own window goes on from its own starts.
    assert!(
        posts[4].2 - posts[1].2 >= window,
        "{:?}",
        posts[4].2 - posts[1].2
    );
}

#[tokio::test]
async fn a_message_whose_retry_cannot_be_written_is_handed_out_again() {
    let table = table(None, 10.0);
    let flows = Flows::answering("sessions", throttled(Some(1)));
    let queues = Queues {
        broken_inbox: true,
        ..Queues::default()
    };
    let batch = messages(1)[..3].to_vec();
    let outcome = run(&batch, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    assert_eq!(outcome.failed_message_ids, ["m0", "m1"]);
}

#[tokio::test]
async fn unreadable_messages_and_removed_routes_are_dead_lettered() {
    let table = table(None, 10.0);
    let flows = Flows::default();
    let queues = Queues::default();
    let event: Value = serde_json::from_str(SAMPLES.lines().next().unwrap()).unwrap();
    let retry = Retry::fresh(event, vec!["sessions".into(), "retired".into()], Utc::now());
    let batch = [
        message(0, "{\"okta-relay\": 3}", Utc::now()),
        message(1, "not json", Utc::now()),
        message(2, &serde_json::to_string(&retry).unwrap(), Utc::now()),
    ];
    let outcome = run(&batch, &table, &flows, &queues, &Pacer::new(1), 2 * MINUTE).await;
    let letters = queues.letters.lock().unwrap().clone();
    let kinds: Vec<(&str, Option<&str>)> = letters.iter().map(|l| (l.kind(), l.route())).collect();
    assert_eq!(
        kinds,
        [
            ("bad_input", None),
            ("bad_input", None),
            ("delivery_failed", Some("retired"))
        ]
    );
    assert_eq!(flows.posts_to("sessions").len(), 1);
    assert!(flows.posts_to("everything").is_empty());
    assert_eq!(
        (outcome.metrics.bad_input, outcome.metrics.delivered),
        (2, 1)
    );
}

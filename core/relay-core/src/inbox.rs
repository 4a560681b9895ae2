//! The inbox: the one door to the flows. The EventBridge rule, the watchdog's backfill,
//! `okta-relay backfill` and the redrive all put events in one SQS queue; the relay takes them
//! from it in batches (a Lambda event source mapping) and is the only thing that calls a flow,
//! so every request passes the same [`Pacer`].
//!
//! One batch: read each message (an EventBridge event, or a [`Retry`] the relay wrote itself),
//! route it, group what goes to each route (one event per POST, or up to `batch.maxEvents`),
//! start each POST in its paced slot, then settle each (message, route):
//! - delivered (now or before): done;
//! - refused (a permanent failure): a dead letter;
//! - may pass later (throttled, unavailable, timed out) or paced out of this invocation: a
//!   [`Retry`] for **exactly those routes** goes back to the inbox, delayed by the peer's
//!   `Retry-After`, the backoff, or the slot the pacer promises it; once the event is older than
//!   `max_event_age` it is dead-lettered instead.
//!
//! A message leaves the queue only when everything it owes is delivered, dead-lettered or
//! requeued; when a write fails it is reported as a batch item failure and SQS hands it out
//! again after its visibility timeout (its routes may then be sent twice: de-duplication covers
//! that when it is on).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;
use tracing::Instrument;

use crate::dead_letter::{self, DeadLetter, FailedDelivery};
use crate::enrich::EnrichContext;
use crate::metrics::InvocationMetrics;
use crate::pacing::{COME_BACK_EARLY, Pacer};
use crate::pipeline::{
    DeadLetterSink, Deliver, DeliveryReport, DeliveryRequest, Failure, Outcome, Routed, route_event,
};
use crate::routes::{Route, RouteTable};

pub const RETRY_SCHEMA: &str = "okta-relay.retry/v1";
/// The key a [`Retry`] message starts with; EventBridge events never carry it.
pub const RETRY_KEY: &str = "okta-relay";
/// SQS's longest message delay (`DelaySeconds`, 0 to 900).
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// A delay as SQS takes it (SQS API reference, `SendMessageBatchRequestEntry.DelaySeconds`: an
/// integer from 0 to 900), rounded up so that work never comes back before its turn.
pub fn whole_seconds_up(delay: Duration) -> u64 {
    delay.as_secs() + u64::from(delay.subsec_nanos() > 0)
}

/// The largest message the inbox takes (SQS's 256 KiB, as the template sets it).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// One message as the event source mapping hands it over.
#[derive(Debug, Clone)]
pub struct InboxMessage {
    pub id: String,
    pub body: String,
    /// When it was first put in the inbox (SQS `SentTimestamp`).
    pub sent_at: DateTime<Utc>,
}

/// What the relay puts back in the inbox: the event, the routes it still owes, and how it got
/// here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retry {
    #[serde(rename = "okta-relay")]
    pub retry: RetryState,
    /// The EventBridge event exactly as first received.
    pub event: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RetryState {
    pub schema: String,
    /// The routes still owed, by name.
    pub routes: Vec<String>,
    /// Failed attempts so far (paced-out and waiting batches do not count).
    pub attempts: u32,
    /// When the event first entered the inbox: its age decides when retrying ends.
    pub first_received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reason: Option<String>,
}

impl Retry {
    /// A retry owing `routes` from the start (a redrive of one route's dead letter).
    pub fn fresh(event: Value, routes: Vec<String>, now: DateTime<Utc>) -> Self {
        Self {
            retry: RetryState {
                schema: RETRY_SCHEMA.into(),
                routes,
                attempts: 0,
                first_received_at: now,
                last_reason: None,
            },
            event,
        }
    }

    /// Reads a message body as a retry; `None` for anything else (an EventBridge event).
    pub fn read(body: &str) -> Option<Result<Self, String>> {
        let start = body.trim_start();
        let rest = start.strip_prefix('{')?.trim_start();
        if !rest.starts_with(&format!("\"{RETRY_KEY}\"")) {
            return None;
        }
        Some(
            event_pattern::strict_json::from_slice(body.as_bytes())
                .map_err(|error| error.to_string())
                .and_then(|value| serde_json::from_value(value).map_err(|e| e.to_string())),
        )
    }
}

/// A message to put in the inbox.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueue {
    pub body: String,
    /// How long SQS keeps it invisible (at most [`MAX_DELAY`]).
    pub delay: Duration,
}

impl Enqueue {
    /// An event as the stream would have put it in the inbox (a backfilled one): every route it
    /// matches, now.
    pub fn event(payload: &[u8]) -> Self {
        Self {
            body: String::from_utf8_lossy(payload).into_owned(),
            delay: Duration::ZERO,
        }
    }
}

/// Puts events in the inbox for the relay (the watchdog's and the CLI's backfill pages).
pub async fn enqueue_events(
    inbox: &impl Inbox,
    payloads: &[Vec<u8>],
) -> Result<crate::backfill::PageRelayed, InboxError> {
    let messages: Vec<Enqueue> = payloads.iter().map(|p| Enqueue::event(p)).collect();
    if !messages.is_empty() {
        inbox.send(&messages).await?;
    }
    Ok(crate::backfill::PageRelayed {
        queued: messages.len() as u64,
        ..Default::default()
    })
}

/// The inbox queue's port (SQS in `aws-adapters`, in-memory in tests).
pub trait Inbox: Sync {
    /// Sends every message; the error lists the ones not sent.
    fn send(&self, messages: &[Enqueue]) -> impl Future<Output = Result<(), InboxError>> + Send;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("could not put {} of {total} message(s) in the inbox {inbox}: {reason}", unsent.len())]
pub struct InboxError {
    /// Indexes into the messages given.
    pub unsent: Vec<usize>,
    pub total: usize,
    pub inbox: String,
    pub reason: String,
}

/// How long retrying goes on, and how it backs off.
#[derive(Debug, Clone)]
pub struct RetrySettings {
    /// An event older than this is dead-lettered instead of retried (`MaxEventAgeHours`).
    pub max_event_age: Duration,
    /// The first retry's delay when the peer names none; doubles per failed attempt up to
    /// [`MAX_DELAY`].
    pub first_backoff: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_event_age: Duration::from_secs(24 * 3600),
            first_backoff: Duration::from_secs(1),
        }
    }
}

impl RetrySettings {
    /// The delay after `attempts` failed attempts.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32
            .checked_pow(attempts.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first_backoff
            .checked_mul(factor)
            .unwrap_or(MAX_DELAY)
            .min(MAX_DELAY)
    }
}

/// What the relay needs to settle a batch.
pub struct BatchPorts<'a, D, S, I> {
    pub deliver: &'a D,
    pub dead_letters: &'a S,
    pub inbox: &'a I,
    pub pacer: &'a Pacer,
}

/// What became of a batch: its metrics, and the messages SQS must hand out again.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub metrics: InvocationMetrics,
    pub failed_message_ids: Vec<String>,
}

/// One message, read and routed.
struct Item<'t> {
    message: usize,
    routed: Routed<'t>,
    attempts: u32,
    first_received_at: DateTime<Utc>,
}

/// One POST: a route and the items it carries (one, or a batch).
struct Unit<'t> {
    route: &'t Route,
    members: Vec<usize>,
    key: String,
    body: Bytes,
    /// The most failed attempts any member has had (a batch is new when all its members are).
    earlier_attempts: u32,
}

/// Why a (message, route) goes back to the inbox.
#[derive(Debug, Clone)]
enum Later {
    Failed(Failure),
    PacedOut,
    BatchFilling,
}

#[derive(Default)]
struct Settlement {
    letters: Vec<DeadLetter>,
    later: Vec<(String, Later, Duration)>,
    failed: bool,
}

/// Relays one batch of inbox messages. `deadline`: when the last POST must have ended (the
/// invocation's deadline less the time needed to write retries and dead letters).
pub async fn relay_batch<D, S, I>(
    messages: &[InboxMessage],
    table: &RouteTable,
    context: &EnrichContext<'_>,
    ports: &BatchPorts<'_, D, S, I>,
    settings: &RetrySettings,
    deadline: Instant,
) -> BatchOutcome
where
    D: Deliver,
    S: DeadLetterSink,
    I: Inbox,
{
    let mut outcome = BatchOutcome::default();
    let metrics = &mut outcome.metrics;
    let mut settlements: Vec<Settlement> = messages.iter().map(|_| Settlement::default()).collect();
    let mut items = Vec::new();
    // Spans named for the hops of docs/ARCHITECTURE.md: each log line says its `hop`.
    let read = tracing::info_span!("read", hop = "read").entered();
    for (index, message) in messages.iter().enumerate() {
        metrics.received += 1;
        let letters = &mut settlements[index].letters;
        match read_item(index, message, table, context, letters) {
            Some(item) => {
                metrics.matched += 1;
                items.push(item);
            }
            None if letters.iter().any(|l| matches!(l, DeadLetter::BadInput(_))) => {
                metrics.bad_input += 1;
            }
            None => metrics.filtered_out += 1,
        }
    }
    drop(read);

    let now = Utc::now();
    let (units, waiting) = plan_units(&items, now);
    for (item, route, wait) in waiting {
        let item = &items[item];
        settlements[item.message]
            .later
            .push((route.name.clone(), Later::BatchFilling, wait));
    }
    let hold = ports.pacer.hold(messages.len());
    let reports = deliver_paced(&units, ports, deadline, hold).await;

    let settle = tracing::info_span!("settle", hop = "settle");
    settle.in_scope(|| {
        for (unit, report) in units.iter().zip(reports) {
            settle_unit(unit, report, &items, &mut settlements, settings, metrics);
        }
    });
    write_back(messages, &items, settlements, ports, &mut outcome)
        .instrument(settle)
        .await;
    outcome
}

/// Reads one message into an item (`None`: nothing to deliver), adding the dead letters it
/// becomes (unreadable, or owed to a route that no longer exists) to `letters`.
fn read_item<'t>(
    index: usize,
    message: &InboxMessage,
    table: &'t RouteTable,
    context: &EnrichContext<'_>,
    letters: &mut Vec<DeadLetter>,
) -> Option<Item<'t>> {
    let retry = match Retry::read(&message.body) {
        None => None,
        Some(Ok(retry)) => Some(retry),
        Some(Err(reason)) => {
            tracing::error!(outcome = "bad_input", reason = %reason, message_id = %message.id, "unreadable retry message");
            letters.push(DeadLetter::rejected(
                message.body.as_bytes(),
                format!("an okta-relay retry message that cannot be read: {reason}"),
                context.now,
            ));
            return None;
        }
    };
    let event_text;
    let payload = match &retry {
        Some(retry) => {
            event_text = retry.event.to_string();
            event_text.as_bytes()
        }
        None => message.body.as_bytes(),
    };
    let mut routed = match route_event(payload, table, context) {
        Ok(routed) => routed,
        Err(bad_input) => {
            tracing::error!(outcome = "bad_input", reason = %bad_input, payload_bytes = payload.len(), "rejected payload");
            letters.push(DeadLetter::rejected(
                payload,
                bad_input.to_string(),
                context.now,
            ));
            return None;
        }
    };
    let (attempts, first_received_at) = match &retry {
        Some(retry) => {
            let owed = &retry.retry.routes;
            // Owed routes whose pattern no longer matches are left out: the operator changed
            // what the route wants.
            routed
                .deliveries
                .retain(|(route, _)| owed.contains(&route.name));
            for gone in owed.iter().filter(|name| table.get(name).is_none()) {
                tracing::warn!(outcome = "route_removed", uuid = %routed.uuid, route = %gone,
                    "a route this event was owed to is no longer in the route table; dead-lettered for it");
                letters.push(route_removed(&routed, gone, retry, context.now));
            }
            (retry.retry.attempts, retry.retry.first_received_at)
        }
        None => (0, message.sent_at),
    };
    if routed.deliveries.is_empty() {
        tracing::info!(outcome = "filtered_out", uuid = %routed.uuid, event_type = %routed.event_type, "no route matched");
        return None;
    }
    Some(Item {
        message: index,
        routed,
        attempts,
        first_received_at,
    })
}

fn route_removed(
    routed: &Routed<'_>,
    route: &str,
    retry: &Retry,
    now: DateTime<Utc>,
) -> DeadLetter {
    DeadLetter::DeliveryFailed(FailedDelivery {
        schema: dead_letter::SCHEMA.into(),
        uuid: routed.uuid.clone(),
        route: route.to_owned(),
        endpoint: String::new(),
        reason: format!(
            "route `{route}` was removed from the route table before this event reached it; \
             redrive it once the route is back, or delete the letter"
        ),
        last_status: None,
        attempts: retry.retry.attempts,
        permanent: true,
        first_attempt_at: dead_letter::timestamp(retry.retry.first_received_at),
        last_attempt_at: dead_letter::timestamp(now),
        dead_lettered_at: dead_letter::timestamp(now),
        event: routed.received.to_value(),
        event_truncated: false,
    })
}

/// Groups each route's deliveries into POSTs, in arrival order. A batched route's last, partly
/// filled batch waits in the inbox while its oldest event is younger than `maxWaitSeconds`:
/// those come back as (item, route, wait).
fn plan_units<'t>(
    items: &[Item<'t>],
    now: DateTime<Utc>,
) -> (Vec<Unit<'t>>, Vec<(usize, &'t Route, Duration)>) {
    let mut per_route: Vec<(&'t Route, Vec<(usize, Bytes)>)> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        for (route, body) in &item.routed.deliveries {
            match per_route
                .iter_mut()
                .find(|(seen, _)| seen.name == route.name)
            {
                Some((_, members)) => members.push((index, body.clone())),
                None => per_route.push((route, vec![(index, body.clone())])),
            }
        }
    }
    let mut units = Vec::new();
    let mut waiting = Vec::new();
    for (route, members) in per_route {
        let Some(batch) = route.batch else {
            units.extend(members.into_iter().map(|(index, body)| Unit {
                route,
                members: vec![index],
                key: items[index].routed.uuid.clone(),
                body,
                earlier_attempts: items[index].attempts,
            }));
            continue;
        };
        let mut chunks: Vec<Vec<(usize, Bytes)>> = Vec::new();
        let mut size = 0;
        for member in members {
            // each member adds its bytes and a comma
            let fits = chunks.last().is_some_and(|chunk| {
                chunk.len() < batch.max_events && size + member.1.len() < batch.max_bytes
            });
            if !fits {
                chunks.push(Vec::new());
                size = BATCH_FRAME_BYTES;
            }
            size += member.1.len() + 1;
            if let Some(chunk) = chunks.last_mut() {
                chunk.push(member);
            }
        }
        if let Some(last) = chunks.last()
            && last.len() < batch.max_events
        {
            let oldest = last
                .iter()
                .map(|(index, _)| items[*index].first_received_at)
                .min()
                .unwrap_or(now);
            let waited = (now - oldest).to_std().unwrap_or(Duration::ZERO);
            if let Some(wait) = batch.max_wait.checked_sub(waited).filter(|w| !w.is_zero())
                && let Some(last) = chunks.pop()
            {
                waiting.extend(last.into_iter().map(|(index, _)| (index, route, wait)));
            }
        }
        units.extend(
            chunks
                .into_iter()
                .map(|chunk| batch_unit(route, chunk, items)),
        );
    }
    (units, waiting)
}

/// `{"events":[` … `],"relay":{…}}` around the events, counted generously.
const BATCH_FRAME_BYTES: usize = 256;

fn batch_unit<'t>(route: &'t Route, chunk: Vec<(usize, Bytes)>, items: &[Item<'t>]) -> Unit<'t> {
    let mut digest = Sha256::new();
    for (index, _) in &chunk {
        digest.update(items[*index].routed.uuid.as_bytes());
        digest.update(b",");
    }
    let key: String = digest
        .finalize()
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let key = format!("batch-{key}");
    let mut body = Vec::with_capacity(chunk.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 128);
    body.extend_from_slice(b"{\"events\":[");
    for (position, (_, payload)) in chunk.iter().enumerate() {
        if position > 0 {
            body.push(b',');
        }
        body.extend_from_slice(payload);
    }
    let relay = serde_json::json!({"route": route.name, "batchSize": chunk.len(), "batchKey": key});
    body.extend_from_slice(format!("],\"relay\":{relay}}}").as_bytes());
    let earlier_attempts = chunk
        .iter()
        .map(|(index, _)| items[*index].attempts)
        .max()
        .unwrap_or(0);
    Unit {
        route,
        members: chunk.into_iter().map(|(index, _)| index).collect(),
        key,
        body: Bytes::from(body),
        earlier_attempts,
    }
}

/// Starts every POST in its paced slot, all routes at once. A route's POSTs are reserved and
/// started one after another (each reservation after the previous start really happened, so a
/// late timer never crowds a second); once started, they run side by side. A POST is not made
/// when its slot is more than `hold` away ([`Pacer::hold`]) or would leave it less than its attempt
/// timeout before `deadline`: `Err` holds the delay it goes back to the inbox with,
/// [`COME_BACK_EARLY`] before the slot this container promises it ([`Pacer::defer`]), so the
/// paced-out work of one route comes back spread over the slots it will need instead of all at
/// once.
async fn deliver_paced<D, S, I>(
    units: &[Unit<'_>],
    ports: &BatchPorts<'_, D, S, I>,
    deadline: Instant,
    hold: Duration,
) -> Vec<Result<DeliveryReport, Duration>>
where
    D: Deliver,
{
    // Per route: its turn to start.
    let mut starting: HashMap<&str, tokio::sync::Mutex<()>> = HashMap::new();
    let hold_until = Instant::now() + hold;
    for unit in units {
        starting.entry(unit.route.name.as_str()).or_default();
    }
    let sends = units.iter().map(|unit| {
        let route = unit.route;
        let turn = &starting[route.name.as_str()];
        let span = tracing::info_span!("deliver", hop = "deliver", route = %route.name);
        async move {
            {
                // Tokio's mutex is fair: a route's POSTs start in arrival order.
                let _turn = turn.lock().await;
                ports.deliver.prepare(route).await;
                let now = Instant::now();
                // An invocation shorter than the attempt timeout still makes the first POST,
                // with what time it has, rather than pacing everything out for ever.
                let latest = deadline
                    .checked_sub(route.attempt_timeout)
                    .unwrap_or(now)
                    .min(hold_until)
                    .max(now);
                let limit = route.max_requests_per_second;
                let Some(slot) = ports.pacer.reserve(&route.name, limit, now, latest) else {
                    let slot_in = ports.pacer.defer(&route.name, limit, now);
                    return Err(slot_in.saturating_sub(COME_BACK_EARLY));
                };
                // Tokio's timer ticks in whole milliseconds: a slot already due is not slept
                // for, or every POST of a batch would wait a tick behind the one before.
                if slot > Instant::now() {
                    tokio::time::sleep_until(slot).await;
                }
                ports
                    .pacer
                    .started(&route.name, limit, slot, Instant::now());
            }
            let budget = deadline.saturating_duration_since(Instant::now());
            Ok(ports
                .deliver
                .deliver(DeliveryRequest {
                    route,
                    uuid: unit.key.as_str(),
                    body: unit.body.clone(),
                    budget: budget.min(route.attempt_timeout),
                    earlier_attempts: unit.earlier_attempts,
                })
                .await)
        }
        .instrument(span)
    });
    join_all(sends).await
}

fn settle_unit(
    unit: &Unit<'_>,
    report: Result<DeliveryReport, Duration>,
    items: &[Item<'_>],
    settlements: &mut [Settlement],
    settings: &RetrySettings,
    metrics: &mut InvocationMetrics,
) {
    let route = unit.route;
    let report = match report {
        Ok(report) => report,
        Err(wait) => {
            for &member in &unit.members {
                let item = &items[member];
                metrics.paced_out += 1;
                metrics.route(&route.name).paced_out += 1;
                settlements[item.message]
                    .later
                    .push((route.name.clone(), Later::PacedOut, wait));
            }
            return;
        }
    };
    for &member in &unit.members {
        let item = &items[member];
        let settlement = &mut settlements[item.message];
        log_outcome(item, route, &report, unit.members.len());
        match &report.outcome {
            Outcome::AlreadyDelivered => metrics.duplicates_skipped += 1,
            Outcome::Delivered => {
                metrics.delivered += 1;
                metrics.route(&route.name).delivered += 1;
                let lag = report.last_attempt_at - item.routed.published;
                metrics
                    .end_to_end_lag_ms
                    .push(lag.num_milliseconds().max(0) as f64);
            }
            Outcome::Rejected(failure) => {
                metrics.failed += 1;
                metrics.route(&route.name).failed += 1;
                settlement
                    .letters
                    .push(failed_delivery(item, route, &report, failure, true));
            }
            Outcome::GaveUp(failure) => {
                let age = (Utc::now() - item.first_received_at)
                    .to_std()
                    .unwrap_or(Duration::ZERO);
                if age >= settings.max_event_age {
                    metrics.failed += 1;
                    metrics.route(&route.name).failed += 1;
                    let mut failure = failure.clone();
                    failure.reason = format!(
                        "{}; retried for {} h, the most MaxEventAgeHours allows",
                        failure.reason,
                        age.as_secs() / 3600
                    );
                    settlement
                        .letters
                        .push(failed_delivery(item, route, &report, &failure, false));
                } else {
                    metrics.retries += 1;
                    metrics.route(&route.name).retries += 1;
                    let delay = failure
                        .retry_after
                        .unwrap_or_else(|| settings.backoff(item.attempts + 1));
                    settlement.later.push((
                        route.name.clone(),
                        Later::Failed(failure.clone()),
                        delay,
                    ));
                }
            }
        }
    }
    if report.outcome != Outcome::AlreadyDelivered {
        let latency_ms = report.latency.as_secs_f64() * 1000.0;
        metrics.delivery_latency_ms.push(latency_ms);
        metrics
            .route(&route.name)
            .delivery_latency_ms
            .push(latency_ms);
    }
}

/// Puts what is owed later back in the inbox and writes the dead letters; a message whose
/// writes failed is handed out again by SQS.
async fn write_back<D, S, I>(
    messages: &[InboxMessage],
    items: &[Item<'_>],
    mut settlements: Vec<Settlement>,
    ports: &BatchPorts<'_, D, S, I>,
    outcome: &mut BatchOutcome,
) where
    S: DeadLetterSink,
    I: Inbox,
{
    let mut retries = Vec::new();
    let mut retried_messages = Vec::new();
    for item in items {
        let settlement = &mut settlements[item.message];
        // One retry per moment its routes are due (SQS delays are whole seconds): a route paced
        // out for a minute must not hold back one that can go again in a second.
        let mut due: BTreeMap<u64, Vec<&(String, Later, Duration)>> = BTreeMap::new();
        for later in &settlement.later {
            due.entry(whole_seconds_up(later.2.min(MAX_DELAY)))
                .or_default()
                .push(later);
        }
        let mut too_large = false;
        for (seconds, group) in due {
            let failed_now = group
                .iter()
                .any(|(_, later, _)| matches!(later, Later::Failed(_)));
            let last_reason = group.iter().find_map(|(_, later, _)| match later {
                Later::Failed(failure) => Some(failure.reason.clone()),
                Later::PacedOut | Later::BatchFilling => None,
            });
            let retry = Retry {
                retry: RetryState {
                    schema: RETRY_SCHEMA.into(),
                    routes: group.iter().map(|(route, ..)| route.clone()).collect(),
                    attempts: item.attempts + u32::from(failed_now),
                    first_received_at: item.first_received_at,
                    last_reason,
                },
                event: item.routed.received.to_value(),
            };
            let body = serde_json::to_string(&retry).unwrap_or_default();
            if body.len() > MAX_MESSAGE_BYTES {
                too_large = true;
                break;
            }
            let delay = group
                .iter()
                .map(|(_, _, delay)| *delay)
                .max()
                .unwrap_or(Duration::from_secs(seconds))
                .min(MAX_DELAY);
            retries.push(Enqueue { body, delay });
            retried_messages.push(item.message);
        }
        if too_large {
            // Too large to wrap: the whole message comes back after its visibility timeout.
            tracing::warn!(outcome = "requeue_too_large", uuid = %item.routed.uuid,
                "the event is too large to requeue with its routes; SQS will hand the whole message out again");
            while retried_messages.last() == Some(&item.message) {
                retried_messages.pop();
                retries.pop();
            }
            settlement.failed = true;
            continue;
        }
        outcome.metrics.requeued += settlement.later.len() as u64;
    }
    if !retries.is_empty()
        && let Err(error) = ports.inbox.send(&retries).await
    {
        tracing::error!(outcome = "requeue_failed", error = %error, "retries could not be put back in the inbox; SQS will hand those messages out again");
        for unsent in error.unsent {
            if let Some(&message) = retried_messages.get(unsent) {
                settlements[message].failed = true;
            }
        }
    }
    let letters: Vec<(usize, DeadLetter)> = settlements
        .iter_mut()
        .enumerate()
        .flat_map(|(message, settlement)| {
            std::mem::take(&mut settlement.letters)
                .into_iter()
                .map(move |letter| (message, letter))
        })
        .collect();
    if !letters.is_empty() {
        let (owners, letters): (Vec<usize>, Vec<DeadLetter>) = letters.into_iter().unzip();
        match ports.dead_letters.send(&letters).await {
            Ok(()) => outcome.metrics.dead_lettered += letters.len() as u64,
            Err(error) => {
                tracing::error!(outcome = "dead_letter_failed", error = %error, "dead letters could not be written; SQS will hand those messages out again");
                for owner in owners {
                    settlements[owner].failed = true;
                }
            }
        }
    }
    outcome.failed_message_ids = settlements
        .iter()
        .zip(messages)
        .filter(|(settlement, _)| settlement.failed)
        .map(|(_, message)| message.id.clone())
        .collect();
}

fn log_outcome(item: &Item<'_>, route: &Route, report: &DeliveryReport, batch_size: usize) {
    let routed = &item.routed;
    let latency_ms = report.latency.as_millis() as u64;
    let answer = report.answer.as_deref().unwrap_or_default();
    match &report.outcome {
        Outcome::AlreadyDelivered => tracing::info!(
            outcome = "duplicate", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            "delivered before; skipped"
        ),
        Outcome::Delivered => tracing::info!(
            outcome = "delivered", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            answer, latency_ms, batch_size, "delivered"
        ),
        Outcome::Rejected(failure) => tracing::warn!(
            outcome = "dead_lettered", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            answer, latency_ms, permanent = true, reason = %failure.reason, "delivery refused"
        ),
        Outcome::GaveUp(failure) => tracing::warn!(
            outcome = "retry_later", uuid = %routed.uuid, event_type = %routed.event_type, route = %route.name,
            answer, latency_ms, attempts = item.attempts + 1, reason = %failure.reason, "delivery failed; back to the inbox"
        ),
    }
}

fn failed_delivery(
    item: &Item<'_>,
    route: &Route,
    report: &DeliveryReport,
    failure: &Failure,
    permanent: bool,
) -> DeadLetter {
    let now = Utc::now();
    DeadLetter::DeliveryFailed(FailedDelivery {
        schema: dead_letter::SCHEMA.into(),
        uuid: item.routed.uuid.clone(),
        route: route.name.clone(),
        endpoint: route.endpoint.to_string(),
        reason: failure.reason.clone(),
        last_status: failure.last_status,
        attempts: item.attempts + report.attempts.max(1),
        permanent,
        first_attempt_at: dead_letter::timestamp(item.first_received_at),
        last_attempt_at: dead_letter::timestamp(report.last_attempt_at),
        dead_lettered_at: dead_letter::timestamp(now.max(report.last_attempt_at)),
        event: item.routed.received.to_value(),
        event_truncated: false,
    })
}

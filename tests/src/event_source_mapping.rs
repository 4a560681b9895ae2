//! Lambda's SQS event source mapping, played against moto's SQS and a [`RuntimeApi`], the way the
//! Lambda developer guide documents it ("Using Lambda with Amazon SQS"; "Handling errors for an
//! SQS event source in Lambda"; "Configuring scaling behavior for SQS event source mappings"):
//!
//! - up to `max_concurrency` pollers, each receiving up to `batch_size` messages, gathering for
//!   at most `batching_window` before invoking when the batch is not full. Lambda long-polls;
//!   these pollers ask without waiting and look again 100 ms after an empty answer (written
//!   when a long poll held moto's queue; since `tools/moto_server.py` fix 7 it lets go while it
//!   waits, so long polling here is open to try);
//! - one synchronous invocation per batch with the `{"Records": [...]}` event (`messageId`,
//!   `receiptHandle`, `body`, `attributes` with `SentTimestamp` and `ApproximateReceiveCount`,
//!   `eventSource: aws:sqs`, `eventSourceARN`, `awsRegion`);
//! - with `ReportBatchItemFailures`: the messages the response does not list in
//!   `batchItemFailures` are deleted; a response that is not that JSON, or that lists an
//!   identifier that is empty or not in the batch, fails the whole batch;
//! - what succeeded is deleted while the poller gathers its next batch (deleting is not on the
//!   next invocation's path);
//! - a failed or timed-out invocation deletes nothing. Lambda does not change the visibility of
//!   what it keeps: the messages come back when the queue's visibility timeout ends, and the
//!   queue's redrive policy moves them to its dead-letter queue after `maxReceiveCount`.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::runtime_api::{Outcome, RuntimeApi};

#[derive(Debug, Clone)]
pub struct MappingSettings {
    /// `BatchSize`.
    pub batch_size: usize,
    /// `MaximumBatchingWindowInSeconds`.
    pub batching_window: Duration,
    /// `ScalingConfig.MaximumConcurrency`.
    pub max_concurrency: usize,
    /// The function's timeout: the deadline each invocation gets.
    pub function_timeout: Duration,
}

/// Counts of what the mapping did.
#[derive(Debug, Default)]
pub struct MappingStats {
    pub invocations: AtomicU64,
    pub failed_invocations: AtomicU64,
    pub messages_deleted: AtomicU64,
    /// Deletes that still failed after the retries (those messages come back after their
    /// visibility timeout).
    pub deletes_failed: AtomicU64,
    pub items_reported_failed: AtomicU64,
    /// Receives that failed (sent once, not retried: a retried receive whose first answer was
    /// lost would hide messages for the visibility timeout, issue 17's stall).
    pub receive_errors: AtomicU64,
    in_flight: AtomicU64,
}

impl std::fmt::Display for MappingStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let load = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        write!(
            f,
            "{} invocations, {} failed or timed out, {} items reported failed, {} messages \
             deleted, {} deletes failed, {} receives failed, {} in flight",
            load(&self.invocations),
            load(&self.failed_invocations),
            load(&self.items_reported_failed),
            load(&self.messages_deleted),
            load(&self.deletes_failed),
            load(&self.receive_errors),
            load(&self.in_flight)
        )
    }
}

/// A running mapping; its pollers stop when it is dropped.
pub struct EventSourceMapping {
    stats: Arc<MappingStats>,
    stop: Arc<AtomicBool>,
    pollers: Vec<JoinHandle<()>>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl EventSourceMapping {
    pub fn start(
        sqs: aws_sdk_sqs::Client,
        queue_url: &str,
        queue_arn: &str,
        api: Arc<RuntimeApi>,
        settings: MappingSettings,
    ) -> Self {
        let stats = Arc::new(MappingStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let pollers = (0..settings.max_concurrency.max(1))
            .map(|_| {
                let poller = Poller {
                    sqs: sqs.clone(),
                    queue_url: queue_url.to_owned(),
                    queue_arn: queue_arn.to_owned(),
                    api: api.clone(),
                    settings: settings.clone(),
                    stats: stats.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(poller.run())
            })
            .collect();
        Self {
            stats,
            stop,
            pollers,
            sqs,
            queue_url: queue_url.to_owned(),
        }
    }

    pub fn stats(&self) -> &MappingStats {
        &self.stats
    }

    /// Waits until the queue holds nothing (visible, in flight or delayed) and no invocation
    /// runs, twice in a row; `false` if that did not happen within `timeout`.
    pub async fn wait_until_drained(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut quiet = 0;
        while Instant::now() < deadline {
            let idle = self.stats.in_flight.load(Ordering::SeqCst) == 0
                && queue_depth(&self.sqs, &self.queue_url).await == Some(0);
            quiet = if idle { quiet + 1 } else { 0 };
            if quiet >= 2 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }
}

impl Drop for EventSourceMapping {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for poller in &self.pollers {
            poller.abort();
        }
    }
}

/// Visible + in flight + delayed messages.
pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Option<u64> {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let answer = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(Name::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .ok()?;
    let attributes = answer.attributes()?;
    let mut total = 0;
    for name in [
        Name::ApproximateNumberOfMessages,
        Name::ApproximateNumberOfMessagesNotVisible,
        Name::ApproximateNumberOfMessagesDelayed,
    ] {
        total += attributes.get(&name)?.parse::<u64>().ok()?;
    }
    Some(total)
}

struct Poller {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    api: Arc<RuntimeApi>,
    settings: MappingSettings,
    stats: Arc<MappingStats>,
    stop: Arc<AtomicBool>,
}

struct Received {
    id: String,
    receipt_handle: String,
    record: Value,
}

impl Poller {
    async fn run(self) {
        while !self.stop.load(Ordering::SeqCst) {
            let batch = self.gather().await;
            if batch.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            self.stats.in_flight.fetch_add(1, Ordering::SeqCst);
            self.invoke(batch).await;
            self.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Up to `batch_size` messages: receives until the batch is full, the window (opened by the
    /// first message) has passed, or the queue has nothing visible for an empty batch.
    async fn gather(&self) -> Vec<Received> {
        let mut window_ends = None;
        let mut batch = Vec::new();
        loop {
            let wanted = (self.settings.batch_size - batch.len()).min(10);
            let read = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(i32::try_from(wanted).unwrap_or(10))
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .customize()
                .config_override(
                    aws_sdk_sqs::config::Builder::default()
                        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled()),
                )
                .send()
                .await;
            let messages = match read {
                Ok(read) => read.messages.unwrap_or_default(),
                Err(error) => {
                    self.stats.receive_errors.fetch_add(1, Ordering::SeqCst);
                    eprintln!(
                        "event source mapping: a receive failed ({}); any message it took comes \
                         back after the visibility timeout",
                        aws_sdk_sqs::error::DisplayErrorContext(&error)
                    );
                    Vec::new()
                }
            };
            let got = messages.len();
            for message in messages {
                if let (Some(id), Some(handle)) = (message.message_id(), message.receipt_handle()) {
                    batch.push(Received {
                        id: id.to_owned(),
                        receipt_handle: handle.to_owned(),
                        record: self.record(&message),
                    });
                }
            }
            if batch.is_empty() {
                return batch;
            }
            // The window opens with the first message.
            let window_ends =
                *window_ends.get_or_insert_with(|| Instant::now() + self.settings.batching_window);
            if batch.len() >= self.settings.batch_size || Instant::now() >= window_ends {
                return batch;
            }
            if got == 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    fn record(&self, message: &aws_sdk_sqs::types::Message) -> Value {
        let attributes: serde_json::Map<String, Value> = message
            .attributes()
            .map(|attributes| {
                attributes
                    .iter()
                    .map(|(name, value)| (name.as_str().to_owned(), json!(value)))
                    .collect()
            })
            .unwrap_or_default();
        json!({
            "messageId": message.message_id(),
            "receiptHandle": message.receipt_handle(),
            "body": message.body(),
            "attributes": attributes,
            "messageAttributes": {},
            "md5OfBody": message.md5_of_body(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": crate::moto::REGION,
        })
    }

    async fn invoke(&self, batch: Vec<Received>) {
        self.stats.invocations.fetch_add(1, Ordering::SeqCst);
        let event = json!({"Records": batch.iter().map(|m| &m.record).collect::<Vec<_>>()});
        let outcome = self
            .api
            .invoke(event.to_string(), self.settings.function_timeout)
            .await;
        let Outcome::Response(body) = outcome else {
            self.stats.failed_invocations.fetch_add(1, Ordering::SeqCst);
            return;
        };
        let ids: HashSet<&str> = batch.iter().map(|m| m.id.as_str()).collect();
        let Some(failed) = reported_failures(&body, &ids) else {
            self.stats.failed_invocations.fetch_add(1, Ordering::SeqCst);
            return;
        };
        self.stats
            .items_reported_failed
            .fetch_add(failed.len() as u64, Ordering::SeqCst);
        let done: Vec<String> = batch
            .iter()
            .filter(|m| !failed.contains(m.id.as_str()))
            .map(|m| m.receipt_handle.clone())
            .collect();
        // Counted in flight until deleted, so a drained queue means settled messages.
        self.stats.in_flight.fetch_add(1, Ordering::SeqCst);
        let (sqs, queue_url, stats) =
            (self.sqs.clone(), self.queue_url.clone(), self.stats.clone());
        tokio::spawn(async move {
            delete(&sqs, &queue_url, &done, &stats).await;
            stats.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

async fn delete(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    receipt_handles: &[String],
    stats: &MappingStats,
) {
    for chunk in receipt_handles.chunks(10) {
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .filter_map(|(index, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .receipt_handle(handle)
                    .build()
                    .ok()
            })
            .collect();
        // Lambda retries a delete that fails; one that still fails leaves the message to come
        // back after its visibility timeout.
        let mut entries = entries;
        for _ in 0..3 {
            let deleted = sqs
                .delete_message_batch()
                .queue_url(queue_url)
                .set_entries(Some(entries.clone()))
                .send()
                .await;
            if let Ok(deleted) = deleted {
                stats
                    .messages_deleted
                    .fetch_add(deleted.successful().len() as u64, Ordering::SeqCst);
                let failed: HashSet<&str> = deleted.failed().iter().map(|f| f.id()).collect();
                entries.retain(|entry| failed.contains(entry.id()));
            }
            if entries.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        stats
            .deletes_failed
            .fetch_add(entries.len() as u64, Ordering::SeqCst);
    }
}

/// The ids a `ReportBatchItemFailures` response lists; `None` when Lambda would fail the whole
/// batch (not the documented JSON, or an identifier empty or not in the batch).
fn reported_failures(body: &[u8], ids: &HashSet<&str>) -> Option<HashSet<String>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Some(HashSet::new());
    }
    let answer: Value = serde_json::from_slice(body).ok()?;
    if answer.is_null() {
        return Some(HashSet::new());
    }
    let failures = match answer.get("batchItemFailures") {
        None | Some(Value::Null) => return Some(HashSet::new()),
        Some(Value::Array(failures)) => failures,
        Some(_) => return None,
    };
    let mut failed = HashSet::new();
    for failure in failures {
        let id = failure.get("itemIdentifier")?.as_str()?;
        if id.is_empty() || !ids.contains(id) {
            return None;
        }
        failed.insert(id.to_owned());
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_that_names_an_unknown_or_empty_identifier_fails_the_batch() {
        let ids: HashSet<&str> = ["a", "b"].into();
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#, &ids),
            Some(["b".to_string()].into())
        );
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[]}"#, &ids),
            Some(HashSet::new())
        );
        assert_eq!(reported_failures(b"null", &ids), Some(HashSet::new()));
        assert_eq!(reported_failures(b"", &ids), Some(HashSet::new()));
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":"z"}]}"#, &ids),
            None
        );
        assert_eq!(
            reported_failures(br#"{"batchItemFailures":[{"itemIdentifier":""}]}"#, &ids),
            None
        );
        assert_eq!(reported_failures(b"not json", &ids), None);
    }
}

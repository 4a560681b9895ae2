use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use relay_core::inbox::{MAX_DELAY, whole_seconds_up};
use relay_core::{Enqueue, Inbox, InboxError};

use crate::describe;

/// The relay's inbox queue: `SendMessageBatch`, ten messages per call (SQS's most), each with
/// its own `DelaySeconds`.
pub struct SqsInbox {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsInbox {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

/// SQS's most entries per `SendMessageBatch`, and its most bytes for all of them together
/// (SQS developer guide, "Amazon SQS message quotas": 256 KiB per message and per batch).
const BATCH_ENTRIES: usize = 10;
const BATCH_BYTES: usize = 256 * 1024;

/// Consecutive runs of messages that fit one `SendMessageBatch` each; answers (first index, run).
fn batches(messages: &[Enqueue]) -> Vec<(usize, &[Enqueue])> {
    let mut runs = Vec::new();
    let mut first = 0;
    let mut bytes = 0;
    for (index, message) in messages.iter().enumerate() {
        let size = message.body.len();
        if index > first && (index - first == BATCH_ENTRIES || bytes + size > BATCH_BYTES) {
            runs.push((first, &messages[first..index]));
            first = index;
            bytes = 0;
        }
        bytes += size;
    }
    if first < messages.len() {
        runs.push((first, &messages[first..]));
    }
    runs
}

impl Inbox for SqsInbox {
    async fn send(&self, messages: &[Enqueue]) -> Result<(), InboxError> {
        let mut unsent = Vec::new();
        let mut reason = String::new();
        for (first, chunk) in batches(messages) {
            let entries: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .map(|(offset, message)| {
                    // SQS delays are whole seconds: rounded up, so work never comes back before
                    // its turn (a paced-out 0.8 s would otherwise be visible again at once).
                    let delay = whole_seconds_up(message.delay.min(MAX_DELAY));
                    SendMessageBatchRequestEntry::builder()
                        .id((first + offset).to_string())
                        .message_body(&message.body)
                        .delay_seconds(i32::try_from(delay).unwrap_or(900))
                        .build()
                })
                .collect();
            let sent = match entries {
                Ok(entries) => self
                    .client
                    .send_message_batch()
                    .queue_url(&self.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|error| describe(&error)),
                Err(error) => Err(error.to_string()),
            };
            match sent {
                Ok(answer) => {
                    for failed in answer.failed() {
                        if let Ok(index) = failed.id().parse::<usize>() {
                            unsent.push(index);
                        }
                        reason = format!(
                            "{}: {}",
                            failed.code(),
                            failed.message().unwrap_or("no message")
                        );
                    }
                }
                Err(error) => {
                    unsent.extend(first..first + chunk.len());
                    reason = error;
                }
            }
        }
        if unsent.is_empty() {
            Ok(())
        } else {
            Err(InboxError {
                unsent,
                total: messages.len(),
                inbox: self.queue_url.clone(),
                reason,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn message(bytes: usize) -> Enqueue {
        Enqueue {
            body: "x".repeat(bytes),
            delay: Duration::ZERO,
        }
    }

    #[test]
    fn a_batch_holds_at_most_ten_messages_and_256_kib() {
        let small: Vec<_> = (0..23).map(|_| message(10)).collect();
        let runs: Vec<(usize, usize)> =
            batches(&small).iter().map(|(f, r)| (*f, r.len())).collect();
        assert_eq!(runs, [(0, 10), (10, 10), (20, 3)]);

        let large: Vec<_> = (0..5).map(|_| message(100 * 1024)).collect();
        let runs: Vec<(usize, usize)> =
            batches(&large).iter().map(|(f, r)| (*f, r.len())).collect();
        assert_eq!(runs, [(0, 2), (2, 2), (4, 1)]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn a_delay_is_rounded_up_to_whole_seconds() {
        let seconds = |millis| whole_seconds_up(Duration::from_millis(millis));
        assert_eq!(
            [0, 1, 800, 1000, 1001, 900_000].map(seconds),
            [0, 1, 1, 1, 2, 900]
        );
    }
}

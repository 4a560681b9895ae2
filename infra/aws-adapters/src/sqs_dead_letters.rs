use aws_sdk_sqs::types::MessageAttributeValue;
use std::time::Duration;

use relay_core::dead_letter::MAX_LETTER_BYTES;
use relay_core::redrive::{DeadLetterQueue, QueueError, QueuedLetter};
use relay_core::{DeadLetter, DeadLetterError, DeadLetterSink};

use crate::describe;

/// Dead letters to an SQS queue: one message per letter, with `kind`, `route` and `uuid` as
/// message attributes so operators can filter without parsing bodies.
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        Self { client, queue_url }
    }

    fn error(&self, action: &'static str, reason: String) -> QueueError {
        QueueError {
            action,
            queue: self.queue_url.clone(),
            reason,
        }
    }

    /// The reason is the SDK's, with its cause chain.
    async fn send_one(&self, letter: &DeadLetter) -> Result<(), String> {
        let body = letter.to_body(MAX_LETTER_BYTES);
        let mut message = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body);
        let attributes = [
            ("kind", Some(letter.kind())),
            ("route", letter.route()),
            ("uuid", letter.uuid()),
        ];
        for (name, value) in attributes {
            if let Some(value) = value {
                let attribute = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(value)
                    .build()
                    .map_err(|error| error.to_string())?;
                message = message.message_attributes(name, attribute);
            }
        }
        message
            .send()
            .await
            .map(|_| ())
            .map_err(|error| describe(&error))
    }
}

impl DeadLetterSink for SqsDeadLetters {
    async fn send(&self, letters: &[DeadLetter]) -> Result<(), DeadLetterError> {
        for letter in letters {
            if let Err(reason) = self.send_one(letter).await {
                return Err(DeadLetterError {
                    count: letters.len(),
                    destination: self.queue_url.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }
}

impl DeadLetterQueue for SqsDeadLetters {
    async fn receive(&self, hide: Duration) -> Result<Vec<QueuedLetter>, QueueError> {
        let read = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(i32::try_from(hide.as_secs()).unwrap_or(i32::MAX))
            // Long polling asks every SQS server: a short poll may answer empty while
            // messages wait, which would end a drain early.
            .wait_time_seconds(1)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp,
            )
            .send()
            .await
            .map_err(|error| self.error("read", describe(&error)))?;
        Ok(read
            .messages()
            .iter()
            .filter_map(|message| {
                let sent_at = message
                    .attributes()
                    .and_then(|attributes| {
                        attributes
                            .get(&aws_sdk_sqs::types::MessageSystemAttributeName::SentTimestamp)
                    })
                    .and_then(|millis| millis.parse::<i64>().ok())
                    .and_then(chrono::DateTime::from_timestamp_millis);
                Some(QueuedLetter {
                    message_id: message.message_id()?.to_string(),
                    receipt_handle: message.receipt_handle()?.to_string(),
                    body: message.body()?.to_string(),
                    sent_at,
                })
            })
            .collect())
    }

    async fn release(&self, letter: &QueuedLetter) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(&letter.receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.error("release a message to", describe(&error)))
    }

    async fn delete(&self, letter: &QueuedLetter) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(&letter.receipt_handle)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.error("delete a message from", describe(&error)))
    }
}

use aws_sdk_sqs::types::MessageAttributeValue;
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

    async fn send_one(&self, letter: &DeadLetter) -> Result<(), String> {
        let body = serde_json::to_string(letter).map_err(|error| error.to_string())?;
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

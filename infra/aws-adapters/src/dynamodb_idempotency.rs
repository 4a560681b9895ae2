//! The idempotency store in a DynamoDB table (hash key `key`, TTL attribute `expiresAt`; the
//! template's `DeduplicationTable`). One item per (route, event uuid):
//!
//! | attribute    | meaning                                                          |
//! |--------------|------------------------------------------------------------------|
//! | `key`        | `<route>#<uuid>`                                                 |
//! | `state`      | `in_flight` while a delivery holds the lease, then `delivered`   |
//! | `leaseUntil` | epoch milliseconds: an `in_flight` item older than this is free  |
//! | `expiresAt`  | epoch seconds: DynamoDB's TTL deletes the item some time after   |
//!
//! Claims are conditional writes, so two invocations racing on the same key cannot both win.
//! DynamoDB deletes expired items lazily (within days), so the condition also treats an item
//! past `expiresAt` as gone: the TTL is exact even when the deletion is late.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use relay_core::{Claim, DeliveryKey, IdempotencyStore, StoreError};

use crate::describe;

const IN_FLIGHT: &str = "in_flight";
const DELIVERED: &str = "delivered";

pub struct DynamoDbIdempotency {
    client: aws_sdk_dynamodb::Client,
    table: String,
    ttl: Duration,
}

impl DynamoDbIdempotency {
    /// `ttl`: how long a delivery is remembered; a duplicate later than that is delivered again.
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, ttl: Duration) -> Self {
        Self { client, table, ttl }
    }

    fn error(&self, reason: String) -> StoreError {
        StoreError {
            store: format!("DynamoDB table {}", self.table),
            reason,
        }
    }

    fn expires_at(&self, now: Duration) -> AttributeValue {
        number(now.saturating_add(self.ttl).as_secs())
    }
}

impl IdempotencyStore for DynamoDbIdempotency {
    async fn claim(&self, key: DeliveryKey<'_>, lease: Duration) -> Result<Claim, StoreError> {
        let now = since_epoch();
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("key", AttributeValue::S(key.to_string()))
            .item("state", AttributeValue::S(IN_FLIGHT.into()))
            .item("leaseUntil", number(now.saturating_add(lease).as_millis()))
            .item("expiresAt", self.expires_at(now))
            .condition_expression(
                "attribute_not_exists(#key) OR #expiresAt < :nowSeconds \
                 OR (#state = :inFlight AND #leaseUntil < :nowMillis)",
            )
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#leaseUntil", "leaseUntil")
            .expression_attribute_names("#expiresAt", "expiresAt")
            .expression_attribute_values(":inFlight", AttributeValue::S(IN_FLIGHT.into()))
            .expression_attribute_values(":nowMillis", number(now.as_millis()))
            .expression_attribute_values(":nowSeconds", number(now.as_secs()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let error = match claimed {
            Ok(_) => return Ok(Claim::Claimed),
            Err(error) => error,
        };
        let reason = describe(&error);
        match error.into_service_error() {
            aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                failed,
            ) => Ok(holder(failed.item())),
            _ => Err(self.error(reason)),
        }
    }

    async fn complete(&self, key: DeliveryKey<'_>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("key", AttributeValue::S(key.to_string()))
            .item("state", AttributeValue::S(DELIVERED.into()))
            .item("expiresAt", self.expires_at(since_epoch()))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| self.error(describe(&error)))
    }

    async fn release(&self, key: DeliveryKey<'_>) -> Result<(), StoreError> {
        let released = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("key", AttributeValue::S(key.to_string()))
            .condition_expression("#state = :inFlight")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":inFlight", AttributeValue::S(IN_FLIGHT.into()))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // Someone else delivered it meanwhile: that record must stay.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(self.error(describe(&error))),
        }
    }
}

/// Who holds a key a claim could not take. Without the item (an older DynamoDB-compatible
/// store), the safe reading is "someone is delivering it": they deliver or dead-letter it.
fn holder(item: Option<&HashMap<String, AttributeValue>>) -> Claim {
    match item.and_then(|item| item.get("state")) {
        Some(AttributeValue::S(state)) if state == DELIVERED => Claim::Delivered,
        _ => Claim::InFlight,
    }
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

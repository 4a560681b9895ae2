//! AWS adapters for the relay's and the provisioner's ports:
//! - [`SsmRoutes`]: the route table from an SSM parameter, re-read after a TTL, keeping the last
//!   good table when a new one cannot be read or is invalid.
//! - [`SsmTokens`]: Workflows client tokens from SSM SecureString parameters, cached with a TTL.
//! - [`SqsDeadLetters`]: dead letters to an SQS queue, one message each.
//! - [`SqsInbox`]: the relay's inbox queue, where every event waits its turn (and retries wait
//!   their delay).
//! - [`read_secret`]: one SecureString (the Okta API token), never in an error.
//! - [`DynamoDbIdempotency`]: the idempotency store (de-duplication), conditional writes and a TTL.
//! - [`SsmBackfillState`]: the watchdog's backfill windows still to relay.
//! - [`EventBridgeBuses`]: the partner event source, its event bus, the rule and its target.

mod dynamodb_idempotency;
mod eventbridge_buses;
mod okta_access;
mod secret_reader;
mod sqs_dead_letters;
mod sqs_inbox;
mod ssm_backfill_state;
mod ssm_routes;
mod ssm_secret;
mod ssm_tokens;
mod ttl_cache;

pub use dynamodb_idempotency::DynamoDbIdempotency;
pub use eventbridge_buses::{EventBridgeBuses, EventBridgeError};
pub use okta_access::{OAuthKey, OktaAccess, OktaAccessError, OktaSession};
pub use secret_reader::{SecretReader, read_secrets_manager};
pub use sqs_dead_letters::SqsDeadLetters;
pub use sqs_inbox::SqsInbox;
pub use ssm_backfill_state::{BackfillStateError, SsmBackfillState};
pub use ssm_routes::SsmRoutes;
pub use ssm_secret::{ParameterError, read_parameter, read_secret};
pub use ssm_tokens::{SsmTokens, TokenScope, WorkstationTokens};

/// An SDK error with its whole cause chain ("service error" alone helps nobody).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_ssm::error::DisplayErrorContext(error).to_string()
}

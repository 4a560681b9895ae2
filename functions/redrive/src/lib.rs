//! The redrive Lambda: what `okta-relay redrive` does, from inside the stack, with the relay's
//! own routes, dead-letter queue and inbox: each message goes back to the inbox owing the routes
//! it failed on, and the relay delivers it paced with everything else. Invoked on demand:
//! `aws lambda invoke --function-name <stack>-redrive --payload '{"dryRun": true}' out.json`.

use std::time::Duration;

use relay_core::redrive::{DrainOptions, Handled, QueueError, Redriver, Tally, drain};
use relay_core::{RoutesSource, RoutesSourceError};
use relay_wiring::{RelayAdapters, RelayConfig};
use serde::Deserialize;
use tokio::time::Instant;

/// The function's timeout in template.yaml (Lambda's longest).
pub const TIMEOUT: Duration = Duration::from_secs(900);
/// How long a message read stays hidden while the drain goes on.
const HIDE: Duration = Duration::from_secs(60);
/// Kept back from the deadline, so the kept messages' release still happens.
const SAFETY_MARGIN: Duration = Duration::from_secs(30);

/// The invocation's payload; `{}` redrives everything.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Request {
    /// Log what would be sent again; change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Messages to handle at most.
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    10_000
}

/// Drains the queue until it is empty, `limit` is reached, or the deadline is near. One log
/// line per message.
pub async fn run(
    config: &RelayConfig,
    adapters: &RelayAdapters,
    request: &Request,
    deadline: Instant,
) -> Result<Tally, RedriveError> {
    let routes = adapters.routes.current().await?;
    let options = DrainOptions {
        dry_run: request.dry_run,
        limit: request.limit,
        hide: HIDE,
    };
    let keep_going = || deadline.saturating_duration_since(Instant::now()) > SAFETY_MARGIN;
    drain(
        &adapters.dead_letters,
        &Redriver {
            table: &routes.table,
            org: config.org.as_ref(),
            inbox: &adapters.inbox,
        },
        &options,
        keep_going,
        log_handled,
    )
    .await
    .map_err(RedriveError::from)
}

/// Why a redrive stopped; what was not deleted stays in the queue.
#[derive(Debug, thiserror::Error)]
pub enum RedriveError {
    #[error("cannot redrive without routes: {0}")]
    Routes(#[from] RoutesSourceError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

fn log_handled(handled: &Handled) {
    match handled {
        Handled::Redriven {
            message_id,
            uuid,
            routes,
        } => {
            tracing::info!(outcome = "redriven", message_id, uuid, routes = %routes.join(","), "back in the inbox; deleted")
        }
        Handled::WouldSend {
            message_id,
            uuid,
            routes,
        } => {
            tracing::info!(outcome = "would_send", message_id, uuid, routes = %routes.join(","), "dry run: kept")
        }
        Handled::Kept {
            message_id,
            uuid,
            reason,
        } => tracing::warn!(
            outcome = "kept",
            message_id,
            uuid = uuid.as_deref().unwrap_or_default(),
            reason,
            "not sent again: kept in the queue"
        ),
        Handled::NotRedrivable { message_id, reason } => tracing::warn!(
            outcome = "not_redrivable",
            message_id,
            reason,
            "cannot be sent again: kept for a person"
        ),
    }
}

//! The outage's events, put in the relay's inbox after the stream is active again: the one
//! backfill ([`relay_core::backfill::backfill`]: System Log pages, the rule's pattern, progress
//! saved in SSM after every page) with each page sent to the inbox, where the relay takes them
//! like streamed events: same routes, same pacing per flow, same idempotency store, same
//! dead-letter queue.

use std::time::Duration;

use aws_adapters::{SqsInbox, SsmBackfillState};
use okta_api::OktaClient;
use relay_core::InboxError;
use relay_core::backfill::{BackfillError, BackfillReport, PendingBackfill, Streamed};
use relay_core::inbox::enqueue_events;
use tokio::time::Instant;

/// A page is only started with this much time left (reading it, waiting out Okta's rate limit,
/// sending it to the inbox, saving the progress).
pub const PAGE_RESERVE: Duration = Duration::from_secs(45);

/// Reads the pending windows into the inbox until they are done or `deadline` is near.
pub async fn backfill(
    okta: &OktaClient,
    pending: &mut PendingBackfill,
    state: &SsmBackfillState,
    streamed: &Streamed<'_>,
    inbox: &SqsInbox,
    page_size: u32,
    deadline: Instant,
) -> Result<BackfillReport, BackfillError<InboxError>> {
    relay_core::backfill::backfill(
        okta,
        pending,
        state,
        streamed,
        page_size,
        || deadline.saturating_duration_since(Instant::now()) >= PAGE_RESERVE,
        |payloads| async move { enqueue_events(inbox, &payloads).await },
    )
    .await
}

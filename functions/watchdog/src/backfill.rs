//! The outage's events, relayed after the stream is active again: the one backfill
//! ([`relay_core::backfill::backfill`]: System Log pages, the rule's pattern, progress saved in
//! SSM after every page) with each page fed through the relay's own pipeline, routes,
//! deliveries, idempotency store and dead-letter queue, a few events at a time.

use std::time::Duration;

use aws_adapters::SsmBackfillState;
use futures_util::{StreamExt, stream};
use okta::OrgUrl;
use okta_api::OktaClient;
use relay_core::backfill::{BackfillError, BackfillReport, PendingBackfill, Streamed};
use relay_core::{
    DeadLetterError, DeadLetterSink, Deliver, EnrichContext, InvocationMetrics, RouteTable,
    relay_invocation,
};
use tokio::time::Instant;

/// Events relayed at once: deliveries overlap their waits, the page order barely matters.
const CONCURRENCY: usize = 8;
/// A page is only started with this much time left (a page's deliveries and their retries).
pub const PAGE_RESERVE: Duration = Duration::from_secs(45);
/// Kept back from the deadline for dead-lettering and saving, as the relay does.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// One event's budget at most, as in the relay (its timeout).
const EVENT_BUDGET: Duration = Duration::from_secs(30);

/// How backfilled events are relayed: the relay's table and adapters.
pub struct Relaying<'a, D, S> {
    pub table: &'a RouteTable,
    pub deliver: &'a D,
    pub dead_letters: &'a S,
    pub org: &'a OrgUrl,
}

/// Relays the pending windows until they are done or `deadline` is near.
pub async fn backfill(
    okta: &OktaClient,
    pending: &mut PendingBackfill,
    state: &SsmBackfillState,
    streamed: &Streamed<'_>,
    relaying: &Relaying<'_, impl Deliver, impl DeadLetterSink>,
    page_size: u32,
    deadline: Instant,
) -> Result<BackfillReport, BackfillError> {
    relay_core::backfill::backfill(
        okta,
        pending,
        state,
        streamed,
        page_size,
        || deadline.saturating_duration_since(Instant::now()) >= PAGE_RESERVE,
        |payloads| relay_page(payloads, relaying, deadline),
    )
    .await
}

async fn relay_page(
    payloads: Vec<Vec<u8>>,
    relaying: &Relaying<'_, impl Deliver, impl DeadLetterSink>,
    deadline: Instant,
) -> Result<InvocationMetrics, DeadLetterError> {
    let results: Vec<_> = stream::iter(payloads)
        .map(|payload| async move {
            let budget = deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(SAFETY_MARGIN)
                .min(EVENT_BUDGET);
            let context = EnrichContext {
                org: Some(relaying.org),
                now: chrono::Utc::now(),
            };
            relay_invocation(
                &payload,
                relaying.table,
                &context,
                budget,
                relaying.deliver,
                relaying.dead_letters,
            )
            .await
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let mut total = InvocationMetrics::default();
    for result in results {
        total.add(&result?);
    }
    Ok(total)
}

//! The outage's events, relayed after the stream is active again: read back from the System Log
//! page by page (rate limit respected by `okta-api`) and fed through the relay's own pipeline,
//! routes, deliveries, idempotency store and dead-letter queue. After each page the windows
//! still to do are saved, so a run that runs out of time, or fails, leaves the rest to the next.

use std::time::Duration;

use aws_adapters::SsmBackfillState;
use event_pattern::Pattern;
use futures_util::{StreamExt, stream};
use okta::OrgUrl;
use okta_api::{LogCursor, OktaClient};
use relay_core::backfill::{PendingBackfill, as_streamed};
use relay_core::{
    DeadLetterSink, Deliver, EnrichContext, InvocationMetrics, RouteTable, relay_invocation,
};
use serde::Serialize;
use tokio::time::Instant;

/// Events relayed at once: deliveries overlap their waits, the page order barely matters.
const CONCURRENCY: usize = 8;
/// A page is only started with this much time left (a page's deliveries and their retries).
pub const PAGE_RESERVE: Duration = Duration::from_secs(45);
/// Kept back from the deadline for dead-lettering and saving, as the relay does.
const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// One event's budget at most, as in the relay (its timeout).
const EVENT_BUDGET: Duration = Duration::from_secs(30);

/// How backfilled events are relayed: the relay's table and adapters, and what the stream would
/// have put in each envelope.
pub struct Relaying<'a, D, S> {
    /// The EventBridge rule's pattern: what it would not have sent the relay is left out.
    pub rule: Option<&'a Pattern>,
    pub table: &'a RouteTable,
    pub deliver: &'a D,
    pub dead_letters: &'a S,
    pub org: &'a OrgUrl,
    pub source: &'a str,
    pub account: &'a str,
    pub region: &'a str,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillReport {
    pub pages: u64,
    pub events: u64,
    pub delivered: u64,
    pub duplicates_skipped: u64,
    /// Left out by the rule's pattern or by every route.
    pub filtered_out: u64,
    pub dead_lettered: u64,
    pub windows_done: u64,
    pub windows_left: u64,
}

/// Relays the pending windows until they are done or `deadline` is near, saving progress after
/// every page. An error (Okta, the dead-letter queue, SSM) leaves the windows saved as they were
/// after the last whole page.
pub async fn backfill(
    okta: &OktaClient,
    pending: &mut PendingBackfill,
    state: &SsmBackfillState,
    relaying: &Relaying<'_, impl Deliver, impl DeadLetterSink>,
    page_size: u32,
    deadline: Instant,
) -> Result<BackfillReport, String> {
    let mut report = BackfillReport::default();
    while let Some(gap) = pending.gaps.first() {
        if deadline.saturating_duration_since(Instant::now()) < PAGE_RESERVE {
            break;
        }
        let cursor = match &gap.next {
            Some(saved) => LogCursor::from_saved(saved),
            None => okta.system_log_start(gap.since, gap.until, page_size),
        };
        let page = okta
            .system_log_page(&cursor)
            .await
            .map_err(|error| format!("reading the System Log: {error}"))?;
        let relayed = relay_page(page.events, relaying, deadline).await?;
        report.pages += 1;
        report.events += relayed.received;
        report.delivered += relayed.delivered;
        report.duplicates_skipped += relayed.duplicates_skipped;
        report.filtered_out += relayed.filtered_out;
        report.dead_lettered += relayed.dead_lettered;
        match page.next {
            Some(next) => {
                if let Some(gap) = pending.gaps.first_mut() {
                    gap.next = Some(next.as_str().to_owned());
                }
            }
            None => {
                pending.gaps.remove(0);
                report.windows_done += 1;
            }
        }
        state.save(pending).await?;
    }
    report.windows_left = pending.gaps.len() as u64;
    Ok(report)
}

async fn relay_page(
    events: Vec<serde_json::Value>,
    relaying: &Relaying<'_, impl Deliver, impl DeadLetterSink>,
    deadline: Instant,
) -> Result<InvocationMetrics, String> {
    let received = events.len() as u64;
    let payloads: Vec<Vec<u8>> = events
        .into_iter()
        .map(|event| as_streamed(event, relaying.source, relaying.account, relaying.region))
        .filter(|payload| {
            // An event the pattern cannot read goes on, for the relay to dead-letter with a reason.
            relaying
                .rule
                .is_none_or(|rule| match Pattern::read_event(payload) {
                    Ok(event) => rule.matches_value(&event),
                    Err(_) => true,
                })
        })
        .collect();
    let mut total = InvocationMetrics {
        received: received - payloads.len() as u64,
        filtered_out: received - payloads.len() as u64,
        ..Default::default()
    };
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
    for result in results {
        total.add(&result.map_err(|error| error.to_string())?);
    }
    Ok(total)
}

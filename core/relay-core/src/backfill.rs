//! Backfill: Okta's stream has no replay and sends nothing while Okta has it deactivated, so the
//! events of an outage are read back from the System Log API and relayed as the stream would
//! have delivered them. One [`backfill`] serves the watchdog and `okta-relay backfill`: it reads
//! the windows still to do ([`Gap`], [`PendingBackfill`]) page by page through the [`SystemLog`]
//! port, puts each event in the envelope the stream would have ([`as_streamed`]), leaves out what
//! the EventBridge rule would not have sent ([`Streamed::rule`]), hands each page to the caller's
//! relaying, and saves where it got to after every page ([`BackfillProgress`]).

use std::future::Future;

use chrono::{DateTime, Utc};
use event_pattern::Pattern;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::metrics::InvocationMetrics;
use crate::pipeline::DeadLetterError;

/// A System Log window to relay, and where reading it got to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    /// Included.
    pub since: DateTime<Utc>,
    /// Excluded.
    pub until: DateTime<Utc>,
    /// Where the System Log read goes on after the last page relayed (the query of Okta's
    /// `next` link: a cursor, never a URL to call); `None` before the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl Gap {
    /// The window of an outage that started at `inactive_since`, widened by `overlap` before it:
    /// Okta deactivates a stream after its target has failed for a while, so the events of the
    /// last minutes before the deactivation may not have arrived either.
    pub fn outage(
        inactive_since: DateTime<Utc>,
        until: DateTime<Utc>,
        overlap: chrono::Duration,
    ) -> Self {
        Self {
            since: saturating_time::shift(inactive_since, -overlap),
            until,
            next: None,
        }
    }
}

/// The windows still to relay, oldest first (the watchdog keeps them in an SSM parameter, so a
/// window survives a run that ran out of time or failed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingBackfill {
    pub gaps: Vec<Gap>,
    /// The watchdog's record of the AWS side of the path, for the next outage's window.
    #[serde(default, skip_serializing_if = "PathRecord::is_empty")]
    pub path: PathRecord,
}

/// What the watchdog knows of the AWS side of the path (partner source, bus, rule, target).
/// EventBridge drops what a partner sends while it is broken, and nothing records when it broke,
/// so an outage is taken to start at the last check that found the path whole.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathRecord {
    /// The last check that found the path whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whole_at: Option<DateTime<Utc>>,
    /// A check found it broken, and none has found it whole since.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub broken: bool,
}

impl PathRecord {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An outage of the path, closed by a check that found it whole again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathOutage {
    /// Its window, now pending.
    Window(Gap),
    /// No check had found the path whole before it broke: the window's start is unknown, and
    /// nothing was added.
    StartUnknown { until: DateTime<Utc> },
}

impl PendingBackfill {
    /// Records a check of the path at `now`: whether it found the path broken (`found_broken`,
    /// even if it was repaired since) and whether it is whole now. When the path is whole again
    /// after an outage, the outage's window (from `overlap` before the last check that found it
    /// whole, to `now`) is added and answered.
    pub fn path_checked(
        &mut self,
        found_broken: bool,
        whole: bool,
        now: DateTime<Utc>,
        overlap: chrono::Duration,
    ) -> Option<PathOutage> {
        self.path.broken |= found_broken;
        if !whole {
            return None;
        }
        let closed = std::mem::take(&mut self.path.broken).then(|| match self.path.whole_at {
            Some(whole_at) => {
                let gap = Gap::outage(whole_at, now, overlap);
                self.add(gap.clone());
                PathOutage::Window(gap)
            }
            None => PathOutage::StartUnknown { until: now },
        });
        self.path.whole_at = Some(now);
        closed
    }

    /// Adds a window; one already pending that it overlaps is not read twice: the new one
    /// starts where the pending one ends.
    pub fn add(&mut self, mut gap: Gap) {
        if let Some(latest) = self.gaps.iter().map(|pending| pending.until).max() {
            gap.since = gap.since.max(latest);
        }
        if gap.since < gap.until {
            self.gaps.push(gap);
        }
    }
}

/// The event as Okta's stream would have delivered it: an EventBridge envelope from the partner
/// event source, so routes match it exactly as they match streamed events. The id says it came
/// from a backfill.
pub fn as_streamed(event: Value, source: &str, account: &str, region: &str) -> Vec<u8> {
    let id = format!("backfill-{}", event["uuid"].as_str().unwrap_or_default());
    crate::envelope::as_delivered(event, &id, source, account, region)
}

/// Okta's System Log as a backfill reads it (`okta-api` implements it).
pub trait SystemLog: Sync {
    /// The next page of `gap`: from where it got to (`gap.next`), or from its start.
    fn page(
        &self,
        gap: &Gap,
        page_size: u32,
    ) -> impl Future<Output = Result<LogPage, SystemLogError>> + Send;
}

/// One page of System Log events, oldest first.
#[derive(Debug, Clone, Default)]
pub struct LogPage {
    pub events: Vec<Value>,
    /// Where the window goes on (the query of Okta's `next` link); `None` on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("reading the System Log: {0}")]
pub struct SystemLogError(pub String);

/// Where the windows still to do are kept between runs: SSM for the watchdog; nowhere for a
/// one-off `okta-relay backfill` (`()`), which reads its one window to the end.
pub trait BackfillProgress: Sync {
    fn save(
        &self,
        pending: &PendingBackfill,
    ) -> impl Future<Output = Result<(), ProgressError>> + Send;
}

impl BackfillProgress for () {
    async fn save(&self, _: &PendingBackfill) -> Result<(), ProgressError> {
        Ok(())
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ProgressError(pub String);

/// What the stream would have put around each event, and what the rule would have let through.
#[derive(Debug, Clone, Copy)]
pub struct Streamed<'a> {
    /// The EventBridge rule's pattern: what it would not have sent the relay is left out.
    pub rule: Option<&'a Pattern>,
    pub source: &'a str,
    pub account: &'a str,
    pub region: &'a str,
}

impl Streamed<'_> {
    /// The page's events as streamed payloads, and how many the rule left out.
    pub fn payloads(&self, events: Vec<Value>) -> (Vec<Vec<u8>>, u64) {
        let read = events.len() as u64;
        let payloads: Vec<Vec<u8>> = events
            .into_iter()
            .map(|event| as_streamed(event, self.source, self.account, self.region))
            .filter(|payload| {
                // An event the pattern cannot read goes on, for the relay to dead-letter.
                self.rule
                    .is_none_or(|rule| match Pattern::read_event(payload) {
                        Ok(event) => rule.matches_value(&event),
                        Err(_) => true,
                    })
            })
            .collect();
        let kept = payloads.len() as u64;
        (payloads, read.saturating_sub(kept))
    }
}

/// What handing one page on did: relayed here (a local run), or put in the relay's inbox (the
/// watchdog, `okta-relay backfill`), where the relay paces them with the live events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageRelayed {
    pub queued: u64,
    pub delivered: u64,
    pub duplicates_skipped: u64,
    pub filtered_out: u64,
    pub dead_lettered: u64,
}

impl From<&InvocationMetrics> for PageRelayed {
    fn from(metrics: &InvocationMetrics) -> Self {
        Self {
            queued: 0,
            delivered: metrics.delivered,
            duplicates_skipped: metrics.duplicates_skipped,
            filtered_out: metrics.filtered_out,
            dead_lettered: metrics.dead_lettered,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillReport {
    pub pages: u64,
    pub events: u64,
    /// Put in the relay's inbox, which delivers them paced with the live events.
    pub queued: u64,
    pub delivered: u64,
    pub duplicates_skipped: u64,
    /// Left out by the rule's pattern or by every route.
    pub filtered_out: u64,
    pub dead_lettered: u64,
    pub windows_done: u64,
    pub windows_left: u64,
}

/// Why a backfill stopped; `E` is what handing a page on fails with (the inbox, the dead-letter
/// queue when events are relayed locally, the output when a dry run prints them).
#[derive(Debug, thiserror::Error)]
pub enum BackfillError<E = DeadLetterError> {
    #[error(transparent)]
    SystemLog(#[from] SystemLogError),
    #[error(transparent)]
    Relaying(E),
    #[error("saving the backfill's progress: {0}")]
    Progress(#[from] ProgressError),
}

/// Relays the pending windows until they are done or `keep_going` says stop (checked before
/// each page), saving progress after every page. `relay` takes one page's payloads. An error
/// leaves the windows saved as they were after the last whole page.
pub async fn backfill<Relay, Relayed, E>(
    log: &impl SystemLog,
    pending: &mut PendingBackfill,
    progress: &impl BackfillProgress,
    streamed: &Streamed<'_>,
    page_size: u32,
    keep_going: impl Fn() -> bool,
    mut relay: Relay,
) -> Result<BackfillReport, BackfillError<E>>
where
    Relay: FnMut(Vec<Vec<u8>>) -> Relayed,
    Relayed: Future<Output = Result<PageRelayed, E>>,
{
    let mut report = BackfillReport::default();
    while let Some(gap) = pending.gaps.first() {
        if !keep_going() {
            break;
        }
        let page = log.page(gap, page_size).await?;
        let read = page.events.len() as u64;
        let (payloads, left_out) = streamed.payloads(page.events);
        let relayed = relay(payloads).await.map_err(BackfillError::Relaying)?;
        report.pages += 1;
        report.events += read;
        report.queued += relayed.queued;
        report.delivered += relayed.delivered;
        report.duplicates_skipped += relayed.duplicates_skipped;
        report.filtered_out += relayed.filtered_out + left_out;
        report.dead_lettered += relayed.dead_lettered;
        match page.next {
            Some(next) => {
                if let Some(gap) = pending.gaps.first_mut() {
                    gap.next = Some(next);
                }
            }
            None => {
                pending.gaps.remove(0);
                report.windows_done += 1;
            }
        }
        progress.save(pending).await?;
    }
    report.windows_left = pending.gaps.len() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2026-11-25T10:{minute:02}:00Z").parse().unwrap()
    }

    #[test]
    fn an_outage_window_starts_before_the_deactivation() {
        let gap = Gap::outage(at(30), at(50), chrono::Duration::minutes(15));
        assert_eq!((gap.since, gap.until, gap.next), (at(15), at(50), None));
    }

    #[test]
    fn a_path_outage_runs_from_the_last_whole_check_to_the_check_that_finds_it_whole_again() {
        let two = chrono::Duration::minutes(2);
        let mut pending = PendingBackfill::default();
        assert_eq!(pending.path_checked(false, true, at(5), two), None);
        assert_eq!(pending.path_checked(false, true, at(10), two), None);
        // Broken and not repairable at 15 (someone else's bus), repaired by hand by 25.
        assert_eq!(pending.path_checked(true, false, at(15), two), None);
        assert_eq!(pending.path_checked(true, false, at(20), two), None);
        assert_eq!(pending.path.whole_at, Some(at(10)));
        let closed = pending.path_checked(false, true, at(25), two);
        let window = Gap::outage(at(10), at(25), two);
        assert_eq!(closed, Some(PathOutage::Window(window.clone())));
        assert_eq!(pending.gaps, [window]);
        // Broken and repaired within one check: the window ends at that check.
        let closed = pending.path_checked(true, true, at(30), two);
        assert_eq!(
            closed,
            Some(PathOutage::Window(Gap::outage(at(25), at(30), two)))
        );
        assert_eq!(
            pending.gaps[1].since,
            at(25),
            "what is added starts where the pending window ends"
        );
        assert!(!pending.path.broken);
        let saved: PendingBackfill =
            serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
        assert_eq!(saved, pending);
    }

    #[test]
    fn a_path_broken_before_any_whole_check_has_no_known_start() {
        let mut pending = PendingBackfill::default();
        let two = chrono::Duration::minutes(2);
        assert_eq!(pending.path_checked(true, false, at(5), two), None);
        assert_eq!(
            pending.path_checked(false, true, at(10), two),
            Some(PathOutage::StartUnknown { until: at(10) })
        );
        assert!(pending.gaps.is_empty());
        assert_eq!(
            serde_json::to_string(&PendingBackfill::default()).unwrap(),
            r#"{"gaps":[]}"#,
            "a state saved before the path record reads and writes as it did"
        );
    }

    #[test]
    fn overlapping_outages_are_read_once() {
        let mut pending = PendingBackfill::default();
        pending.add(Gap::outage(at(10), at(20), chrono::Duration::zero()));
        pending.add(Gap::outage(at(15), at(40), chrono::Duration::zero()));
        pending.add(Gap::outage(at(25), at(35), chrono::Duration::zero()));
        let windows: Vec<_> = pending.gaps.iter().map(|g| (g.since, g.until)).collect();
        assert_eq!(windows, [(at(10), at(20)), (at(20), at(40))]);
    }

    #[test]
    fn the_pending_record_round_trips_as_json() {
        let mut pending = PendingBackfill::default();
        pending.add(Gap {
            since: at(1),
            until: at(2),
            next: Some("after=x&limit=2".into()),
        });
        let text = serde_json::to_string(&pending).unwrap();
        assert_eq!(
            text,
            r#"{"gaps":[{"since":"2026-11-25T10:01:00Z","until":"2026-11-25T10:02:00Z","next":"after=x&limit=2"}]}"#
        );
        let read: PendingBackfill = serde_json::from_str(&text).unwrap();
        assert_eq!(read, pending);
    }

    #[test]
    fn a_backfilled_event_looks_streamed() {
        let event = json!({"uuid": "u-1", "published": "2026-11-25T10:00:00.000Z"});
        let envelope: Value =
            serde_json::from_slice(&as_streamed(event, "aws.partner/okta.com/x/y", "1", "r"))
                .unwrap();
        assert_eq!(envelope["id"], "backfill-u-1");
        assert_eq!(envelope["source"], "aws.partner/okta.com/x/y");
        assert_eq!(envelope["time"], "2026-11-25T10:00:00.000Z");
        assert_eq!(envelope["detail"]["uuid"], "u-1");
    }
}

//! Backfill: Okta's stream has no replay and sends nothing while Okta has it deactivated, so the
//! events of an outage are read back from the System Log API and relayed as the stream would
//! have delivered them. This module holds what a backfill needs besides the reading and the
//! sending: the windows still to do ([`Gap`], [`PendingBackfill`], kept between watchdog runs)
//! and the envelope the stream would have put around each event ([`as_streamed`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
}

impl PendingBackfill {
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
    let time = event.get("published").cloned().unwrap_or(Value::Null);
    json!({
        "version": "0", "id": id, "detail-type": "SystemLog", "source": source,
        "account": account, "time": time, "region": region, "resources": [], "detail": event
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2026-11-25T10:{minute:02}:00Z").parse().unwrap()
    }

    #[test]
    fn an_outage_window_starts_before_the_deactivation() {
        let gap = Gap::outage(at(30), at(50), chrono::Duration::minutes(15));
        assert_eq!((gap.since, gap.until, gap.next), (at(15), at(50), None));
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

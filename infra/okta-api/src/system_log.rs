//! The System Log API (`GET /api/v1/logs`): events published in a window, oldest first, page by
//! page, within the org's rate limit.

use chrono::{DateTime, DurationRound, SecondsFormat, Utc};
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::client::{OktaClient, RATE_LIMIT_RESET_HORIZON, header_number, rate_limit_reset, until};
use crate::error::OktaError;

pub const RATE_LIMIT_REMAINING: &str = "x-rate-limit-remaining";
/// Okta's largest System Log page.
pub const MAX_PAGE_SIZE: u32 = 1000;
const LOGS_PATH: &str = "/api/v1/logs";

/// Where a System Log read goes on: the query of Okta's `next` link (its `after` cursor and the
/// window's filters). Only the query is kept; each request is rebuilt on the org's origin and
/// the `/api/v1/logs` path, so a cursor saved where others can write (the watchdog's SSM
/// parameter) can never send the credential to another host or call another API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCursor(String);

impl LogCursor {
    /// Reads a saved cursor. A whole `next` link, as earlier versions saved, is reduced to its
    /// query: its host and path are never used.
    pub fn from_saved(text: &str) -> Self {
        let text = text.trim();
        let query = match url::Url::parse(text) {
            Ok(link) => link.query().unwrap_or_default().to_owned(),
            Err(_) => text.trim_start_matches('?').to_owned(),
        };
        Self(query)
    }

    /// The text to save.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `until` as the query's exclusive end. Okta's timestamps are whole milliseconds: an end cut
/// down to its millisecond would leave out an event published in that same millisecond (the
/// watchdog's window ends the instant it re-activated the stream, and its activation event can
/// carry that very millisecond), so the end is rounded up to the next one.
fn exclusive_end(until: DateTime<Utc>) -> String {
    let whole = until
        .duration_round_up(chrono::TimeDelta::milliseconds(1))
        .unwrap_or(until);
    whole.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One page of events and where the next one is.
#[derive(Debug)]
pub struct LogPage {
    pub events: Vec<Value>,
    pub next: Option<LogCursor>,
}

impl OktaClient {
    /// The first page of events published in `[since, until)`, oldest first, `page_size` (at
    /// most [`MAX_PAGE_SIZE`]) per page.
    pub fn system_log_start(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        page_size: u32,
    ) -> LogCursor {
        let mut url = self.url(LOGS_PATH);
        url.query_pairs_mut()
            .append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true))
            .append_pair("until", &exclusive_end(until))
            .append_pair("sortOrder", "ASCENDING")
            .append_pair("limit", &page_size.clamp(1, MAX_PAGE_SIZE).to_string());
        LogCursor(url.query().unwrap_or_default().to_owned())
    }

    /// Reads one page. When Okta says the rate limit is spent (`X-Rate-Limit-Remaining: 0`), waits
    /// until `X-Rate-Limit-Reset` before answering, so the next page does not meet a 429.
    pub async fn system_log_page(&self, at: &LogCursor) -> Result<LogPage, OktaError> {
        let mut url = self.url(LOGS_PATH);
        url.set_query(Some(at.as_str()).filter(|query| !query.is_empty()));
        let (events, next, headers) = self.page::<Value>(url).await?;
        // Okta sends a next link even from the last page of a bounded query; an empty page ends it.
        let next = next
            .filter(|_| !events.is_empty())
            .map(|link| LogCursor(link.query().unwrap_or_default().to_owned()));
        if let Some(wait) = spent_until(&headers) {
            tokio::time::sleep(wait).await;
        }
        Ok(LogPage { events, next })
    }
}

/// How long to wait when the rate limit is spent, per Okta's headers (a reset beyond the
/// horizon Okta's per-minute limits allow is not believed, and not waited for).
fn spent_until(headers: &HeaderMap) -> Option<std::time::Duration> {
    if header_number(headers, RATE_LIMIT_REMAINING)? > 0 {
        return None;
    }
    rate_limit_reset(headers)
        .map(until)
        .filter(|wait| *wait <= RATE_LIMIT_RESET_HORIZON)
}

/// How far back the System Log goes: Okta keeps events for 90 days ("System Log API":
/// "retention period of 90 days").
pub const RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(90);

impl OktaClient {
    /// The newest `system.log_stream.lifecycle.deactivate` event whose target is the stream,
    /// within the retention: `filter` on the event type and target id, newest first, one event.
    pub async fn last_deactivation(
        &self,
        log_stream_id: &str,
    ) -> Result<Option<okta::Deactivation>, OktaError> {
        let since = saturating_time::shift(Utc::now(), -RETENTION);
        // A stream id is Okta's (`0oa…`); quoting it keeps any other text a literal.
        let id = log_stream_id.replace(['"', '\\'], "");
        let mut url = self.url(LOGS_PATH);
        url.query_pairs_mut()
            .append_pair(
                "filter",
                &format!(
                    "eventType eq \"{}\" and target.id eq \"{id}\"",
                    okta::DEACTIVATE_EVENT
                ),
            )
            .append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true))
            .append_pair("sortOrder", "DESCENDING")
            .append_pair("limit", "1");
        let (events, _, _) = self.page::<Value>(url).await?;
        Ok(events.iter().find_map(okta::Deactivation::from_event))
    }
}

impl provisioning::StreamHistory for OktaClient {
    async fn last_deactivation(
        &self,
        log_stream_id: &str,
    ) -> Result<Option<okta::Deactivation>, provisioning::PortError> {
        Ok(OktaClient::last_deactivation(self, log_stream_id).await?)
    }
}

/// The backfill's port: a window's next page, from its saved cursor or its start.
impl relay_core::backfill::SystemLog for OktaClient {
    async fn page(
        &self,
        gap: &relay_core::backfill::Gap,
        page_size: u32,
    ) -> Result<relay_core::backfill::LogPage, relay_core::backfill::SystemLogError> {
        let cursor = match &gap.next {
            Some(saved) => LogCursor::from_saved(saved),
            None => self.system_log_start(gap.since, gap.until, page_size),
        };
        let page = self
            .system_log_page(&cursor)
            .await
            .map_err(|error| relay_core::backfill::SystemLogError(error.to_string()))?;
        Ok(relay_core::backfill::LogPage {
            events: page.events,
            next: page.next.map(|next| next.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_s_end_keeps_the_events_of_its_last_millisecond() {
        let end: DateTime<Utc> = "2026-11-25T10:00:00.123456Z".parse().unwrap();
        assert_eq!(exclusive_end(end), "2026-11-25T10:00:00.124Z");
        let whole: DateTime<Utc> = "2026-11-25T10:00:00.123Z".parse().unwrap();
        assert_eq!(exclusive_end(whole), "2026-11-25T10:00:00.123Z");
    }

    #[test]
    fn a_saved_link_keeps_only_its_query() {
        let cursor =
            LogCursor::from_saved("https://attacker.example/api/v1/users?after=abc&limit=2#frag");
        assert_eq!(cursor.as_str(), "after=abc&limit=2");
        assert_eq!(LogCursor::from_saved("?after=x").as_str(), "after=x");
        assert_eq!(LogCursor::from_saved(" after=y ").as_str(), "after=y");
    }
}

//! The System Log API (`GET /api/v1/logs`): events published in a window, oldest first, page by
//! page, within the org's rate limit.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Url;
use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::client::{OktaClient, RATE_LIMIT_RESET};
use crate::error::OktaError;

pub const RATE_LIMIT_REMAINING: &str = "x-rate-limit-remaining";
/// Okta's largest System Log page.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// One page of events and where the next one is.
#[derive(Debug)]
pub struct LogPage {
    pub events: Vec<Value>,
    pub next: Option<Url>,
}

impl OktaClient {
    /// The first page's URL for events published in `[since, until)`, oldest first,
    /// `page_size` (at most [`MAX_PAGE_SIZE`]) per page.
    pub fn system_log_url(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        page_size: u32,
    ) -> Url {
        let mut url = self.url("/api/v1/logs");
        url.query_pairs_mut()
            .append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true))
            .append_pair("until", &until.to_rfc3339_opts(SecondsFormat::Millis, true))
            .append_pair("sortOrder", "ASCENDING")
            .append_pair("limit", &page_size.clamp(1, MAX_PAGE_SIZE).to_string());
        url
    }

    /// Reads one page. When Okta says the rate limit is spent (`X-Rate-Limit-Remaining: 0`), waits
    /// until `X-Rate-Limit-Reset` before answering, so the next page does not meet a 429.
    pub async fn system_log_page(&self, url: Url) -> Result<LogPage, OktaError> {
        let (events, next, headers) = self.page::<Value>(url).await?;
        // Okta sends a next link even from the last page of a bounded query; an empty page ends it.
        let next = next.filter(|_| !events.is_empty());
        if let Some(wait) = spent_until(&headers) {
            tokio::time::sleep(wait).await;
        }
        Ok(LogPage { events, next })
    }
}

/// How long to wait when the rate limit is spent, per Okta's headers.
fn spent_until(headers: &HeaderMap) -> Option<std::time::Duration> {
    let number = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<i64>().ok();
    if number(RATE_LIMIT_REMAINING)? > 0 {
        return None;
    }
    let reset = DateTime::from_timestamp(number(RATE_LIMIT_RESET)?, 0)?;
    Some((reset - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_secs(1))
}

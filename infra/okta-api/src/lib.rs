//! Okta Management API client, the adapter behind the provisioner's `LogStreams` port.
//!
//! - [`OktaClient`]: one org, an SSWS API token (sent as a sensitive header, never logged or put
//!   in an error, and only ever to the org's own origin: no redirect is followed, and a request
//!   for any other origin is refused before it is sent), answers read up to
//!   [`MAX_ANSWER_BYTES`], retries on 429 until `X-Rate-Limit-Reset` and on 5xx with backoff, all within
//!   a time budget per call; pagination by `Link: rel="next"` on the org's own host only.
//! - Log Streams API: list (filtered to `aws_eventbridge`, all pages), get, create, replace,
//!   activate, deactivate, delete.
//! - System Log API: events of a window, oldest first, page by page ([`LogCursor`]: the query of
//!   the next link, never a URL), waiting out a spent rate
//!   limit (`X-Rate-Limit-Remaining: 0` until `X-Rate-Limit-Reset`) instead of meeting a 429.
//! - [`OktaError`]: each variant says what Okta answered and what to do.

mod client;
mod error;
mod log_streams;
mod system_log;

pub use client::{
    MANAGEMENT_SCOPES, MAX_ANSWER_BYTES, OktaClient, OktaCredentials, RATE_LIMIT_RESET, http_client,
};
pub use error::{ErrorCause, OktaError, OktaErrorBody};
pub use system_log::{LogCursor, LogPage, MAX_PAGE_SIZE, RATE_LIMIT_REMAINING, RETENTION};

//! The HTTP client: SSWS authentication, retries on 429 (until `X-Rate-Limit-Reset`) and 5xx,
//! `Link: rel="next"` pagination that never leaves the org's host.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use okta::OrgUrl;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LINK};
use reqwest::{Method, Url};
use retry::{AttemptError, RetryPolicy, is_retryable_status};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::error::{OktaError, OktaErrorBody};
use outbound_http::{Redirect, read_capped};

pub const RATE_LIMIT_RESET: &str = "x-rate-limit-reset";
/// Pages followed at most in one listing; Okta's page size makes this thousands of objects.
const MAX_PAGES: usize = 100;
/// The largest answer read from Okta. A System Log page of 1,000 events is a few megabytes;
/// anything larger is not an answer Okta documents, and is refused before it fills memory.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// The longest wait for a spent rate limit before a call that has not failed yet. Okta's limits
/// reset each minute (developer.okta.com, "Rate limits overview"), so a reset further away is
/// not waited for up front: the call is made, and a 429 then waits within the call's budget
/// (and gives up with the reset time in the error when it does not fit).
pub const RATE_LIMIT_RESET_HORIZON: Duration = Duration::from_secs(120);

/// The HTTP client Okta calls go through: build once per container (loading the TLS roots is
/// the slow part), share with [`OktaClient::with_http`]. It follows no redirect
/// ([`outbound_http`]): the SSWS header must never reach another host.
pub fn http_client() -> Result<reqwest::Client, OktaError> {
    outbound_http::client(&outbound_http::ClientSettings {
        connect_timeout: Duration::from_secs(5),
        timeout: Some(Duration::from_secs(30)),
        pool_idle_timeout: None,
    })
    .map_err(|error| OktaError::Client(error.without_url().to_string()))
}

/// Checks that `base` may be called (https, or http on the loopback interface) and makes the
/// SSWS header from the token, marked sensitive so it is never logged.
fn authorization(base: &Url, token: &SecretString) -> Result<HeaderValue, OktaError> {
    let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !(base.scheme() == "https" || base.scheme() == "http" && loopback) {
        return Err(OktaError::BaseUrl(base.to_string()));
    }
    let mut authorization = HeaderValue::from_str(&format!("SSWS {}", token.expose_secret()))
        .map_err(|_| {
            OktaError::Client("the API token has characters an HTTP header cannot carry".into())
        })?;
    authorization.set_sensitive(true);
    Ok(authorization)
}

/// A client for one Okta org.
#[derive(Clone)]
pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    policy: RetryPolicy,
    /// Time one call may take, retries and rate-limit waits included.
    budget: Duration,
}

/// A successful answer.
pub(crate) struct Answer {
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// The last failed attempt, kept to build the error once the number of attempts is known.
struct Failure {
    status: Option<u16>,
    body: OktaErrorBody,
    reason: String,
    reset: Option<DateTime<Utc>>,
    redirect: Option<Redirect>,
}

impl OktaClient {
    /// A client for `org`, calling `api_base_url` instead of the org URL when one is given (a
    /// proxy, or a local fake Okta in tests).
    pub fn new(
        org: &OrgUrl,
        api_base_url: Option<&Url>,
        token: &SecretString,
    ) -> Result<Self, OktaError> {
        Self::with_base_url(api_base_url.unwrap_or(org.as_url()).clone(), token)
    }

    /// [`OktaClient::new`] on an HTTP client built once per container ([`http_client`]), for
    /// functions that read the token on every invocation (so a rotated token is picked up).
    pub fn with_http(
        http: reqwest::Client,
        org: &OrgUrl,
        api_base_url: Option<&Url>,
        token: &SecretString,
    ) -> Result<Self, OktaError> {
        let base = api_base_url.unwrap_or(org.as_url()).clone();
        let authorization = authorization(&base, token)?;
        Ok(Self::assemble(http, base, authorization))
    }

    /// A client calling `base` instead of the org URL: a proxy, or a local fake Okta in tests
    /// (plain http is accepted only on the loopback interface).
    pub fn with_base_url(base: Url, token: &SecretString) -> Result<Self, OktaError> {
        let authorization = authorization(&base, token)?;
        Ok(Self::assemble(http_client()?, base, authorization))
    }

    fn assemble(http: reqwest::Client, base: Url, authorization: HeaderValue) -> Self {
        Self {
            http,
            base,
            authorization,
            policy: RetryPolicy {
                first_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(10),
                max_attempts: 5,
                min_attempt_time: Duration::from_millis(500),
            },
            budget: Duration::from_secs(60),
        }
    }

    /// Limits each call (retries and rate-limit waits included) to `budget`.
    pub fn with_budget(mut self, budget: Duration, policy: RetryPolicy) -> Self {
        self.budget = budget;
        self.policy = policy;
        self
    }

    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(path);
        url
    }

    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<(T, HeaderMap), OktaError> {
        let request = describe(&method, &url);
        let answer = self.call(method, url, body).await?;
        let value = serde_json::from_slice(&answer.body).map_err(|error| {
            OktaError::UnexpectedResponse {
                request,
                reason: error.to_string(),
            }
        })?;
        Ok((value, answer.headers))
    }

    /// One page of a listing and its `Link: <…>; rel="next"`, which is refused unless it stays on
    /// the org's origin, so the token is never sent to another host.
    pub(crate) async fn page<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<(Vec<T>, Option<Url>, HeaderMap), OktaError> {
        let (items, headers): (Vec<T>, _) = self.json(Method::GET, url.clone(), None).await?;
        match next_link(&headers) {
            Some(next) if next.origin() != self.base.origin() => {
                Err(OktaError::UnexpectedResponse {
                    request: describe(&Method::GET, &url),
                    reason: format!(
                        "its next page is on another host ({})",
                        next.origin().ascii_serialization()
                    ),
                })
            }
            next => Ok((items, next, headers)),
        }
    }

    /// Every page of a listing (see [`OktaClient::page`]).
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        first: Url,
    ) -> Result<Vec<T>, OktaError> {
        let mut items = Vec::new();
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let (page, next, _) = self.page(url.clone()).await?;
            items.extend(page);
            match next {
                None => return Ok(items),
                Some(next) => url = next,
            }
        }
        Err(OktaError::UnexpectedResponse {
            request: describe(&Method::GET, &url),
            reason: format!("more than {MAX_PAGES} pages"),
        })
    }

    /// Sends one request, retrying as the policy allows. Every request of this client passes
    /// here, and none leaves unless its URL is on the org's own origin: whatever a call site,
    /// a saved cursor or a `Link` header says, the credential goes to the org and nowhere else.
    pub(crate) async fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, OktaError> {
        let request = describe(&method, &url);
        if url.origin() != self.base.origin() {
            return Err(OktaError::ForeignUrl {
                request,
                origin: url.origin().ascii_serialization(),
            });
        }
        let last: Mutex<Option<Failure>> = Mutex::new(None);
        let attempted = self
            .policy
            .run(self.budget, |slot| {
                let builder = self
                    .http
                    .request(method.clone(), url.clone())
                    .header(AUTHORIZATION, self.authorization.clone())
                    .header(ACCEPT, "application/json")
                    .timeout(slot.time_left);
                let builder = match &body {
                    Some(body) => builder
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone()),
                    None => builder,
                };
                let last = &last;
                async move {
                    let outcome = attempt(builder).await;
                    outcome.map_err(|failure| {
                        let error = AttemptError {
                            reason: failure.reason.clone(),
                            status: failure.status,
                            retryable: failure.status.is_none_or(is_retryable_status),
                            retry_after: failure.reset.map(until),
                        };
                        if let Ok(mut last) = last.lock() {
                            *last = Some(failure);
                        }
                        error
                    })
                }
            })
            .await;
        let attempts = attempted.attempts;
        attempted.result.map_err(|error| {
            let failure = last.into_inner().ok().flatten();
            to_error(request, attempts, error, failure)
        })
    }
}

async fn attempt(builder: reqwest::RequestBuilder) -> Result<Answer, Failure> {
    let transport = |error: reqwest::Error| Failure {
        status: None,
        body: OktaErrorBody::default(),
        reason: error.without_url().to_string(),
        reset: None,
        redirect: None,
    };
    let response = builder.send().await.map_err(transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    // No redirect is followed, so the response's URL is the one requested.
    if let Some(redirect) = Redirect::of(status, &headers, response.url()) {
        return Err(Failure {
            status: Some(redirect.status),
            body: OktaErrorBody::default(),
            reason: redirect.to_string(),
            reset: None,
            redirect: Some(redirect),
        });
    }
    let body = read_capped(response, MAX_ANSWER_BYTES)
        .await
        .map_err(transport)?;
    if body.truncated {
        return Err(Failure {
            status: None,
            body: OktaErrorBody::default(),
            reason: format!(
                "the answer is larger than {} MiB, more than any Okta answer",
                MAX_ANSWER_BYTES / (1024 * 1024)
            ),
            reset: None,
            redirect: None,
        });
    }
    let body = body.bytes;
    if status.is_success() {
        return Ok(Answer { headers, body });
    }
    let error_body: OktaErrorBody = serde_json::from_slice(&body).unwrap_or_default();
    Err(Failure {
        status: Some(status.as_u16()),
        reason: format!("HTTP {} ({error_body})", status.as_u16()),
        body: error_body,
        reset: rate_limit_reset(&headers),
        redirect: None,
    })
}

/// A header holding a whole number (Okta's `X-Rate-Limit-*`), if it does.
pub(crate) fn header_number(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Okta's `X-Rate-Limit-Reset` (epoch seconds), when it is a time chrono can represent.
pub(crate) fn rate_limit_reset(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    saturating_time::from_unix_seconds(header_number(headers, RATE_LIMIT_RESET)?)
}

/// How long until Okta's rate limit resets, plus a second because the reset is whole seconds.
pub(crate) fn until(reset: DateTime<Utc>) -> Duration {
    saturating_time::until(reset, Utc::now()).saturating_add(Duration::from_secs(1))
}

fn to_error(
    request: String,
    attempts: u32,
    error: AttemptError,
    failure: Option<Failure>,
) -> OktaError {
    let Some(failure) = failure else {
        return OktaError::Unreachable {
            request,
            attempts,
            reason: error.reason,
        };
    };
    if let Some(redirect) = failure.redirect {
        return OktaError::Redirected {
            request,
            redirect: redirect.to_string(),
        };
    }
    let body = Box::new(failure.body);
    match failure.status {
        None => OktaError::Unreachable {
            request,
            attempts,
            reason: failure.reason,
        },
        Some(401) => OktaError::Unauthorized { request, body },
        Some(403) => OktaError::Forbidden { request, body },
        Some(404) => OktaError::NotFound { request, body },
        Some(429) => OktaError::RateLimited {
            request,
            attempts,
            reset: failure
                .reset
                .map_or_else(|| "an unknown time".into(), |reset| reset.to_rfc3339()),
            body,
        },
        Some(status) if is_retryable_status(status) => OktaError::Unavailable {
            request,
            status,
            attempts,
            body,
        },
        Some(status) => OktaError::Rejected {
            request,
            status,
            body,
        },
    }
}

/// `GET /api/v1/logStreams`: method and path only, never the query (it may carry cursors) and
/// never a header.
fn describe(method: &Method, url: &Url) -> String {
    format!("{method} {}", url.path())
}

/// The `rel="next"` target of RFC 8288 `Link` headers, which Okta sends one per relation.
fn next_link(headers: &HeaderMap) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let is_next = params
                .split(';')
                .any(|param| param.trim().replace(' ', "") == "rel=\"next\"");
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            is_next.then(|| Url::parse(target).ok()).flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link_among_okta_link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://x.okta.com/api/v1/logStreams?limit=2>; rel=\"self\"",
            ),
        );
        headers.append(
            LINK,
            HeaderValue::from_static(
                "<https://x.okta.com/api/v1/logStreams?after=abc&limit=2>; rel=\"next\"",
            ),
        );
        assert_eq!(
            next_link(&headers).unwrap().as_str(),
            "https://x.okta.com/api/v1/logStreams?after=abc&limit=2"
        );
        let mut last_page = HeaderMap::new();
        last_page.append(
            LINK,
            HeaderValue::from_static("<https://x.okta.com/api/v1/logStreams>; rel=\"self\""),
        );
        assert!(next_link(&last_page).is_none());
    }

    #[test]
    fn refuses_plain_http_except_on_loopback() {
        let token = SecretString::from("t");
        assert!(
            OktaClient::with_base_url(Url::parse("http://example.okta.com").unwrap(), &token)
                .is_err()
        );
        assert!(
            OktaClient::with_base_url(Url::parse("http://127.0.0.1:9/").unwrap(), &token).is_ok()
        );
    }
}

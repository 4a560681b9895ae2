//! The HTTP client: SSWS or OAuth 2.0 authentication ([`OktaCredentials`]), retries on 429 (until `X-Rate-Limit-Reset`) and 5xx,
//! `Link: rel="next"` pagination that never leaves the org's host.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use okta::OrgUrl;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LINK};
use reqwest::{Method, Url};
use retry::{AttemptError, RetryPolicy, is_retryable_status};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::error::{OktaError, OktaErrorBody};
use okta_oauth::{NextStep, OAuthClient, OAuthError};
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

/// How calls to the Management API authenticate.
#[derive(Clone)]
pub enum OktaCredentials {
    /// An SSWS API token: it carries its creator's admin rights, expires after 30 days unused and
    /// dies with that admin's account. The fallback.
    ApiToken(SecretString),
    /// An OAuth 2.0 API service app ([`okta_oauth`]) with the Management API scopes
    /// ([`MANAGEMENT_SCOPES`]) and an admin role: Okta's recommendation.
    OAuth(Arc<OAuthClient>),
}

impl From<&SecretString> for OktaCredentials {
    fn from(token: &SecretString) -> Self {
        Self::ApiToken(token.clone())
    }
}

/// The scopes a Management API client of okta-relay asks for: the provisioner and the watchdog
/// manage and read log streams and read the System Log (Okta's OpenAPI `security` per
/// operation).
pub const MANAGEMENT_SCOPES: &str = "okta.logStreams.manage okta.logStreams.read okta.logs.read";

enum Authenticator {
    Ssws(HeaderValue),
    OAuth(Arc<OAuthClient>),
}

/// Checks that `base` may be called (https, or http on the loopback interface) and makes the
/// authenticator; an SSWS header is marked sensitive so it is never logged.
fn authenticator(base: &Url, credentials: OktaCredentials) -> Result<Authenticator, OktaError> {
    let loopback = matches!(base.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if !(base.scheme() == "https" || base.scheme() == "http" && loopback) {
        return Err(OktaError::BaseUrl(base.to_string()));
    }
    match credentials {
        OktaCredentials::ApiToken(token) => {
            let mut authorization = HeaderValue::from_str(&format!(
                "SSWS {}",
                token.expose_secret()
            ))
            .map_err(|_| {
                OktaError::Client("the API token has characters an HTTP header cannot carry".into())
            })?;
            authorization.set_sensitive(true);
            Ok(Authenticator::Ssws(authorization))
        }
        OktaCredentials::OAuth(client) => Ok(Authenticator::OAuth(client)),
    }
}

/// A client for one Okta org.
#[derive(Clone)]
pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    authenticator: Arc<Authenticator>,
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
    /// The answer's headers (a `WWW-Authenticate` challenge, a `DPoP-Nonce`).
    headers: HeaderMap,
    /// No request was sent: the OAuth client could not make a credential.
    oauth: Option<OAuthError>,
}

impl OktaClient {
    /// A client for `org`, calling `api_base_url` instead of the org URL when one is given (a
    /// proxy, or a local fake Okta in tests).
    pub fn new(
        org: &OrgUrl,
        api_base_url: Option<&Url>,
        credentials: impl Into<OktaCredentials>,
    ) -> Result<Self, OktaError> {
        Self::with_base_url(api_base_url.unwrap_or(org.as_url()).clone(), credentials)
    }

    /// [`OktaClient::new`] on an HTTP client built once per container ([`http_client`]), for
    /// functions that read the token on every invocation (so a rotated token is picked up).
    pub fn with_http(
        http: reqwest::Client,
        org: &OrgUrl,
        api_base_url: Option<&Url>,
        credentials: impl Into<OktaCredentials>,
    ) -> Result<Self, OktaError> {
        let base = api_base_url.unwrap_or(org.as_url()).clone();
        let authenticator = authenticator(&base, credentials.into())?;
        Ok(Self::assemble(http, base, authenticator))
    }

    /// A client calling `base` instead of the org URL: a proxy, or a local fake Okta in tests
    /// (plain http is accepted only on the loopback interface).
    pub fn with_base_url(
        base: Url,
        credentials: impl Into<OktaCredentials>,
    ) -> Result<Self, OktaError> {
        let authenticator = authenticator(&base, credentials.into())?;
        Ok(Self::assemble(http_client()?, base, authenticator))
    }

    fn assemble(http: reqwest::Client, base: Url, authenticator: Authenticator) -> Self {
        Self {
            http,
            base,
            authenticator: Arc::new(authenticator),
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
                let (method, url, body, last) = (&method, &url, &body, &last);
                async move {
                    let outcome = self.authenticated(method, url, body, slot.time_left).await;
                    outcome.map_err(|failure| {
                        let retryable = match &failure.oauth {
                            Some(error) => error.is_temporary(),
                            None => failure.status.is_none_or(is_retryable_status),
                        };
                        let error = AttemptError {
                            reason: failure.reason.clone(),
                            status: failure.status,
                            retryable,
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
        let oauth = matches!(*self.authenticator, Authenticator::OAuth(_));
        attempted.result.map_err(|error| {
            let failure = last.into_inner().ok().flatten();
            to_error(request, attempts, error, failure, oauth)
        })
    }

    /// One attempt with its credential. With OAuth, a `401` the client can answer (a DPoP nonce
    /// asked for, a token no longer accepted) is retried once at once, with a new proof or token.
    async fn authenticated(
        &self,
        method: &Method,
        url: &Url,
        body: &Option<Vec<u8>>,
        time_left: Duration,
    ) -> Result<Answer, Failure> {
        let mut answered_challenge = false;
        loop {
            let mut builder = self
                .http
                .request(method.clone(), url.clone())
                .header(ACCEPT, "application/json")
                .timeout(time_left);
            if let Some(body) = body {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let client = match &*self.authenticator {
                Authenticator::Ssws(header) => {
                    return attempt(builder.header(AUTHORIZATION, header.clone())).await;
                }
                Authenticator::OAuth(client) => client,
            };
            // Boxed: the token fetch (KMS signing inside) is a deep future, and inlining it into
            // every call's state machine overflows the compiler's layout depth.
            let authorization = Box::pin(client.authorize(method.as_str(), url))
                .await
                .map_err(Failure::oauth)?;
            for (name, value) in &authorization.headers {
                let value = okta_oauth::sensitive(value, &client.settings().client_id)
                    .map_err(Failure::oauth)?;
                builder = builder.header(name, value);
            }
            let outcome = attempt(builder).await;
            match &outcome {
                Ok(answer) => client.observe(url, &answer.headers),
                Err(failure) if failure.status == Some(401) && !answered_challenge => {
                    let next =
                        Box::pin(client.after_refusal(&authorization, url, &failure.headers)).await;
                    if matches!(
                        next,
                        NextStep::RetryWithNonce(_) | NextStep::RetryWithNewToken
                    ) {
                        answered_challenge = true;
                        continue;
                    }
                }
                Err(failure) => client.observe(url, &failure.headers),
            }
            return outcome;
        }
    }
}

impl Failure {
    fn oauth(error: OAuthError) -> Self {
        Self {
            status: None,
            body: OktaErrorBody::default(),
            reason: error.to_string(),
            reset: None,
            redirect: None,
            headers: HeaderMap::new(),
            oauth: Some(error),
        }
    }
}

async fn attempt(builder: reqwest::RequestBuilder) -> Result<Answer, Failure> {
    let transport = |error: reqwest::Error| Failure {
        status: None,
        body: OktaErrorBody::default(),
        reason: error.without_url().to_string(),
        reset: None,
        redirect: None,
        headers: HeaderMap::new(),
        oauth: None,
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
            headers,
            oauth: None,
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
            headers,
            oauth: None,
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
        headers,
        oauth: None,
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
    oauth: bool,
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
    if let Some(error) = failure.oauth {
        return OktaError::OAuth { request, error };
    }
    let challenge = failure
        .headers
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
        .map(oauth_challenge_error);
    let body = Box::new(failure.body);
    match failure.status {
        Some(401) if oauth => OktaError::TokenRefused {
            request,
            body,
            challenge: challenge.unwrap_or_else(|| "no challenge".into()),
        },
        Some(403) if oauth => OktaError::AppNotAllowed {
            request,
            body,
            challenge: challenge.unwrap_or_else(|| "no challenge".into()),
        },
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

/// The `error` of a `WWW-Authenticate` challenge, safe to print.
fn oauth_challenge_error(header: &str) -> String {
    oauth::Challenge::parse(header).error.map_or_else(
        || "no error named".into(),
        |error| oauth::token::quote(&error),
    )
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

//! The HTTP adapter: POSTs payloads to Okta Workflows API endpoints under the retry policy.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use relay_core::{Deliver, DeliveryReport, DeliveryRequest, Failure, Outcome, Route};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use secrecy::ExposeSecret;
use tokio::time::Instant;

use std::sync::Arc;

use crate::auth::oauth2::{OAuthClients, OAuthRouteError};
use crate::auth::{Credential, credential};
use okta_oauth::{NextStep, OAuthClient};
use outbound_http::{Redirect, read_capped};
use relay_core::Auth;
use relay_core::tokens::TokenResolver;
use retry::{AttemptError, AttemptSlot, RetryPolicy, is_retryable_status, parse_retry_after};

pub use crate::auth::client_token::CLIENT_TOKEN_HEADER;
/// The event uuid, so a flow can drop duplicates (Okta's stream is at-least-once).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const ROUTE_HEADER: &str = "x-okta-relay-route";
pub const ATTEMPT_HEADER: &str = "x-okta-relay-attempt";

/// How much of a Workflows answer is read. A flow's answer is never used, only its status;
/// reading a little returns the connection to the pool, and a huge answer costs no more.
pub const RESPONSE_READ_LIMIT: usize = 64 * 1024;

/// The shared HTTP client: build once per container so connections stay alive between
/// invocations. Redirects are never followed ([`outbound_http`]); each attempt sets its timeout.
pub fn http_client() -> reqwest::Result<reqwest::Client> {
    outbound_http::client(&outbound_http::ClientSettings {
        connect_timeout: Duration::from_secs(3),
        timeout: None,
        pool_idle_timeout: Some(Duration::from_secs(55)),
    })
}

pub struct WorkflowsClient<T> {
    http: reqwest::Client,
    tokens: T,
    policy: RetryPolicy,
    oauth: OAuthClients,
}

impl<T: TokenResolver> WorkflowsClient<T> {
    pub fn new(http: reqwest::Client, tokens: T, policy: RetryPolicy) -> Self {
        Self {
            oauth: OAuthClients::none(http.clone()),
            http,
            tokens,
            policy,
        }
    }

    /// Serves `oauth2` routes with these clients (the org's token endpoint, KMS).
    pub fn with_oauth(mut self, oauth: OAuthClients) -> Self {
        self.oauth = oauth;
        self
    }

    /// A route's OAuth client, if its scheme is `oauth2`.
    async fn oauth_client(
        &self,
        route: &Route,
    ) -> Result<Option<Arc<OAuthClient>>, OAuthRouteError> {
        match &route.auth {
            Auth::OAuth2(client) => self.oauth.client(client, &self.tokens).await.map(Some),
            _ => Ok(None),
        }
    }

    /// The client local runs use: the shared [`http_client`] and the default retry policy
    /// (several attempts within the budget).
    pub fn standard(tokens: T) -> reqwest::Result<Self> {
        Ok(Self::new(http_client()?, tokens, RetryPolicy::default()))
    }

    /// The relay's client: one attempt per delivery. Every request to a flow takes a paced slot
    /// (`relay_core::pacing`), so a retry is not made here but goes back to the inbox, to be
    /// paced like the first attempt.
    pub fn single_attempt(tokens: T) -> reqwest::Result<Self> {
        Ok(Self::new(
            http_client()?,
            tokens,
            RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            },
        ))
    }

    async fn attempt(
        &self,
        route: &Route,
        uuid: &str,
        body: Bytes,
        credential: &Credential,
        oauth: Option<&OAuthClient>,
        slot: AttemptSlot,
    ) -> Result<StatusCode, AttemptError> {
        let mut endpoint = route.endpoint.clone();
        for (name, value) in &credential.query {
            endpoint
                .query_pairs_mut()
                .append_pair(name, value.expose_secret());
        }
        let idempotency_key = HeaderValue::from_str(uuid).map_err(|_| AttemptError {
            reason: "the event uuid is not a valid HTTP header value; the event is malformed"
                .into(),
            status: None,
            retryable: false,
            retry_after: None,
        })?;
        // With OAuth, a 401 the client can answer (a DPoP nonce asked for, a token no longer
        // accepted) is sent again once, at once, with a new proof or token.
        let mut answered_challenge = false;
        let response = loop {
            let mut request = self
                .http
                .post(endpoint.clone())
                .timeout(route.attempt_timeout.min(slot.time_left))
                .header(CONTENT_TYPE, "application/json")
                .header(IDEMPOTENCY_HEADER, idempotency_key.clone())
                .header(ROUTE_HEADER, &route.name)
                .header(ATTEMPT_HEADER, slot.number)
                .body(body.clone());
            for (name, value) in &credential.headers {
                request = request.header(name, sensitive(value.expose_secret())?);
            }
            let authorization = match oauth {
                Some(client) => {
                    let authorization = Box::pin(client.authorize("POST", &endpoint))
                        .await
                        .map_err(|error| AttemptError {
                            retryable: error.is_temporary(),
                            reason: error.to_string(),
                            status: None,
                            retry_after: None,
                        })?;
                    for (name, value) in &authorization.headers {
                        request = request.header(name, sensitive(value.expose_secret())?);
                    }
                    Some(authorization)
                }
                None => None,
            };
            let response = request
                .send()
                .await
                .map_err(|error| transport_error(error, route, slot))?;
            let (Some(client), Some(authorization)) = (oauth, authorization) else {
                break response;
            };
            if response.status() == StatusCode::UNAUTHORIZED && !answered_challenge {
                let next =
                    Box::pin(client.after_refusal(&authorization, &endpoint, response.headers()))
                        .await;
                if matches!(
                    next,
                    NextStep::RetryWithNonce(_) | NextStep::RetryWithNewToken
                ) {
                    answered_challenge = true;
                    let _ = read_capped(response, RESPONSE_READ_LIMIT).await;
                    continue;
                }
            }
            client.observe(&endpoint, response.headers());
            break response;
        };
        let status = response.status();
        // No redirect is followed, so the response's URL is the one requested.
        if let Some(redirect) = Redirect::of(status, response.headers(), response.url()) {
            return Err(AttemptError {
                reason: format!("the endpoint {redirect}"),
                status: Some(redirect.status),
                retryable: false,
                retry_after: None,
            });
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, Utc::now()));
        // The status decides; the body is read (a little) only so the connection can be reused,
        // and a body that fails or trickles past the timeout changes nothing.
        let _ = read_capped(response, RESPONSE_READ_LIMIT).await;
        if status.is_success() {
            return Ok(status);
        }
        let reason = if status == StatusCode::UNAUTHORIZED && oauth.is_some() {
            "HTTP 401: the flow refused a fresh OAuth token; check that the flow is secured with \
             OAuth 2.0 and the app is granted okta.workflows.invoke.manage"
                .to_string()
        } else {
            format!("HTTP {status}")
        };
        Err(AttemptError {
            reason,
            status: Some(status.as_u16()),
            retryable: is_retryable_status(status.as_u16()),
            retry_after,
        })
    }
}

impl<T: TokenResolver> Deliver for WorkflowsClient<T> {
    async fn prepare(&self, route: &Route) {
        // The resolver caches what it reads; `deliver` reads it again and reports any error.
        // An OAuth client is built here (its PEM key read) but fetches its token on first use.
        let _ = credential(&route.auth, &self.tokens).await;
        let _ = self.oauth_client(route).await;
    }

    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        let started = Instant::now();
        let first_attempt_at = Utc::now();
        let prepared = match credential(&request.route.auth, &self.tokens).await {
            Ok(credential) => self
                .oauth_client(request.route)
                .await
                .map(|oauth| (credential, oauth))
                .map_err(|error| (error.is_temporary(), error.to_string())),
            Err(error) => Err((false, error.to_string())),
        };
        let (credential, oauth) = match prepared {
            Ok(prepared) => prepared,
            Err((temporary, reason)) => {
                let failure = Failure {
                    reason,
                    last_status: None,
                    retry_after: None,
                };
                return DeliveryReport {
                    outcome: if temporary {
                        Outcome::GaveUp(failure)
                    } else {
                        Outcome::Rejected(failure)
                    },
                    answer: None,
                    attempts: 0,
                    first_attempt_at,
                    last_attempt_at: Utc::now(),
                    latency: started.elapsed(),
                };
            }
        };
        let body = request.body;
        let earlier = request.earlier_attempts;
        let attempted = self
            .policy
            .run(request.budget, |slot| {
                let slot = AttemptSlot {
                    number: slot.number.saturating_add(earlier),
                    ..slot
                };
                self.attempt(
                    request.route,
                    request.uuid,
                    body.clone(),
                    &credential,
                    oauth.as_deref(),
                    slot,
                )
            })
            .await;
        let (outcome, answer) = match attempted.result {
            Ok(status) => (Outcome::Delivered, Some(format!("HTTP {status}"))),
            Err(error) => {
                let answer = error.status.map(|status| format!("HTTP {status}"));
                let failure = |reason| Failure {
                    reason,
                    last_status: error.status,
                    retry_after: error.retry_after,
                };
                let outcome = if !error.retryable {
                    Outcome::Rejected(failure(error.reason.clone()))
                } else if attempted.attempts > 0 {
                    Outcome::GaveUp(failure(format!(
                        "{} (gave up after {} attempt(s))",
                        error.reason, attempted.attempts
                    )))
                } else {
                    Outcome::GaveUp(failure(error.reason.clone()))
                };
                (outcome, answer)
            }
        };
        DeliveryReport {
            outcome,
            answer,
            attempts: attempted.attempts,
            first_attempt_at,
            last_attempt_at: Utc::now(),
            latency: started.elapsed(),
        }
    }
}

fn sensitive(value: &str) -> Result<HeaderValue, AttemptError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| AttemptError {
        reason: "client token contains characters not allowed in an HTTP header".into(),
        status: None,
        retryable: false,
        retry_after: None,
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// Describes a transport failure without the URL: with `clientToken` in the query, the URL
/// is a secret.
fn transport_error(error: reqwest::Error, route: &Route, slot: AttemptSlot) -> AttemptError {
    let error = error.without_url();
    let reason = if error.is_timeout() {
        let timeout = route.attempt_timeout.min(slot.time_left);
        format!("timed out after {} ms", timeout.as_millis())
    } else if error.is_connect() {
        format!("could not connect: {}", root_cause(&error))
    } else {
        format!("request failed: {}", root_cause(&error))
    };
    AttemptError {
        reason,
        status: None,
        retryable: true,
        retry_after: None,
    }
}

fn root_cause(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

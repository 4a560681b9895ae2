use serde::Deserialize;

/// Okta's error body (`Error` in its contract).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OktaErrorBody {
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub error_summary: String,
    #[serde(default)]
    pub error_id: String,
    #[serde(default)]
    pub error_causes: Vec<ErrorCause>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ErrorCause {
    #[serde(default)]
    pub error_summary: String,
}

impl std::fmt::Display for OktaErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.error_code.as_str(), self.error_summary.as_str()) {
            ("", "") => f.write_str("no error body")?,
            (code, "") => write!(f, "{code}")?,
            ("", summary) => write!(f, "{summary}")?,
            (code, summary) => write!(f, "{code}: {summary}")?,
        }
        let causes: Vec<&str> = self
            .error_causes
            .iter()
            .map(|cause| cause.error_summary.as_str())
            .filter(|summary| !summary.is_empty())
            .collect();
        if !causes.is_empty() {
            write!(f, " ({})", causes.join("; "))?;
        }
        if !self.error_id.is_empty() {
            write!(f, " [errorId {}]", self.error_id)?;
        }
        Ok(())
    }
}

/// Why an Okta call failed, and what to do about it. Never carries the API token: requests are
/// described by method and path only.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error(
        "Okta returned 401 to {request} ({body}): the API token is invalid, expired or revoked; \
         create a new one (Admin Console > Security > API > Tokens) and store it in the SSM \
         parameter"
    )]
    Unauthorized {
        request: String,
        body: Box<OktaErrorBody>,
    },
    #[error(
        "Okta returned 403 to {request} ({body}): the API token lacks okta.logStreams.manage; log \
         streams need a token created by a super administrator"
    )]
    Forbidden {
        request: String,
        body: Box<OktaErrorBody>,
    },
    #[error(
        "Okta refused the OAuth access token for {request} ({body}; {challenge}) after fetching a \
         new one: check that the service app is active and its key registered (`okta-relay \
         doctor`)"
    )]
    TokenRefused {
        request: String,
        body: Box<OktaErrorBody>,
        challenge: String,
    },
    #[error(
        "Okta returned 403 to {request} ({body}; {challenge}): the OAuth service app needs the \
         scopes okta.logStreams.manage, okta.logStreams.read and okta.logs.read granted (the \
         app's \"Okta API Scopes\" tab) and an admin role that allows this: Super Administrator \
         for log streams (Okta lets no other standard role manage them), or Read-only \
         Administrator for reads alone (Security > Administrators > Add assignment > the app)"
    )]
    AppNotAllowed {
        request: String,
        body: Box<OktaErrorBody>,
        challenge: String,
    },
    #[error("no OAuth credential for {request}: {error}")]
    OAuth {
        request: String,
        error: okta_oauth::OAuthError,
    },
    #[error("Okta returned 404 to {request} ({body}): it does not exist")]
    NotFound {
        request: String,
        body: Box<OktaErrorBody>,
    },
    #[error("Okta rejected {request} with {status} ({body}); fix the input it names")]
    Rejected {
        request: String,
        status: u16,
        body: Box<OktaErrorBody>,
    },
    #[error(
        "Okta kept answering 429 (rate limited) to {request} after {attempts} attempts ({body}); \
         the org's Log Streams rate limit resets at {reset}; retry after that"
    )]
    RateLimited {
        request: String,
        attempts: u32,
        reset: String,
        body: Box<OktaErrorBody>,
    },
    #[error(
        "Okta returned {status} to {request} after {attempts} attempts ({body}); Okta may be \
         degraded (see status.okta.com); retry later"
    )]
    Unavailable {
        request: String,
        status: u16,
        attempts: u32,
        body: Box<OktaErrorBody>,
    },
    #[error("could not reach Okta for {request} after {attempts} attempts: {reason}")]
    Unreachable {
        request: String,
        attempts: u32,
        reason: String,
    },
    #[error(
        "Okta {redirect} ({request}); check the org URL (the org's own https://<org>.okta.com, \
         not its admin console or a custom domain that redirects)"
    )]
    Redirected { request: String, redirect: String },
    #[error(
        "refused to send {request} to {origin}: the Okta credential is only ever sent to the \
         org's own origin; a saved cursor or link pointing elsewhere has been tampered with"
    )]
    ForeignUrl { request: String, origin: String },
    #[error("Okta's answer to {request} is not what its API documents: {reason}")]
    UnexpectedResponse { request: String, reason: String },
    #[error(
        "Okta API base URL `{0}` must be https (http only on 127.0.0.1 or localhost, for tests)"
    )]
    BaseUrl(String),
    #[error("could not build the HTTP client: {0}")]
    Client(String),
}

impl OktaError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

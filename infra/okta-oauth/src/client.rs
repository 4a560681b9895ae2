//! [`OAuthClient`]: one Okta API service app asking the org authorization server for tokens
//! with the client credentials grant, for one set of scopes.
//!
//! - **Client authentication** is `private_key_jwt` (the only kind Workflows' OAuth-secured flows
//!   accept, and Okta's recommendation for service apps): a fresh assertion per token request,
//!   signed by the [`AssertionKey`].
//! - **The token** is cached per container until shortly before `expires_in`
//!   ([`oauth::reuse_for_ms`]); one request fetches it while concurrent callers wait and reuse it.
//! - **DPoP** (optional per client): a per-container key; the token endpoint's `use_dpop_nonce`
//!   round trip; a proof on every resource request; each server's latest `DPoP-Nonce` kept.
//! - **A refused token** (`401`) is answered by [`OAuthClient::after_refusal`]: a nonce to use
//!   or a token to drop, for the caller's one retry.
//!
//! Secrets (assertions, tokens, proofs) are `SecretString`s and sensitive header values; no error
//! or log line carries one.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth::claims::ASSERTION_TYPE;
use oauth::{
    Challenge, ClientAssertionClaims, DpopClaims, Header, NextStep, TokenKind, TokenRefusal,
    TokenReply, after_refusal, read_token_reply, reuse_for_ms,
};
use outbound_http::{Redirect, read_capped};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, WWW_AUTHENTICATE,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;
use url::Url;

use crate::keys::{AssertionKey, DpopKey, KeyError};

/// The DPoP proof header (RFC 9449 §4.1) and the nonce a server hands out (§8, §9).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// How long a token request may take; the token endpoint answers in milliseconds.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// More than any token answer (a few hundred bytes to a few KiB).
const TOKEN_ANSWER_LIMIT: usize = 64 * 1024;

/// Which client, which scopes, and how its tokens are bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    /// The API service app's client id.
    pub client_id: String,
    /// The org authorization server's token endpoint, `https://{org}/oauth2/v1/token` (custom
    /// authorization servers cannot mint Okta API or Workflows scopes).
    pub token_endpoint: Url,
    /// Space-separated, as the token request sends them.
    pub scopes: String,
    /// Bind tokens with DPoP (the app's "Require DPoP" setting must match).
    pub dpop: bool,
    /// The `kid` to name in the assertion header; without one Okta tries each key registered on
    /// the app.
    pub key_id: Option<String>,
}

impl ClientSettings {
    /// The org authorization server's token endpoint for an org (or a stand-in's) base URL.
    pub fn token_endpoint_of(base: &Url) -> Url {
        let mut endpoint = base.clone();
        endpoint.set_path("/oauth2/v1/token");
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        endpoint
    }
}

/// Why no credential could be made.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    #[error(transparent)]
    Refused(#[from] TokenRefusal),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("could not reach Okta's token endpoint for client {client_id} ({reason})")]
    Unreachable { client_id: String, reason: String },
    #[error(
        "Okta's token endpoint for client {client_id} {redirect}; credentials never follow a \
         redirect: use the org's own URL"
    )]
    Redirected { client_id: String, redirect: String },
    #[error("the access token Okta issued to client {client_id} cannot be sent in an HTTP header")]
    Unsendable { client_id: String },
}

impl OAuthError {
    /// Whether trying again later may succeed: the token endpoint or KMS unavailable or
    /// throttling. Everything else needs a fix in Okta or in the settings.
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::Refused(refusal) => refusal.is_temporary(),
            Self::Key(key) => key.is_temporary(),
            Self::Unreachable { .. } => true,
            Self::Redirected { .. } | Self::Unsendable { .. } => false,
        }
    }
}

/// The headers one request carries: `Authorization` and, for a DPoP token, its proof.
pub struct Authorization {
    pub headers: Vec<(HeaderName, SecretString)>,
    serial: u64,
}

#[derive(Clone)]
struct CachedToken {
    value: SecretString,
    kind: TokenKind,
    reuse_until: Instant,
    serial: u64,
}

pub struct OAuthClient {
    http: reqwest::Client,
    settings: ClientSettings,
    key: AssertionKey,
    dpop: Option<DpopKey>,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    /// The latest `DPoP-Nonce` of each server (by origin), the token endpoint's included.
    nonces: Mutex<HashMap<String, String>>,
    token_requests: AtomicU64,
}

impl OAuthClient {
    /// A client; nothing is fetched until the first [`OAuthClient::authorize`].
    pub fn new(
        http: reqwest::Client,
        settings: ClientSettings,
        key: AssertionKey,
    ) -> Result<Self, OAuthError> {
        let dpop = settings.dpop.then(DpopKey::generate).transpose()?;
        Ok(Self {
            http,
            settings,
            key,
            dpop,
            token: tokio::sync::Mutex::new(None),
            nonces: Mutex::new(HashMap::new()),
            token_requests: AtomicU64::new(0),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Token requests sent by this client so far (nonce round trips included).
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// The credential for one request: `method` on `url`.
    pub async fn authorize(&self, method: &str, url: &Url) -> Result<Authorization, OAuthError> {
        let token = self.token().await?;
        let mut headers = vec![(
            AUTHORIZATION,
            SecretString::from(format!(
                "{} {}",
                token.kind.scheme(),
                token.value.expose_secret()
            )),
        )];
        if let (TokenKind::Dpop, Some(dpop)) = (token.kind, &self.dpop) {
            let nonce = self.nonce_for(url);
            let proof = self.proof(
                dpop,
                method,
                url,
                Some(token.value.expose_secret()),
                nonce.as_deref(),
            )?;
            headers.push((DPOP, proof));
        }
        Ok(Authorization {
            headers,
            serial: token.serial,
        })
    }

    /// Keeps the `DPoP-Nonce` a server sent on any answer (RFC 9449 §8.2, §9).
    pub fn observe(&self, url: &Url, headers: &HeaderMap) {
        if let Some(nonce) = headers
            .get(DPOP_NONCE)
            .and_then(|value| value.to_str().ok())
            && let Ok(mut nonces) = self.nonces.lock()
        {
            nonces.insert(url.origin().ascii_serialization(), nonce.to_owned());
        }
    }

    /// After a `401` to a request made with `used`: what the caller's one retry should be. A
    /// token the server no longer accepts is dropped, so the retry fetches another.
    pub async fn after_refusal(
        &self,
        used: &Authorization,
        url: &Url,
        headers: &HeaderMap,
    ) -> NextStep {
        self.observe(url, headers);
        let challenge = headers
            .get(WWW_AUTHENTICATE)
            .and_then(|value| value.to_str().ok())
            .map(Challenge::parse);
        let nonce = headers
            .get(DPOP_NONCE)
            .and_then(|value| value.to_str().ok());
        let step = after_refusal(challenge.as_ref(), nonce);
        if step == NextStep::RetryWithNewToken {
            let mut cached = self.token.lock().await;
            if cached
                .as_ref()
                .is_some_and(|token| token.serial == used.serial)
            {
                *cached = None;
            }
        }
        step
    }

    /// The cached token, or a new one. One fetch at a time; the others wait and reuse it.
    async fn token(&self) -> Result<CachedToken, OAuthError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|token| Instant::now() < token.reuse_until)
        {
            return Ok(token.clone());
        }
        let fresh = self.fetch().await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    async fn fetch(&self) -> Result<CachedToken, OAuthError> {
        let client_id = &self.settings.client_id;
        let endpoint = &self.settings.token_endpoint;
        let mut asked_with_nonce = false;
        loop {
            let requested_at = Instant::now();
            let assertion = self.assertion().await?;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &self.settings.scopes)
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", assertion.expose_secret())
                .finish();
            let mut request = self
                .http
                .post(endpoint.clone())
                .timeout(TOKEN_REQUEST_TIMEOUT)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json")
                .body(body);
            let nonce = self.nonce_for(endpoint);
            if let Some(dpop) = &self.dpop {
                let proof = self.proof(dpop, "POST", endpoint, None, nonce.as_deref())?;
                request = request.header(DPOP, sensitive(&proof, client_id)?);
            }
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            let response = request
                .send()
                .await
                .map_err(|error| OAuthError::Unreachable {
                    client_id: client_id.clone(),
                    reason: error.without_url().to_string(),
                })?;
            let status = response.status();
            self.observe(endpoint, response.headers());
            if let Some(redirect) = Redirect::of(status, response.headers(), response.url()) {
                return Err(OAuthError::Redirected {
                    client_id: client_id.clone(),
                    redirect: redirect.to_string(),
                });
            }
            let body = read_capped(response, TOKEN_ANSWER_LIMIT)
                .await
                .map_err(|error| OAuthError::Unreachable {
                    client_id: client_id.clone(),
                    reason: error.without_url().to_string(),
                })?;
            match read_token_reply(
                status.as_u16(),
                &body.bytes,
                client_id,
                &self.settings.scopes,
            ) {
                TokenReply::Issued(answer, kind) => {
                    let value = SecretString::from(answer.access_token);
                    // Checked once here, so every request can carry it.
                    sensitive(
                        &SecretString::from(format!("DPoP {}", value.expose_secret())),
                        client_id,
                    )?;
                    tracing::info!(
                        client_id = %client_id,
                        token_type = kind.scheme(),
                        expires_in = answer.expires_in,
                        "okta access token issued"
                    );
                    return Ok(CachedToken {
                        value,
                        kind,
                        reuse_until: requested_at
                            + Duration::from_millis(reuse_for_ms(answer.expires_in)),
                        serial: self.token_requests.load(Ordering::Relaxed),
                    });
                }
                TokenReply::NonceRequired if !asked_with_nonce && self.dpop.is_some() => {
                    asked_with_nonce = true;
                }
                TokenReply::NonceRequired => {
                    return Err(TokenRefusal::NonceLoop {
                        client_id: client_id.clone(),
                    }
                    .into());
                }
                TokenReply::Refused(refusal) => return Err(refusal.into()),
            }
        }
    }

    /// A new client assertion (a unique `jti` each time: Okta accepts one once).
    async fn assertion(&self) -> Result<SecretString, OAuthError> {
        let settings = &self.settings;
        let claims = ClientAssertionClaims::new(
            &settings.client_id,
            settings.token_endpoint.as_str(),
            unix_now(),
            random_id(),
        );
        let jwk = self.key.public_jwk().await?;
        let header = Header {
            alg: jwk.algorithm().name(),
            typ: None,
            kid: settings.key_id.as_deref(),
            jwk: None,
        };
        let input = oauth::SigningInput::new(&header, &claims)
            .map_err(|error| KeyError::Signing(error.to_string()))?;
        let signature = self.key.sign(input.as_bytes()).await?;
        Ok(SecretString::from(input.with_signature(&signature)))
    }

    fn proof(
        &self,
        dpop: &DpopKey,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<SecretString, OAuthError> {
        let claims = DpopClaims::new(
            method,
            url.as_str(),
            unix_now(),
            random_id(),
            access_token,
            nonce,
        );
        let header = Header {
            alg: "ES256",
            typ: Some("dpop+jwt"),
            kid: None,
            jwk: Some(dpop.jwk()),
        };
        let input = oauth::SigningInput::new(&header, &claims)
            .map_err(|error| KeyError::Signing(error.to_string()))?;
        let signature = dpop.sign(input.as_bytes())?;
        Ok(SecretString::from(input.with_signature(&signature)))
    }

    fn nonce_for(&self, url: &Url) -> Option<String> {
        let nonces = self.nonces.lock().ok()?;
        nonces.get(&url.origin().ascii_serialization()).cloned()
    }
}

/// A secret as a header value marked sensitive (never printed by the HTTP stack).
pub fn sensitive(
    value: &SecretString,
    client_id: &str,
) -> Result<reqwest::header::HeaderValue, OAuthError> {
    let mut header =
        reqwest::header::HeaderValue::from_str(value.expose_secret()).map_err(|_| {
            OAuthError::Unsendable {
                client_id: client_id.into(),
            }
        })?;
    header.set_sensitive(true);
    Ok(header)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// 128 random bits, base64url: a `jti`.
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom only fails when the OS has no entropy source; a clock-derived id is then
    // still unique per request.
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    oauth::jws::b64(&bytes)
}

//! Workflows' "Secure with OAuth 2.0" (help.okta.com, "Invoke a flow with an API endpoint using
//! OAuth 2.0"): an access token from the org authorization server with
//! `okta.workflows.invoke.manage`, as `Authorization: Bearer` (or `DPoP` with its proof when the
//! route's client binds tokens). One [`OAuthClient`] per route client, built on first use (the
//! token is fetched then, not at cold start) and kept for the container's life, so its token is
//! shared by every delivery.

use std::collections::HashMap;
use std::sync::Arc;

use okta_oauth::{AssertionKey, ClientSettings, KmsKey, OAuthClient, OAuthError, PemKey};
use relay_core::auth::{OAuthClientRef, SigningKey};
use relay_core::tokens::{TokenError, TokenResolver};
use secrecy::ExposeSecret;
use url::Url;

/// Where the relay gets OAuth clients for its routes.
pub struct OAuthClients {
    http: reqwest::Client,
    /// The org's token endpoint (`OKTA_ORG_URL`, or `OKTA_API_BASE_URL` for a stand-in).
    token_endpoint: Option<Url>,
    kms: Option<aws_sdk_kms::Client>,
    clients: tokio::sync::Mutex<HashMap<OAuthClientRef, Arc<OAuthClient>>>,
}

/// Why a route's OAuth client cannot make a credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthRouteError {
    #[error(
        "routes with auth scheme oauth2 need the Okta org: set OKTA_ORG_URL (the template's \
         OktaOrgUrl)"
    )]
    NoOrg,
    #[error(
        "signing key {0} is in KMS, and this run has no AWS access (local runs: privateKeyEnv)"
    )]
    NoKms(String),
    #[error(transparent)]
    Key(#[from] TokenError),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

impl OAuthRouteError {
    /// Whether the delivery may succeed later (the token endpoint or KMS unavailable).
    pub fn is_temporary(&self) -> bool {
        match self {
            Self::OAuth(error) => error.is_temporary(),
            Self::Key(TokenError::Unreadable { .. }) => true,
            _ => false,
        }
    }
}

impl OAuthClients {
    pub fn new(
        http: reqwest::Client,
        token_endpoint: Option<Url>,
        kms: Option<aws_sdk_kms::Client>,
    ) -> Self {
        Self {
            http,
            token_endpoint,
            kms,
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// No OAuth routes can be served (local runs without an org).
    pub fn none(http: reqwest::Client) -> Self {
        Self::new(http, None, None)
    }

    /// The client for `route_client`, built (and its PEM key read) on first use.
    pub async fn client(
        &self,
        route_client: &OAuthClientRef,
        tokens: &impl TokenResolver,
    ) -> Result<Arc<OAuthClient>, OAuthRouteError> {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(route_client) {
            return Ok(client.clone());
        }
        let token_endpoint = self.token_endpoint.clone().ok_or(OAuthRouteError::NoOrg)?;
        let key = match &route_client.key {
            SigningKey::Kms(key_id) => {
                let kms = self
                    .kms
                    .clone()
                    .ok_or_else(|| OAuthRouteError::NoKms(key_id.clone()))?;
                AssertionKey::Kms(KmsKey::new(kms, key_id.clone()))
            }
            SigningKey::Pem(source) => {
                let pem = tokens.token(source).await?;
                AssertionKey::Pem(
                    PemKey::parse(pem.expose_secret().as_bytes(), source.to_string())
                        .map_err(OAuthError::from)?,
                )
            }
        };
        let client = Arc::new(OAuthClient::new(
            self.http.clone(),
            ClientSettings {
                client_id: route_client.client_id.clone(),
                token_endpoint,
                scopes: oauth::WORKFLOWS_INVOKE_SCOPE.into(),
                dpop: route_client.dpop,
                key_id: route_client.key_id.clone(),
            },
            key,
        )?);
        clients.insert(route_client.clone(), client.clone());
        Ok(client)
    }
}

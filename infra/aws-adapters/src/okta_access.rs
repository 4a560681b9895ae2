//! How a function reaches the Okta Management API, read once from the environment template.yaml
//! sets, and the credentials made from it per invocation:
//!
//! - `OKTA_OAUTH_CLIENT_ID` set: an OAuth 2.0 API service app (Okta's recommendation), its
//!   client assertions signed by `OKTA_OAUTH_SIGNING_KEY` (an AWS KMS key; the private key never
//!   leaves KMS) or by the PEM in the SSM SecureString `OKTA_OAUTH_PRIVATE_KEY_PARAMETER`;
//!   `OKTA_OAUTH_DPOP` (default true: Okta makes new service apps require DPoP).
//! - otherwise `OKTA_API_TOKEN_PARAMETER`: an SSWS API token in SSM, read on every invocation so
//!   a rotated token is picked up.
//!
//! Either secret may be a Secrets Manager secret, named by its ARN ([`SecretReader`]).
//!
//! [`OktaSession`] keeps the OAuth client for the container's life, so its token (an hour) is
//! shared by every run instead of fetched by each.

use std::sync::Arc;

use lambda_support::env::ConfigError;
use okta_api::{MANAGEMENT_SCOPES, OktaCredentials};
use okta_oauth::{AssertionKey, ClientSettings, KmsKey, OAuthClient, OAuthError, PemKey};
use secrecy::ExposeSecret;
use tokio::sync::OnceCell;

use crate::{ParameterError, SecretReader};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OktaAccess {
    OAuth {
        client_id: String,
        key: OAuthKey,
        dpop: bool,
    },
    ApiToken {
        parameter: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthKey {
    /// `OKTA_OAUTH_SIGNING_KEY`: a KMS key id, ARN or alias.
    Kms(String),
    /// `OKTA_OAUTH_PRIVATE_KEY_PARAMETER`: an SSM SecureString holding the PEM.
    PemParameter(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OktaAccessError {
    #[error(transparent)]
    Secret(#[from] ParameterError),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

impl OktaAccess {
    /// Reads the variables above; `var` looks one up.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).filter(|value| !value.trim().is_empty());
        let Some(client_id) = set("OKTA_OAUTH_CLIENT_ID") else {
            return set("OKTA_API_TOKEN_PARAMETER")
                .map(|parameter| Self::ApiToken { parameter })
                .ok_or(ConfigError::Missing(
                    "OKTA_OAUTH_CLIENT_ID (an OAuth service app) or OKTA_API_TOKEN_PARAMETER",
                ));
        };
        let key = match (
            set("OKTA_OAUTH_SIGNING_KEY"),
            set("OKTA_OAUTH_PRIVATE_KEY_PARAMETER"),
        ) {
            (Some(key), None) => OAuthKey::Kms(key),
            (None, Some(parameter)) => OAuthKey::PemParameter(parameter),
            (kms, pem) => {
                return Err(ConfigError::Unusable {
                    name: "OKTA_OAUTH_CLIENT_ID",
                    reason: format!(
                        "an OAuth client needs one key: OKTA_OAUTH_SIGNING_KEY (KMS) or \
                         OKTA_OAUTH_PRIVATE_KEY_PARAMETER (a PEM in SSM); {} set",
                        if kms.is_some() && pem.is_some() {
                            "both are"
                        } else {
                            "neither is"
                        }
                    ),
                });
            }
        };
        let dpop = match set("OKTA_OAUTH_DPOP").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "OKTA_OAUTH_DPOP",
                    value: other.into(),
                    expected: "expected true or false".into(),
                });
            }
        };
        Ok(Self::OAuth {
            client_id,
            key,
            dpop,
        })
    }

    /// The SSM parameter holding a secret no route may read as a client token.
    pub fn protected_parameter(&self) -> Option<&str> {
        match self {
            Self::ApiToken { parameter } => Some(parameter),
            Self::OAuth {
                key: OAuthKey::PemParameter(parameter),
                ..
            } => Some(parameter),
            Self::OAuth { .. } => None,
        }
    }
}

/// The access and, for OAuth, the client kept for the container's life.
pub struct OktaSession {
    access: OktaAccess,
    oauth: OnceCell<Arc<OAuthClient>>,
}

impl OktaSession {
    pub fn new(access: OktaAccess) -> Self {
        Self {
            access,
            oauth: OnceCell::new(),
        }
    }

    pub fn access(&self) -> &OktaAccess {
        &self.access
    }

    /// The credentials for this invocation. `okta_base` is the org URL (or its stand-in), whose
    /// `/oauth2/v1/token` is the token endpoint.
    pub async fn credentials(
        &self,
        secrets: &SecretReader,
        kms: &aws_sdk_kms::Client,
        http: &reqwest::Client,
        okta_base: &url::Url,
    ) -> Result<OktaCredentials, OktaAccessError> {
        match &self.access {
            OktaAccess::ApiToken { parameter } => Ok(OktaCredentials::ApiToken(
                secrets.read(parameter, "the Okta API token").await?,
            )),
            OktaAccess::OAuth {
                client_id,
                key,
                dpop,
            } => {
                let client = self
                    .oauth
                    .get_or_try_init(|| async {
                        let key = match key {
                            OAuthKey::Kms(key_id) => {
                                AssertionKey::Kms(KmsKey::new(kms.clone(), key_id.clone()))
                            }
                            OAuthKey::PemParameter(parameter) => {
                                let pem = secrets
                                    .read(parameter, "the Okta OAuth private key")
                                    .await?;
                                AssertionKey::Pem(
                                    PemKey::parse(
                                        pem.expose_secret().as_bytes(),
                                        relay_core::TokenSource::named(parameter).to_string(),
                                    )
                                    .map_err(OAuthError::from)?,
                                )
                            }
                        };
                        let client = OAuthClient::new(
                            http.clone(),
                            ClientSettings {
                                client_id: client_id.clone(),
                                token_endpoint: ClientSettings::token_endpoint_of(okta_base),
                                scopes: MANAGEMENT_SCOPES.into(),
                                dpop: *dpop,
                                key_id: None,
                            },
                            key,
                        )?;
                        Ok::<_, OktaAccessError>(Arc::new(client))
                    })
                    .await?;
                Ok(OktaCredentials::OAuth(client.clone()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn access(pairs: &[(&str, &str)]) -> Result<OktaAccess, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        OktaAccess::from_env(|name| env.get(name).cloned())
    }

    #[test]
    fn an_oauth_client_wins_over_an_api_token_and_uses_dpop_by_default() {
        assert_eq!(
            access(&[
                ("OKTA_OAUTH_CLIENT_ID", "0oa1"),
                ("OKTA_OAUTH_SIGNING_KEY", "alias/k"),
                ("OKTA_API_TOKEN_PARAMETER", "/t"),
            ])
            .unwrap(),
            OktaAccess::OAuth {
                client_id: "0oa1".into(),
                key: OAuthKey::Kms("alias/k".into()),
                dpop: true
            }
        );
        assert_eq!(
            access(&[("OKTA_API_TOKEN_PARAMETER", "/t")]).unwrap(),
            OktaAccess::ApiToken {
                parameter: "/t".into()
            }
        );
    }

    #[test]
    fn each_mistake_names_its_variable() {
        assert_eq!(
            access(&[]).unwrap_err().to_string(),
            "OKTA_OAUTH_CLIENT_ID (an OAuth service app) or OKTA_API_TOKEN_PARAMETER is not set; \
             template.yaml sets it, or export it for a local run"
        );
        assert!(
            access(&[("OKTA_OAUTH_CLIENT_ID", "0oa1")])
                .unwrap_err()
                .to_string()
                .contains("neither is set")
        );
        assert!(
            access(&[
                ("OKTA_OAUTH_CLIENT_ID", "0oa1"),
                ("OKTA_OAUTH_SIGNING_KEY", "k"),
                ("OKTA_OAUTH_PRIVATE_KEY_PARAMETER", "/p"),
            ])
            .unwrap_err()
            .to_string()
            .contains("both are set")
        );
        assert!(
            access(&[
                ("OKTA_OAUTH_CLIENT_ID", "0oa1"),
                ("OKTA_OAUTH_SIGNING_KEY", "k"),
                ("OKTA_OAUTH_DPOP", "yes"),
            ])
            .unwrap_err()
            .to_string()
            .starts_with("OKTA_OAUTH_DPOP is `yes`")
        );
    }
}

use std::time::Duration;

use relay_core::TokenSource;
use relay_core::tokens::{EnvTokens, TokenError, TokenResolver};
use secrecy::SecretString;

use crate::describe;
use crate::ttl_cache::TtlCache;

/// Client tokens from SSM SecureString parameters, each cached for `ttl` so a rotated token is
/// picked up without a redeploy. `tokenEnv` sources read the environment.
pub struct SsmTokens {
    client: aws_sdk_ssm::Client,
    cache: TtlCache<String, SecretString>,
    scope: TokenScope,
}

/// Which SSM parameters may be read as Workflows client tokens. A route table is written by
/// whoever holds `ssm:PutParameter` on it; without a scope, a route naming the Okta API token's
/// parameter as its `tokenParameter` would make a function that can read that parameter (the
/// watchdog, a workstation) send the super-admin token to a flow.
#[derive(Debug, Clone, Default)]
pub struct TokenScope {
    /// `WORKFLOWS_TOKENS_PATH`: only parameters below this path (`/okta-relay/workflows/...`).
    pub under: Option<String>,
    /// `OKTA_API_TOKEN_PARAMETER`: never this one, even when it lies below `under`.
    pub never: Option<String>,
}

impl TokenScope {
    fn check(&self, name: &str) -> Result<(), String> {
        if self.never.as_deref() == Some(name) {
            return Err(format!(
                "{name} holds the Okta API token, which is never sent to a flow; name the flow's \
                 own client token"
            ));
        }
        match &self.under {
            Some(path) if !name.starts_with(&format!("{}/", path.trim_end_matches('/'))) => {
                Err(format!(
                    "{name} is outside {path}, the only SSM path client tokens are read from \
                     (WorkflowsTokensPath)"
                ))
            }
            _ => Ok(()),
        }
    }
}

impl SsmTokens {
    pub fn new(client: aws_sdk_ssm::Client, ttl: Duration) -> Self {
        Self {
            client,
            cache: TtlCache::new(ttl),
            scope: TokenScope::default(),
        }
    }

    /// Reads only the parameters `scope` allows.
    pub fn within(mut self, scope: TokenScope) -> Self {
        self.scope = scope;
        self
    }
}

impl TokenResolver for SsmTokens {
    async fn token(&self, source: &TokenSource) -> Result<SecretString, TokenError> {
        let TokenSource::SsmParameter(name) = source else {
            return EnvTokens.token(source).await;
        };
        self.scope
            .check(name)
            .map_err(|reason| TokenError::Unreadable {
                source_name: source.to_string(),
                reason,
            })?;
        if let Some(token) = self.cache.fresh(name) {
            return Ok(token);
        }
        let fetched = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await;
        match fetched {
            Ok(output) => match output.parameter.and_then(|parameter| parameter.value) {
                Some(value) if !value.is_empty() => {
                    let token = SecretString::from(value);
                    self.cache.put(name.clone(), token.clone());
                    Ok(token)
                }
                _ => Err(TokenError::Missing(source.to_string())),
            },
            Err(error) => match self.cache.any(name) {
                Some(token) => {
                    tracing::warn!(parameter = %name, error = %describe(&error), "using the cached client token");
                    Ok(token)
                }
                None => Err(TokenError::Unreadable {
                    source_name: source.to_string(),
                    reason: describe(&error),
                }),
            },
        }
    }
}

/// Where a command run from a workstation (`replay`, `backfill`, `redrive`) reads client tokens:
/// SSM with the caller's credentials when asked, the environment otherwise. One type, so each
/// command builds one delivery stack instead of one per token source.
pub enum WorkstationTokens {
    Ssm(SsmTokens),
    Env,
}

impl WorkstationTokens {
    /// SSM tokens, cached for five minutes (the length of a typical run), within `scope`.
    pub fn ssm(aws: &aws_config::SdkConfig, scope: TokenScope) -> Self {
        Self::Ssm(
            SsmTokens::new(aws_sdk_ssm::Client::new(aws), Duration::from_secs(300)).within(scope),
        )
    }

    /// [`WorkstationTokens::ssm`] when `ssm`, the environment's `tokenEnv` tokens otherwise.
    pub fn new(aws: &aws_config::SdkConfig, ssm: bool, scope: TokenScope) -> Self {
        if ssm {
            Self::ssm(aws, scope)
        } else {
            Self::Env
        }
    }
}

impl TokenResolver for WorkstationTokens {
    async fn token(&self, source: &TokenSource) -> Result<SecretString, TokenError> {
        match self {
            Self::Ssm(tokens) => tokens.token(source).await,
            Self::Env => EnvTokens.token(source).await,
        }
    }
}

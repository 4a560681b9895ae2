use std::time::Duration;

use relay_core::TokenSource;
use relay_core::tokens::{EnvTokens, TokenError, TokenResolver};
use secrecy::SecretString;

use crate::describe;
use crate::ttl_cache::TtlCache;

/// Client tokens from SSM SecureString parameters (or Secrets Manager secrets, named by ARN),
/// each cached for `ttl` so a rotated token is picked up without a redeploy. `tokenEnv` sources
/// read the environment.
pub struct SsmTokens {
    client: aws_sdk_ssm::Client,
    secrets: Option<aws_sdk_secretsmanager::Client>,
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
    /// `WORKFLOWS_SECRETS_PREFIX`: only Secrets Manager secrets whose name starts with this
    /// (`okta-relay/workflows/`); without it, any the caller may read (a workstation).
    pub secrets_under: Option<String>,
}

impl TokenScope {
    fn check_secret(&self, arn: &str) -> Result<(), String> {
        if self.never.as_deref() == Some(arn) {
            return Err(format!(
                "{arn} holds the Okta API token, which is never sent to a flow; name the flow's \
                 own client token"
            ));
        }
        // arn:…:secret:<name>-<6 random characters>
        let name = arn.splitn(7, ':').nth(6).unwrap_or_default();
        match &self.secrets_under {
            Some(prefix) if name.starts_with(prefix.as_str()) => Ok(()),
            Some(prefix) => Err(format!(
                "{arn} is not a secret named {prefix}…, the only Secrets Manager secrets client \
                 tokens are read from (WorkflowsSecretsPrefix)"
            )),
            None => Ok(()),
        }
    }

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
            secrets: None,
            cache: TtlCache::new(ttl),
            scope: TokenScope::default(),
        }
    }

    /// Also reads Secrets Manager secrets (within the scope's `secrets_under`).
    pub fn with_secrets_manager(mut self, secrets: aws_sdk_secretsmanager::Client) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Reads only the parameters `scope` allows.
    pub fn within(mut self, scope: TokenScope) -> Self {
        self.scope = scope;
        self
    }
}

impl TokenResolver for SsmTokens {
    async fn token(&self, source: &TokenSource) -> Result<SecretString, TokenError> {
        let name = match source {
            TokenSource::SsmParameter(name) => name,
            TokenSource::SecretsManager(arn) => return self.secret(source, arn).await,
            TokenSource::Env(_) => return EnvTokens.token(source).await,
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

impl SsmTokens {
    async fn secret(&self, source: &TokenSource, arn: &String) -> Result<SecretString, TokenError> {
        let unreadable = |reason: String| TokenError::Unreadable {
            source_name: source.to_string(),
            reason,
        };
        self.scope.check_secret(arn).map_err(unreadable)?;
        let Some(secrets) = &self.secrets else {
            return Err(TokenError::Unsupported(
                source.to_string(),
                "SSM parameters and environment variables",
            ));
        };
        if let Some(token) = self.cache.fresh(arn) {
            return Ok(token);
        }
        match crate::read_secrets_manager(secrets, arn, "a client token").await {
            Ok(token) => {
                self.cache.put(arn.clone(), token.clone());
                Ok(token)
            }
            Err(error) => match self.cache.any(arn) {
                Some(token) => {
                    tracing::warn!(secret = %arn, error = %error, "using the cached client token");
                    Ok(token)
                }
                None => Err(unreadable(error.to_string())),
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
            SsmTokens::new(aws_sdk_ssm::Client::new(aws), Duration::from_secs(300))
                .with_secrets_manager(aws_sdk_secretsmanager::Client::new(aws))
                .within(scope),
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

//! Where Workflows client tokens come from. Tokens are [`SecretString`]s from the moment they
//! are read: their `Debug` prints `[REDACTED]`, and no error message ever includes one.

use std::future::Future;

use crate::auth::TokenSource;
use secrecy::SecretString;

pub trait TokenResolver: Sync {
    fn token(
        &self,
        source: &TokenSource,
    ) -> impl Future<Output = Result<SecretString, TokenError>> + Send;
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("client token {0} is not set")]
    Missing(String),
    #[error("could not read client token {source_name}: {reason}")]
    Unreadable { source_name: String, reason: String },
    #[error("client token {0} is not available here; this run reads tokens from {1}")]
    Unsupported(String, &'static str),
}

/// Reads `tokenEnv` tokens from the process environment, for local runs.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvTokens;

impl TokenResolver for EnvTokens {
    async fn token(&self, source: &TokenSource) -> Result<SecretString, TokenError> {
        match source {
            TokenSource::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
                _ => Err(TokenError::Missing(source.to_string())),
            },
            TokenSource::SsmParameter(_) | TokenSource::SecretsManager(_) => Err(
                TokenError::Unsupported(source.to_string(), "environment variables"),
            ),
        }
    }
}

use std::time::Duration;

use delivery::{EnvTokens, TokenError, TokenResolver};
use relay_core::TokenSource;
use secrecy::SecretString;

use crate::describe;
use crate::ttl_cache::TtlCache;

/// Client tokens from SSM SecureString parameters, each cached for `ttl` so a rotated token is
/// picked up without a redeploy. `tokenEnv` sources read the environment.
pub struct SsmTokens {
    client: aws_sdk_ssm::Client,
    cache: TtlCache<String, SecretString>,
}

impl SsmTokens {
    pub fn new(client: aws_sdk_ssm::Client, ttl: Duration) -> Self {
        Self {
            client,
            cache: TtlCache::new(ttl),
        }
    }
}

impl TokenResolver for SsmTokens {
    async fn token(&self, source: &TokenSource) -> Result<SecretString, TokenError> {
        let TokenSource::SsmParameter(name) = source else {
            return EnvTokens.token(source).await;
        };
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

//! Reading a secret okta-relay is given the name of, by the one rule
//! ([`relay_core::TokenSource::named`]): an AWS Secrets Manager ARN from Secrets Manager (its
//! `SecretString`), anything else from SSM (a SecureString, decrypted). The value is only ever a
//! [`SecretString`]; errors name the place, never the value.

use relay_core::TokenSource;
use secrecy::SecretString;

use crate::{ParameterError, describe, read_secret};

/// SSM and Secrets Manager, for secrets read once (the Okta API token, an OAuth private key).
#[derive(Clone)]
pub struct SecretReader {
    ssm: aws_sdk_ssm::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

impl SecretReader {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        Self::from_clients(
            aws_sdk_ssm::Client::new(aws),
            aws_sdk_secretsmanager::Client::new(aws),
        )
    }

    pub fn from_clients(ssm: aws_sdk_ssm::Client, secrets: aws_sdk_secretsmanager::Client) -> Self {
        Self { ssm, secrets }
    }

    /// Reads the secret `name` names; `what` says what it is in errors ("the Okta API token").
    pub async fn read(&self, name: &str, what: &str) -> Result<SecretString, ParameterError> {
        match TokenSource::named(name) {
            TokenSource::SecretsManager(arn) => {
                read_secrets_manager(&self.secrets, &arn, what).await
            }
            _ => read_secret(&self.ssm, name, what).await,
        }
    }
}

/// One secret's `SecretString` (a binary secret is not a token or a PEM okta-relay can use).
pub async fn read_secrets_manager(
    secrets: &aws_sdk_secretsmanager::Client,
    arn: &str,
    what: &str,
) -> Result<SecretString, ParameterError> {
    let read = secrets
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|error| ParameterError::Unreadable {
            what: what.to_owned(),
            name: format!("Secrets Manager secret {arn}"),
            reason: describe(&error),
        })?;
    read.secret_string()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| SecretString::from(value.to_owned()))
        .ok_or_else(|| ParameterError::Empty {
            what: what.to_owned(),
            name: format!("Secrets Manager secret {arn} (as a SecretString)"),
        })
}

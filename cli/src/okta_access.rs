//! How the CLI reaches Okta's Management API (provision, backfill): the API token from SSM or
//! the environment, never printed.

use aws_adapters::read_secret;
use secrecy::SecretString;

/// The Okta API token: from the SSM SecureString `parameter`, or `OKTA_API_TOKEN`.
pub async fn okta_api_token(
    parameter: Option<&str>,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<SecretString> {
    if let Some(parameter) = parameter {
        let ssm = aws_sdk_ssm::Client::new(aws);
        return Ok(read_secret(&ssm, parameter, "the Okta API token").await?);
    }
    match std::env::var("OKTA_API_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(SecretString::from(token.trim().to_string())),
        _ => anyhow::bail!(
            "no Okta API token: set OKTA_API_TOKEN, or --api-token-parameter with the SSM SecureString holding it"
        ),
    }
}

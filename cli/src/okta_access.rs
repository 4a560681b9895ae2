//! How the CLI reaches Okta's Management API (provision, backfill), never printing a secret:
//!
//! - an OAuth 2.0 service app when `OKTA_OAUTH_CLIENT_ID` is set, with `OKTA_OAUTH_SIGNING_KEY`
//!   (a KMS key) or `OKTA_OAUTH_PRIVATE_KEY_PARAMETER` (a PEM in SSM), as the functions read them
//!   ([`aws_adapters::OktaAccess`]);
//! - otherwise an API token, from the SSM SecureString `--api-token-parameter` or `OKTA_API_TOKEN`.

use aws_adapters::{OktaAccess, OktaSession, read_secret};
use okta_api::OktaCredentials;
use secrecy::SecretString;

/// The credentials for calls to the org at `okta_base` (its URL, or a stand-in's).
pub async fn okta_credentials(
    api_token_parameter: Option<&str>,
    aws: &aws_config::SdkConfig,
    okta_base: &url::Url,
) -> anyhow::Result<OktaCredentials> {
    if std::env::var_os("OKTA_OAUTH_CLIENT_ID").is_some() {
        let access = OktaAccess::from_env(|name| std::env::var(name).ok())?;
        let session = OktaSession::new(access);
        return Ok(session
            .credentials(
                &aws_sdk_ssm::Client::new(aws),
                &aws_sdk_kms::Client::new(aws),
                &okta_api::http_client()?,
                okta_base,
            )
            .await?);
    }
    Ok(OktaCredentials::ApiToken(
        okta_api_token(api_token_parameter, aws).await?,
    ))
}

/// The Okta API token: from the SSM SecureString `parameter`, or `OKTA_API_TOKEN`.
async fn okta_api_token(
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
            "no Okta credential: set OKTA_OAUTH_CLIENT_ID with OKTA_OAUTH_SIGNING_KEY or \
             OKTA_OAUTH_PRIVATE_KEY_PARAMETER (an OAuth service app), or OKTA_API_TOKEN, or \
             --api-token-parameter with the SSM SecureString holding a token"
        ),
    }
}

//! How the CLI reaches Okta's Management API (provision, backfill), never printing a secret:
//!
//! - an OAuth 2.0 service app when `OKTA_OAUTH_CLIENT_ID` is set, with `OKTA_OAUTH_SIGNING_KEY`
//!   (a KMS key) or `OKTA_OAUTH_PRIVATE_KEY_PARAMETER` (a PEM in SSM), as the functions read them
//!   ([`aws_adapters::OktaAccess`]);
//! - else the stack's own service app (`--stack`: `OktaOAuthClientId`, its key
//!   `OAuthSigningKeyArn` or `OktaOAuthPrivateKeyParameterName`, `OktaOAuthDpop`);
//! - otherwise an API token, from the SSM SecureString `--api-token-parameter` or `OKTA_API_TOKEN`.

use aws_adapters::{OAuthKey, OktaAccess, OktaSession, SecretReader};
use okta_api::OktaCredentials;

use crate::stack::{Stack, StackValue, optional};
use secrecy::SecretString;

/// The credentials for calls to the org at `okta_base` (its URL, or a stand-in's).
pub async fn okta_credentials(
    api_token_parameter: Option<&str>,
    stack: Option<&Stack>,
    aws: &aws_config::SdkConfig,
    okta_base: &url::Url,
) -> anyhow::Result<OktaCredentials> {
    let access = if std::env::var_os("OKTA_OAUTH_CLIENT_ID").is_some() {
        Some(OktaAccess::from_env(|name| std::env::var(name).ok())?)
    } else {
        stack.and_then(stack_access)
    };
    if let Some(access) = access {
        let session = OktaSession::new(access);
        return Ok(session
            .credentials(
                &SecretReader::new(aws),
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

/// The stack's OAuth service app, when it was deployed with one.
fn stack_access(stack: &Stack) -> Option<OktaAccess> {
    let value = |from| optional(None, Some(stack), from);
    let client_id = value(StackValue::Parameter("OktaOAuthClientId"))?;
    let key = match value(StackValue::Parameter("OktaOAuthPrivateKeyParameterName")) {
        Some(parameter) => OAuthKey::PemParameter(parameter),
        None => OAuthKey::Kms(value(StackValue::Output("OAuthSigningKeyArn"))?),
    };
    let dpop = value(StackValue::Parameter("OktaOAuthDpop")).is_none_or(|dpop| dpop == "true");
    Some(OktaAccess::OAuth {
        client_id,
        key,
        dpop,
    })
}

/// The Okta API token: from the SSM SecureString `parameter`, or `OKTA_API_TOKEN`.
async fn okta_api_token(
    parameter: Option<&str>,
    aws: &aws_config::SdkConfig,
) -> anyhow::Result<SecretString> {
    if let Some(parameter) = parameter {
        return Ok(SecretReader::new(aws)
            .read(parameter, "the Okta API token")
            .await?);
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

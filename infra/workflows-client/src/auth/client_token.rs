//! Workflows' client token (an API endpoint flow's "client token" security mode), and a static
//! bearer token: read from where the route names (SSM, the environment), placed as the route
//! says.

use relay_core::TokenSource;
use reqwest::header::{AUTHORIZATION, HeaderName};
use secrecy::{ExposeSecret, SecretString};

use super::Credential;
use relay_core::tokens::{TokenError, TokenResolver};

/// Workflows' header for an API endpoint's client token.
pub const CLIENT_TOKEN_HEADER: &str = "x-api-client-token";
/// Workflows' query parameter for the same token.
pub const CLIENT_TOKEN_PARAMETER: &str = "clientToken";

pub async fn header(
    tokens: &impl TokenResolver,
    source: &TokenSource,
) -> Result<Credential, TokenError> {
    let token = tokens.token(source).await?;
    Ok(Credential {
        headers: vec![(HeaderName::from_static(CLIENT_TOKEN_HEADER), token)],
        query: Vec::new(),
    })
}

pub async fn query(
    tokens: &impl TokenResolver,
    source: &TokenSource,
) -> Result<Credential, TokenError> {
    let token = tokens.token(source).await?;
    Ok(Credential {
        headers: Vec::new(),
        query: vec![(CLIENT_TOKEN_PARAMETER, token)],
    })
}

pub async fn bearer(
    tokens: &impl TokenResolver,
    source: &TokenSource,
) -> Result<Credential, TokenError> {
    let token = tokens.token(source).await?;
    let value = SecretString::from(format!("Bearer {}", token.expose_secret()));
    Ok(Credential {
        headers: vec![(AUTHORIZATION, value)],
        query: Vec::new(),
    })
}

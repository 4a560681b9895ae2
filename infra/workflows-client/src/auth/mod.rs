//! The credential a route's scheme puts on each request ([`relay_core::Auth`]), one module per
//! scheme; [`credential`] is the one place a scheme is dispatched. A credential is a set of
//! sensitive headers and query parameters: the request code applies it without knowing the
//! scheme, and never prints it.

pub mod client_token;
pub mod oauth2;

use relay_core::Auth;
use reqwest::header::HeaderName;
use secrecy::SecretString;

use relay_core::tokens::{TokenError, TokenResolver};

/// What a scheme adds to a request. Values are secrets: headers are marked sensitive, and
/// errors describe a request without its URL.
#[derive(Default)]
pub struct Credential {
    pub headers: Vec<(HeaderName, SecretString)>,
    pub query: Vec<(&'static str, SecretString)>,
}

/// Reads (or fetches, or takes from a cache) the credential `auth` needs. An error makes the
/// delivery a permanent failure that names the source, never the secret.
pub async fn credential(
    auth: &Auth,
    tokens: &impl TokenResolver,
) -> Result<Credential, TokenError> {
    match auth {
        Auth::None => Ok(Credential::default()),
        Auth::Header(source) => client_token::header(tokens, source).await,
        Auth::Query(source) => client_token::query(tokens, source).await,
        Auth::Bearer(source) => client_token::bearer(tokens, source).await,
        // Made per request (a DPoP proof names its request): see `WorkflowsClient::attempt`.
        Auth::OAuth2(_) => Ok(Credential::default()),
    }
}

//! How a route proves to its flow who is calling: the route table's `auth` object, a serde enum
//! tagged by `scheme` (omitted means `header`, Workflows' default). Each variant carries its own
//! settings and checks them; the `workflows-client` adapter turns a variant into credentials on
//! the request, one module per scheme. Adding a scheme: a variant here, a module there, one arm
//! in its dispatch (docs/ARCHITECTURE.md, "How to add an auth mode").

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The endpoint needs no credential.
    None,
    /// A Workflows client token in the `x-api-client-token` header (Workflows' default).
    Header(TokenSource),
    /// A Workflows client token as the `clientToken` query parameter.
    Query(TokenSource),
    /// A static token as `Authorization: Bearer` (it is sent as it is stored: nothing refreshes it).
    Bearer(TokenSource),
}

impl Auth {
    /// The secret this scheme reads, if any.
    pub fn token_source(&self) -> Option<&TokenSource> {
        match self {
            Self::None => None,
            Self::Header(source) | Self::Query(source) | Self::Bearer(source) => Some(source),
        }
    }
}

/// Where a token is read from. Never inline: the route table is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// An SSM SecureString parameter name.
    SsmParameter(String),
    /// An environment variable, for local runs.
    Env(String),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SsmParameter(name) => write!(formatter, "SSM parameter {name}"),
            Self::Env(name) => write!(formatter, "environment variable {name}"),
        }
    }
}

/// The document form, one variant per scheme; [`AuthDocument::check`] makes it an [`Auth`].
#[derive(Deserialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
#[serde(remote = "Self")]
pub(crate) enum AuthDocument {
    /// Names no token; the fields are read only to say so.
    None(TokenDocument),
    Header(TokenDocument),
    Query(TokenDocument),
    Bearer(TokenDocument),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct TokenDocument {
    #[serde(default)]
    token_parameter: Option<String>,
    #[serde(default)]
    token_env: Option<String>,
}

/// `scheme` may be omitted: it is then `header`.
impl<'de> Deserialize<'de> for AuthDocument {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut document = Map::deserialize(deserializer)?;
        document
            .entry("scheme")
            .or_insert_with(|| Value::String("header".into()));
        AuthDocument::deserialize(Value::Object(document)).map_err(Error::custom)
    }
}

/// A check's failure: the field (below the route) and why.
pub(crate) type Refusal = (&'static str, String);

impl AuthDocument {
    pub(crate) fn check(self) -> Result<Auth, Refusal> {
        match self {
            Self::None(TokenDocument {
                token_parameter: None,
                token_env: None,
            }) => Ok(Auth::None),
            Self::None(_) => Err((
                "auth",
                "scheme `none` takes no token; drop tokenParameter/tokenEnv".into(),
            )),
            Self::Header(token) => token.source().map(Auth::Header),
            Self::Query(token) => token.source().map(Auth::Query),
            Self::Bearer(token) => token.source().map(Auth::Bearer),
        }
    }
}

impl TokenDocument {
    fn source(self) -> Result<TokenSource, Refusal> {
        match (self.token_parameter, self.token_env) {
            (Some(_), Some(_)) => Err((
                "auth",
                "set one of tokenParameter and tokenEnv, not both".into(),
            )),
            (Some(parameter), None) => {
                let valid = (1..=2048).contains(&parameter.len())
                    && parameter
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || b"_.-/".contains(&byte));
                if valid {
                    Ok(TokenSource::SsmParameter(parameter))
                } else {
                    Err((
                        "auth.tokenParameter",
                        format!("`{parameter}` is not an SSM parameter name"),
                    ))
                }
            }
            (None, Some(variable)) => {
                let valid = variable
                    .bytes()
                    .next()
                    .is_some_and(|first| first.is_ascii_uppercase() || first == b'_')
                    && variable.bytes().all(|byte| {
                        byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_'
                    });
                if valid {
                    Ok(TokenSource::Env(variable))
                } else {
                    Err((
                        "auth.tokenEnv",
                        format!("`{variable}` is not an environment variable name (A-Z, 0-9, _)"),
                    ))
                }
            }
            (None, None) => Err((
                "auth",
                "name where the client token is: tokenParameter (SSM SecureString) or tokenEnv; \
                 or set scheme `none`"
                    .into(),
            )),
        }
    }
}

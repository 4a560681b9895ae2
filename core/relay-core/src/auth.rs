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
    /// A static token as `Authorization: Bearer` (it is sent as it is stored: nothing refreshes
    /// it). Not for OAuth-secured flows: their tokens expire within an hour; use `oauth2`.
    Bearer(TokenSource),
    /// Workflows' "Secure with OAuth 2.0": an access token from the org authorization server
    /// (client credentials, `private_key_jwt`, scope `okta.workflows.invoke.manage`), fetched and
    /// renewed by the relay.
    OAuth2(OAuthClientRef),
}

/// An Okta API service app and the key its client assertions are signed with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OAuthClientRef {
    pub client_id: String,
    pub key: SigningKey,
    /// Bind tokens to a per-container key (DPoP); must match the app's "Require DPoP" setting.
    pub dpop: bool,
    /// The `kid` the assertion names, when the app has several keys.
    pub key_id: Option<String>,
}

/// Where the assertion key is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SigningKey {
    /// An asymmetric AWS KMS key (id, ARN or alias): the private key never leaves KMS.
    Kms(String),
    /// A PEM private key read like a client token (an SSM SecureString, a variable).
    Pem(TokenSource),
}

impl Auth {
    /// The secret this scheme reads, if any.
    pub fn token_source(&self) -> Option<&TokenSource> {
        match self {
            Self::None => None,
            Self::Header(source) | Self::Query(source) | Self::Bearer(source) => Some(source),
            Self::OAuth2(client) => match &client.key {
                SigningKey::Pem(source) => Some(source),
                SigningKey::Kms(_) => None,
            },
        }
    }
}

/// Where a token is read from. Never inline: the route table is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenSource {
    /// An SSM SecureString parameter name.
    SsmParameter(String),
    /// An AWS Secrets Manager secret, by its ARN (its `SecretString`).
    SecretsManager(String),
    /// An environment variable, for local runs.
    Env(String),
}

impl TokenSource {
    /// Where a secret named `name` lives, by the one rule okta-relay applies everywhere a secret
    /// is named (a route's `tokenParameter`, `OKTA_API_TOKEN_PARAMETER`, …): a Secrets Manager
    /// ARN is read from Secrets Manager, anything else is an SSM parameter name.
    pub fn named(name: &str) -> Self {
        if is_secrets_manager_arn(name) {
            Self::SecretsManager(name.to_owned())
        } else {
            Self::SsmParameter(name.to_owned())
        }
    }
}

/// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`. SSM parameter names cannot
/// hold a `:`, so the two never overlap.
pub fn is_secrets_manager_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(7, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "secretsmanager", region, account, "secret", name]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|byte| byte.is_ascii_digit())
                && !name.is_empty()
                && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"/_+=.@-".contains(&byte))
    )
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SsmParameter(name) => write!(formatter, "SSM parameter {name}"),
            Self::SecretsManager(arn) => write!(formatter, "Secrets Manager secret {arn}"),
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
    #[serde(rename = "oauth2")]
    OAuth2(OAuthDocument),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct OAuthDocument {
    client_id: String,
    #[serde(default)]
    signing_key: Option<String>,
    #[serde(default)]
    private_key_parameter: Option<String>,
    #[serde(default)]
    private_key_env: Option<String>,
    #[serde(default)]
    dpop: bool,
    #[serde(default)]
    key_id: Option<String>,
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
            Self::OAuth2(client) => client.check().map(Auth::OAuth2),
        }
    }
}

impl OAuthDocument {
    fn check(self) -> Result<OAuthClientRef, Refusal> {
        let id_like = |text: &str| {
            (1..=128).contains(&text.len())
                && text
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"_-.".contains(&byte))
        };
        if !id_like(&self.client_id) {
            return Err((
                "auth.clientId",
                format!(
                    "`{}` is not an Okta client id (the API service app's, like 0oa1b2c3d4)",
                    self.client_id
                ),
            ));
        }
        let key = match (
            self.signing_key,
            self.private_key_parameter,
            self.private_key_env,
        ) {
            (Some(key), None, None) => {
                let valid = (1..=2048).contains(&key.len())
                    && key
                        .bytes()
                        .all(|byte| byte.is_ascii_alphanumeric() || b"_-/:".contains(&byte));
                if !valid {
                    return Err((
                        "auth.signingKey",
                        format!("`{key}` is not a KMS key id, ARN or alias"),
                    ));
                }
                SigningKey::Kms(key)
            }
            (None, parameter, variable) if parameter.is_some() != variable.is_some() => {
                let token = TokenDocument {
                    token_parameter: parameter,
                    token_env: variable,
                };
                SigningKey::Pem(token.source().map_err(|(field, reason)| {
                    (
                        match field {
                            "auth.tokenParameter" => "auth.privateKeyParameter",
                            "auth.tokenEnv" => "auth.privateKeyEnv",
                            other => other,
                        },
                        reason,
                    )
                })?)
            }
            _ => {
                return Err((
                    "auth",
                    "name the client's key once: signingKey (a KMS key, the template's \
                     OAuthSigningKey), privateKeyParameter (an SSM SecureString holding the PEM) \
                     or privateKeyEnv"
                        .into(),
                ));
            }
        };
        if let Some(key_id) = &self.key_id
            && !id_like(key_id)
        {
            return Err(("auth.keyId", format!("`{key_id}` is not a key id")));
        }
        Ok(OAuthClientRef {
            client_id: self.client_id,
            key,
            dpop: self.dpop,
            key_id: self.key_id,
        })
    }
}

impl TokenDocument {
    fn source(self) -> Result<TokenSource, Refusal> {
        match (self.token_parameter, self.token_env) {
            (Some(_), Some(_)) => Err((
                "auth",
                "set one of tokenParameter and tokenEnv, not both".into(),
            )),
            (Some(parameter), None) if is_secrets_manager_arn(&parameter) => {
                Ok(TokenSource::SecretsManager(parameter))
            }
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
                        format!(
                            "`{parameter}` is not an SSM parameter name or a Secrets Manager \
                             secret ARN"
                        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secrets_manager_arn_is_told_from_an_ssm_name() {
        let arn =
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:okta-relay/workflows/t-a1B2c3";
        assert!(is_secrets_manager_arn(arn));
        assert_eq!(
            TokenSource::named(arn),
            TokenSource::SecretsManager(arn.into())
        );
        assert_eq!(
            TokenSource::named("/okta-relay/okta-api-token"),
            TokenSource::SsmParameter("/okta-relay/okta-api-token".into())
        );
        for not_arn in [
            "arn:aws:ssm:eu-west-1:123456789012:parameter/x",
            "arn:aws:secretsmanager:eu-west-1:1234:secret:x",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:has space",
        ] {
            assert!(!is_secrets_manager_arn(not_arn), "{not_arn}");
        }
    }
}

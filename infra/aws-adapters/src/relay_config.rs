//! How events are relayed in Lambda, shared by the relay and the watchdog's backfill: the
//! configuration (environment variables set by template.yaml, read once at init, every default
//! visible here) and the adapters it wires, built once per container.

use std::time::Duration;

use delivery::WorkflowsClient;
use okta::OrgUrl;
use relay_core::{Deduplicated, LoadOptions};

use crate::{DynamoDbIdempotency, SqsDeadLetters, SsmRoutes, SsmTokens, TokenScope};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `ROUTES_PARAMETER`: SSM parameter holding the route table (JSON).
    pub routes_parameter: String,
    /// `ROUTES_TTL_SECONDS` (default 60): how long routes and client tokens are cached.
    pub routes_ttl: Duration,
    /// `DEAD_LETTER_QUEUE_URL`: where failed deliveries and rejected payloads go.
    pub dead_letter_queue_url: String,
    /// `OKTA_ORG_URL` (optional): for admin links; otherwise derived from the event source.
    pub org: Option<OrgUrl>,
    /// `SAFETY_MARGIN_MS` (default 3000): kept back from the invocation deadline for dead-lettering.
    pub safety_margin: Duration,
    /// `ALLOW_HTTP_LOCALHOST` (default false): accept http://127.0.0.1 endpoints, for local runs;
    /// `ALLOWED_ENDPOINT_HOSTS` (default none): endpoint hosts allowed besides Okta Workflows'.
    pub load_options: LoadOptions,
    /// `DEDUP_TABLE` (optional; empty = de-duplication off): the DynamoDB idempotency table.
    pub dedup_table: Option<String>,
    /// `DEDUP_TTL_SECONDS` (default 604800, 7 days): how long a delivery is remembered.
    pub dedup_ttl: Duration,
    /// `AWS_LAMBDA_FUNCTION_NAME`, the metrics dimension.
    pub function_name: String,
    /// `WORKFLOWS_TOKENS_PATH` and `OKTA_API_TOKEN_PARAMETER` (both optional): which parameters
    /// may be read as client tokens.
    pub token_scope: TokenScope,
}

/// Deliveries to Workflows, de-duplicated when a table is configured.
pub type LambdaDelivery = Deduplicated<WorkflowsClient<SsmTokens>, Option<DynamoDbIdempotency>>;

/// Routes from SSM, deliveries to Workflows, dead letters to SQS.
pub struct RelayAdapters {
    pub routes: SsmRoutes,
    pub deliver: LambdaDelivery,
    pub dead_letters: SqsDeadLetters,
}

impl RelayAdapters {
    pub fn build(aws: &aws_config::SdkConfig, config: &RelayConfig) -> reqwest::Result<Self> {
        let ssm = aws_sdk_ssm::Client::new(aws);
        let store = config.dedup_table.as_ref().map(|table| {
            DynamoDbIdempotency::new(
                aws_sdk_dynamodb::Client::new(aws),
                table.clone(),
                config.dedup_ttl,
            )
        });
        Ok(Self {
            routes: SsmRoutes::new(
                ssm.clone(),
                config.routes_parameter.clone(),
                config.routes_ttl,
                config.load_options.clone(),
            ),
            deliver: Deduplicated::new(
                WorkflowsClient::standard(
                    SsmTokens::new(ssm, config.routes_ttl).within(config.token_scope.clone()),
                )?,
                store,
            ),
            dead_letters: SqsDeadLetters::new(
                aws_sdk_sqs::Client::new(aws),
                config.dead_letter_queue_url.clone(),
            ),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set; template.yaml sets it, or export it for a local run")]
    Missing(&'static str),
    #[error("{name} is `{value}`: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("ALLOWED_ENDPOINT_HOSTS: {0}")]
    Hosts(String),
    #[error("OKTA_ORG_URL: {0}")]
    OrgUrl(#[from] okta::OrgUrlError),
}

impl RelayConfig {
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            var(name)
                .filter(|value| !value.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let number = |name: &'static str, default: u64| match var(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse::<u64>()
                .map_err(|_| ConfigError::Invalid {
                    name,
                    value,
                    expected: "expected a whole number",
                }),
        };
        let allow_http_localhost = match var("ALLOW_HTTP_LOCALHOST").as_deref().map(str::trim) {
            None | Some("" | "false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => {
                let value = other.to_owned();
                return Err(ConfigError::Invalid {
                    name: "ALLOW_HTTP_LOCALHOST",
                    value,
                    expected: "expected true or false",
                });
            }
        };
        Ok(Self {
            routes_parameter: required("ROUTES_PARAMETER")?,
            routes_ttl: Duration::from_secs(number("ROUTES_TTL_SECONDS", 60)?),
            dead_letter_queue_url: required("DEAD_LETTER_QUEUE_URL")?,
            org: var("OKTA_ORG_URL")
                .filter(|url| !url.is_empty())
                .map(|url| OrgUrl::parse(&url))
                .transpose()?,
            safety_margin: Duration::from_millis(number("SAFETY_MARGIN_MS", 3000)?),
            load_options: LoadOptions {
                allow_http_localhost,
                allowed_hosts: LoadOptions::parse_allowed_hosts(
                    &var("ALLOWED_ENDPOINT_HOSTS").unwrap_or_default(),
                )
                .map_err(ConfigError::Hosts)?,
            },
            dedup_table: var("DEDUP_TABLE").filter(|table| !table.trim().is_empty()),
            dedup_ttl: Duration::from_secs(number("DEDUP_TTL_SECONDS", 7 * 24 * 3600)?),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "relay".into()),
            token_scope: TokenScope {
                under: var("WORKFLOWS_TOKENS_PATH").filter(|path| !path.trim().is_empty()),
                never: var("OKTA_API_TOKEN_PARAMETER").filter(|name| !name.trim().is_empty()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<RelayConfig, ConfigError> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        RelayConfig::from_env(|name| env.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 2] = [
        ("ROUTES_PARAMETER", "/okta-relay/routes"),
        ("DEAD_LETTER_QUEUE_URL", "https://sqs/q"),
    ];

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = config(&MINIMAL).unwrap();
        assert_eq!(config.routes_ttl, Duration::from_secs(60));
        assert_eq!(config.safety_margin, Duration::from_secs(3));
        assert!(!config.load_options.allow_http_localhost);
        assert!(config.org.is_none());
        assert!(config.dedup_table.is_none());
        assert_eq!(config.dedup_ttl, Duration::from_secs(604_800));
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            config(&[]).unwrap_err().to_string(),
            "ROUTES_PARAMETER is not set; template.yaml sets it, or export it for a local run"
        );
        let mut pairs = MINIMAL.to_vec();
        pairs.push(("ROUTES_TTL_SECONDS", "soon"));
        assert_eq!(
            config(&pairs).unwrap_err().to_string(),
            "ROUTES_TTL_SECONDS is `soon`: expected a whole number"
        );
        let mut pairs = MINIMAL.to_vec();
        pairs.push(("OKTA_ORG_URL", "http://example.okta.com"));
        assert!(
            config(&pairs)
                .unwrap_err()
                .to_string()
                .starts_with("OKTA_ORG_URL: ")
        );
        let mut pairs = MINIMAL.to_vec();
        pairs.push(("ALLOW_HTTP_LOCALHOST", "yes"));
        assert!(
            config(&pairs)
                .unwrap_err()
                .to_string()
                .contains("true or false")
        );
    }
}

//! How events are relayed in Lambda, shared by the relay and the redrive: the configuration (environment variables set by template.yaml, read once at init
//! through [`lambda_support::env`], every default visible here) and the adapters it wires, built
//! once per container.

use std::time::Duration;

use aws_adapters::{
    DynamoDbIdempotency, SqsDeadLetters, SqsInbox, SsmRoutes, SsmTokens, TokenScope,
};
use lambda_support::env::Environment;
use okta::OrgUrl;
use relay_core::inbox::RetrySettings;
use relay_core::{Deduplicated, LoadOptions};

use okta_oauth::ClientSettings;
use workflows_client::WorkflowsClient;
use workflows_client::auth::oauth2::OAuthClients;

/// The relay's timeout in template.yaml: the longest attempt (Workflows closes an API endpoint
/// request at about 60 s) twice over, so a batch whose paced slots run late still makes its
/// first POSTs. The inbox's visibility timeout is six times this (AWS's guidance for SQS event
/// sources).
pub const RELAY_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// `ROUTES_PARAMETER`: SSM parameter holding the route table (JSON).
    pub routes_parameter: String,
    /// `ROUTES_TTL_SECONDS` (default 60): how long routes and client tokens are cached.
    pub routes_ttl: Duration,
    /// `DEAD_LETTER_QUEUE_URL`: where failed deliveries and rejected payloads go.
    pub dead_letter_queue_url: String,
    /// `INBOX_QUEUE_URL`: the queue the relay consumes, where retries and redriven letters go.
    pub inbox_queue_url: String,
    /// `MAX_CONCURRENCY` (default 2, the template's `RelayMaxConcurrency`): how many relay
    /// containers share each route's `maxRequestsPerSecond`.
    pub max_concurrency: u32,
    /// `INBOX_BATCH_SIZE` (default 10, the template's `RelayBatchSize`): the event source
    /// mapping's `BatchSize`; a full batch waits less for paced slots (`Pacer::hold`).
    pub inbox_batch_size: usize,
    /// `MAX_EVENT_AGE_HOURS` (default 24) and `FIRST_RETRY_SECONDS` (default 1): how long an
    /// event is retried, and the first backoff.
    pub retry: RetrySettings,
    /// `OKTA_ORG_URL` (optional): for admin links (otherwise derived from the event source), and
    /// the token endpoint of `oauth2` routes.
    pub org: Option<OrgUrl>,
    /// `OKTA_API_BASE_URL` (optional): call this instead of the org URL for tokens (a proxy, or
    /// a local stand-in in tests).
    pub okta_api_base_url: Option<url::Url>,
    /// `SAFETY_MARGIN_MS` (default 3000): kept back from the invocation deadline to write retries
    /// and dead letters.
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
    /// `PER_ROUTE_METRICS` (default false; the template's `PerRouteMetrics`): also write each
    /// route's metrics with a `Route` dimension.
    pub per_route_metrics: bool,
    /// `WORKFLOWS_TOKENS_PATH`, `WORKFLOWS_SECRETS_PREFIX` and `OKTA_API_TOKEN_PARAMETER` (all
    /// optional): which SSM parameters and Secrets Manager secrets may be read as client tokens.
    pub token_scope: TokenScope,
}

/// Deliveries to Workflows, de-duplicated when a table is configured.
pub type LambdaDelivery = Deduplicated<WorkflowsClient<SsmTokens>, Option<DynamoDbIdempotency>>;

/// Routes from SSM, deliveries to Workflows (one attempt each: a retry goes back to the inbox
/// and is paced again), the inbox and the dead letters in SQS.
pub struct RelayAdapters {
    pub routes: SsmRoutes,
    pub deliver: LambdaDelivery,
    pub dead_letters: SqsDeadLetters,
    pub inbox: SqsInbox,
}

impl RelayAdapters {
    pub fn build(aws: &aws_config::SdkConfig, config: &RelayConfig) -> reqwest::Result<Self> {
        let ssm = aws_sdk_ssm::Client::new(aws);
        let sqs = aws_sdk_sqs::Client::new(aws);
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
                WorkflowsClient::single_attempt(
                    SsmTokens::new(ssm, config.routes_ttl)
                        .with_secrets_manager(aws_sdk_secretsmanager::Client::new(aws))
                        .within(config.token_scope.clone()),
                )?
                .with_oauth(OAuthClients::new(
                    workflows_client::workflows::http_client()?,
                    config.token_endpoint(),
                    Some(aws_sdk_kms::Client::new(aws)),
                )),
                store,
            ),
            dead_letters: SqsDeadLetters::new(sqs.clone(), config.dead_letter_queue_url.clone()),
            inbox: SqsInbox::new(sqs, config.inbox_queue_url.clone()),
        })
    }
}

pub use lambda_support::env::ConfigError;

impl RelayConfig {
    /// The org authorization server's token endpoint, for `oauth2` routes.
    pub fn token_endpoint(&self) -> Option<url::Url> {
        let base = self
            .okta_api_base_url
            .as_ref()
            .or(self.org.as_ref().map(OrgUrl::as_url))?;
        Some(ClientSettings::token_endpoint_of(base))
    }

    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Environment::new(var);
        Ok(Self {
            routes_parameter: env.required("ROUTES_PARAMETER")?,
            routes_ttl: Duration::from_secs(env.number("ROUTES_TTL_SECONDS", 60, 0..=86_400)?),
            dead_letter_queue_url: env.required("DEAD_LETTER_QUEUE_URL")?,
            inbox_queue_url: env.required("INBOX_QUEUE_URL")?,
            max_concurrency: u32::try_from(env.number("MAX_CONCURRENCY", 2, 1..=1000)?)
                .unwrap_or(1000),
            inbox_batch_size: usize::try_from(env.number("INBOX_BATCH_SIZE", 10, 1..=10_000)?)
                .unwrap_or(10_000),
            retry: RetrySettings {
                max_event_age: Duration::from_secs(
                    env.number("MAX_EVENT_AGE_HOURS", 24, 1..=336)? * 3600,
                ),
                first_backoff: Duration::from_secs(env.number(
                    "FIRST_RETRY_SECONDS",
                    1,
                    1..=900,
                )?),
            },
            org: env.parsed("OKTA_ORG_URL", OrgUrl::parse)?,
            okta_api_base_url: env.parsed("OKTA_API_BASE_URL", url::Url::parse)?,
            safety_margin: Duration::from_millis(env.number(
                "SAFETY_MARGIN_MS",
                3000,
                0..=900_000,
            )?),
            load_options: LoadOptions {
                allow_http_localhost: env.flag("ALLOW_HTTP_LOCALHOST", false)?,
                allowed_hosts: env
                    .parsed("ALLOWED_ENDPOINT_HOSTS", LoadOptions::parse_allowed_hosts)?
                    .unwrap_or_default(),
            },
            dedup_table: env.optional("DEDUP_TABLE"),
            dedup_ttl: Duration::from_secs(env.number(
                "DEDUP_TTL_SECONDS",
                7 * 24 * 3600,
                1..=365 * 24 * 3600,
            )?),
            function_name: env
                .optional("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| "relay".into()),
            per_route_metrics: env.flag("PER_ROUTE_METRICS", false)?,
            token_scope: TokenScope {
                under: env.optional("WORKFLOWS_TOKENS_PATH"),
                never: env.optional("OKTA_API_TOKEN_PARAMETER"),
                secrets_under: env.optional("WORKFLOWS_SECRETS_PREFIX"),
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

    const MINIMAL: [(&str, &str); 3] = [
        ("ROUTES_PARAMETER", "/okta-relay/routes"),
        ("DEAD_LETTER_QUEUE_URL", "https://sqs/q"),
        ("INBOX_QUEUE_URL", "https://sqs/inbox"),
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
        assert_eq!(config.max_concurrency, 2);
        assert_eq!(config.retry.max_event_age, Duration::from_secs(24 * 3600));
        assert_eq!(config.retry.first_backoff, Duration::from_secs(1));
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

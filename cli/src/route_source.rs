//! Where commands that run the pipeline outside Lambda (redrive, backfill) get routes and client
//! tokens: a file or the SSM parameter the deployed relay reads; tokens from the environment or
//! SSM; and the idempotency table, when the stack has de-duplication on.

use std::path::PathBuf;

use anyhow::Context;
use aws_adapters::{DynamoDbIdempotency, WorkstationTokens, read_parameter};
use relay_core::{Deduplicated, LoadOptions, RouteTable};
use workflows_client::WorkflowsClient;

use crate::stack::{Stack, StackValue, optional};

/// Deliveries from a workstation: the Lambda's client, de-duplicated when a table is given.
pub type WorkstationDelivery =
    Deduplicated<WorkflowsClient<WorkstationTokens>, Option<DynamoDbIdempotency>>;

/// The one place the CLI builds its deliveries (replay, backfill, redrive).
pub fn workstation_delivery(
    tokens: WorkstationTokens,
    store: Option<DynamoDbIdempotency>,
) -> anyhow::Result<WorkstationDelivery> {
    Ok(Deduplicated::new(WorkflowsClient::standard(tokens)?, store))
}

/// Where the client tokens of a command that delivers from a workstation come from (replay,
/// backfill without an inbox).
#[derive(clap::Args)]
pub struct TokenArgs {
    /// Read `tokenParameter` client tokens from SSM with your AWS credentials (by default only
    /// `tokenEnv` tokens, from the environment, are available).
    #[arg(long)]
    pub ssm: bool,
}

/// Which endpoints a route may name: the same flags on every command that reads routes
/// (replay, backfill, redrive).
#[derive(clap::Args)]
pub struct AccessArgs {
    /// Accept http://127.0.0.1 and http://localhost endpoints (a local sink).
    #[arg(long)]
    pub allow_http_localhost: bool,
    /// Endpoint hosts allowed besides Okta Workflows' own (`*.workflows.okta.com`, ...): a
    /// host, `*.domain`, or an IP address; repeat or separate with commas.
    #[arg(
        long = "allow-endpoint-host",
        env = "ALLOWED_ENDPOINT_HOSTS",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub allowed_endpoint_hosts: Vec<String>,
}

impl AccessArgs {
    pub fn load_options(&self) -> anyhow::Result<LoadOptions> {
        Ok(LoadOptions {
            allow_http_localhost: self.allow_http_localhost,
            allowed_hosts: LoadOptions::parse_allowed_hosts(&self.allowed_endpoint_hosts.join(","))
                .map_err(|reason| anyhow::anyhow!("--allow-endpoint-host: {reason}"))?,
        })
    }
}

#[derive(clap::Args)]
pub struct RoutesArgs {
    /// Route table file (JSON, docs/routes.schema.json).
    #[arg(long, value_name = "FILE", conflicts_with = "routes_parameter")]
    pub routes: Option<PathBuf>,
    /// SSM parameter holding the route table (the stack's `RoutesParameterName`).
    #[arg(long, env = "ROUTES_PARAMETER", value_name = "NAME")]
    pub routes_parameter: Option<String>,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// The idempotency store of a command that delivers from a workstation (backfill without an
/// inbox).
#[derive(clap::Args)]
pub struct DedupArgs {
    /// The idempotency table (the stack's `DeduplicationTableName` output): skip what the relay
    /// already delivered, and record what this run delivers.
    #[arg(long, env = "DEDUP_TABLE", value_name = "TABLE")]
    pub dedup_table: Option<String>,
    /// How long this run's deliveries are remembered (the stack's `DEDUP_TTL_SECONDS`).
    #[arg(long, value_name = "SECONDS", default_value_t = 7 * 24 * 3600)]
    pub dedup_ttl_seconds: u64,
}

impl DedupArgs {
    /// The stack's idempotency table, when it has de-duplication on and none was given.
    pub fn fill_from(&mut self, stack: Option<&Stack>) {
        self.dedup_table = optional(
            self.dedup_table.take(),
            stack,
            StackValue::Output("DeduplicationTableName"),
        );
    }

    pub fn idempotency(&self, aws: &aws_config::SdkConfig) -> Option<DynamoDbIdempotency> {
        let table = self.dedup_table.as_ref().filter(|t| !t.trim().is_empty())?;
        Some(DynamoDbIdempotency::new(
            aws_sdk_dynamodb::Client::new(aws),
            table.clone(),
            std::time::Duration::from_secs(self.dedup_ttl_seconds),
        ))
    }
}

impl RoutesArgs {
    /// Fills what was not given from the stack: its routes parameter and allowed hosts.
    pub fn fill_from(&mut self, stack: Option<&Stack>) {
        if self.routes.is_none() {
            self.routes_parameter = optional(
                self.routes_parameter.take(),
                stack,
                StackValue::Parameter("RoutesParameterName"),
            );
        }
        if self.access.allowed_endpoint_hosts.is_empty()
            && let Some(hosts) =
                optional(None, stack, StackValue::Parameter("AllowedEndpointHosts"))
        {
            self.access.allowed_endpoint_hosts = vec![hosts];
        }
    }

    pub async fn load(&self, aws: &aws_config::SdkConfig) -> anyhow::Result<RouteTable> {
        let options = self.access.load_options()?;
        let (text, origin) = match (&self.routes, &self.routes_parameter) {
            (Some(path), _) => (
                crate::input::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
                path.display().to_string(),
            ),
            (None, Some(name)) => {
                let ssm = aws_sdk_ssm::Client::new(aws);
                let text = read_parameter(&ssm, name, "the route table").await?;
                (text, format!("SSM parameter {name}"))
            }
            (None, None) => {
                anyhow::bail!("give the route table: --routes FILE or --routes-parameter NAME")
            }
        };
        RouteTable::from_json(&text, options).with_context(|| format!("routes from {origin}"))
    }
}

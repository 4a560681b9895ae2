//! The relay Lambda: EventBridge invokes it with one Okta event; it relays it along the routes.
//! This file only wires things together; the steps live in `relay-core` and the adapters.

mod config;
mod handler;
mod raw_body;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_adapters::{SqsDeadLetters, SsmRoutes, SsmTokens};
use delivery::{RetryPolicy, WorkflowsClient, workflows::http_client};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use tokio::sync::OnceCell;

use crate::config::RelayConfig;
use crate::handler::Deps;
use crate::raw_body::{RawBodies, RawBodyLayer};

type LambdaDeps = Deps<SsmRoutes, WorkflowsClient<SsmTokens>, SqsDeadLetters>;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_target(false)
        .with_env_filter(log_filter())
        .init();
    let config = RelayConfig::from_env(|name| std::env::var(name).ok())?;
    let state = Arc::new(State {
        config,
        deps: OnceCell::new(),
        bodies: RawBodies::default(),
    });
    let bodies = state.bodies.clone();
    let handler = service_fn(move |event: LambdaEvent<()>| {
        let state = state.clone();
        async move { state.invoke(event).await }
    });
    Runtime::new(handler)
        .layer(RawBodyLayer::new(bodies))
        .run()
        .await
}

/// `RUST_LOG` (default `info`), except that the HTTP and AWS SDK internals never log below
/// `info`: at debug and trace they print request URLs and response bodies, which can hold a
/// client token (`?clientToken=`) or a decrypted SecureString.
fn log_filter() -> tracing_subscriber::EnvFilter {
    const QUIET: [&str; 6] = [
        "aws_smithy_runtime",
        "aws_smithy_http",
        "aws_sdk_ssm",
        "hyper",
        "reqwest",
        "h2",
    ];
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    QUIET
        .iter()
        .filter_map(|target| format!("{target}=info").parse().ok())
        .fold(filter, |filter, directive| filter.add_directive(directive))
}

struct State {
    config: RelayConfig,
    /// Built on the first invocation, not at init: cold starts skip loading AWS configuration.
    deps: OnceCell<LambdaDeps>,
    bodies: RawBodies,
}

impl State {
    async fn invoke(&self, event: LambdaEvent<()>) -> Result<(), lambda_runtime::Error> {
        let payload = self.bodies.take(&event.context.request_id);
        let deps = self
            .deps
            .get_or_try_init(|| build_deps(&self.config))
            .await?;
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        let _entered = span.enter();
        let (metrics, result) =
            handler::handle(deps, &payload, time_left(event.context.deadline)).await;
        handler::print_metrics(&metrics, &self.config.function_name);
        result.map_err(Into::into)
    }
}

async fn build_deps(config: &RelayConfig) -> anyhow::Result<LambdaDeps> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ssm = aws_sdk_ssm::Client::new(&aws);
    Ok(Deps {
        routes: SsmRoutes::new(
            ssm.clone(),
            config.routes_parameter.clone(),
            config.routes_ttl,
            config.load_options,
        ),
        deliver: WorkflowsClient::new(
            http_client()?,
            SsmTokens::new(ssm, config.routes_ttl),
            RetryPolicy::default(),
        ),
        dead_letters: SqsDeadLetters::new(
            aws_sdk_sqs::Client::new(&aws),
            config.dead_letter_queue_url.clone(),
        ),
        org: config.org.clone(),
        safety_margin: config.safety_margin,
    })
}

/// Time until Lambda's deadline (milliseconds since the epoch). Local emulators are not always
/// faithful here (cargo-lambda 1.9 sends `600000`, a duration); a deadline that cannot be a
/// timestamp of this century gets [`UNKNOWN_DEADLINE_TIME_LEFT`].
fn time_left(deadline_ms: u64) -> Duration {
    const YEAR_2020_MS: u64 = 1_577_836_800_000;
    if deadline_ms < YEAR_2020_MS {
        return UNKNOWN_DEADLINE_TIME_LEFT;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms).saturating_sub(now)
}

/// The relay's timeout in template.yaml.
const UNKNOWN_DEADLINE_TIME_LEFT: Duration = Duration::from_secs(30);

//! The relay Lambda: EventBridge invokes it with one Okta event; it relays it along the routes.
//! This file only wires things together; the steps live in `relay-core` and the adapters.

mod handler;
mod raw_body;

use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{SqsDeadLetters, SsmRoutes};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use lambda_support::{InvocationError, time_left};
use relay_wiring::{LambdaDelivery, RelayAdapters, RelayConfig};
use tokio::sync::OnceCell;
use tracing::Instrument;

use crate::handler::Deps;
use crate::raw_body::{RawBodies, RawBodyLayer};

type LambdaDeps = Deps<SsmRoutes, LambdaDelivery, SqsDeadLetters>;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_json_logs();
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

struct State {
    config: RelayConfig,
    /// Built on the first invocation, not at init: cold starts skip loading AWS configuration.
    deps: OnceCell<LambdaDeps>,
    bodies: RawBodies,
}

impl State {
    async fn invoke(&self, event: LambdaEvent<()>) -> Result<(), InvocationError> {
        let payload = self.bodies.take(&event.context.request_id);
        let deps = self
            .deps
            .get_or_try_init(|| build_deps(&self.config))
            .await
            .map_err(|error| InvocationError::new("ClientSetupFailed", error))?;
        let span = tracing::info_span!("invocation", request_id = %event.context.request_id);
        let time_left = time_left(event.context.deadline, TIMEOUT);
        let (metrics, result) = handler::handle(deps, &payload, time_left)
            .instrument(span)
            .await;
        handler::print_metrics(&metrics, &self.config.function_name);
        result.map_err(|error| InvocationError::new(error.error_type(), error))
    }
}

async fn build_deps(config: &RelayConfig) -> anyhow::Result<LambdaDeps> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let adapters = RelayAdapters::build(&aws, config)?;
    Ok(Deps {
        routes: adapters.routes,
        deliver: adapters.deliver,
        dead_letters: adapters.dead_letters,
        org: config.org.clone(),
        safety_margin: config.safety_margin,
    })
}

/// The relay's timeout in template.yaml.
const TIMEOUT: Duration = Duration::from_secs(30);

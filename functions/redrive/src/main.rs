//! Wires the redrive function: the relay's configuration and adapters once per container, then
//! one drain per invocation. It answers with the counts; a queue or routes error fails it.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::{InvocationError, time_left};
use redrive::{Request, TIMEOUT, run};
use relay_wiring::{RelayAdapters, RelayConfig};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::Instrument;

// One thread, as the relay: at 128 MB Lambda gives a fraction of one vCPU and the work waits on
// the network; a worker pool only costs its start (docs/PERFORMANCE.md, cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logs();
    let config = Arc::new(RelayConfig::from_env(|name| std::env::var(name).ok())?);
    let adapters: Arc<OnceCell<RelayAdapters>> = Arc::new(OnceCell::new());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (config, adapters) = (config.clone(), adapters.clone());
        async move {
            let deadline = saturating_time::deadline(Instant::now(), time_left(event.context.deadline, TIMEOUT));
            let request: Request = serde_json::from_value(event.payload).map_err(|error| {
                InvocationError::new("BadRequest", format!("the payload is {{\"dryRun\": bool, \"limit\": number}}, both optional: {error}"))
            })?;
            let adapters = adapters
                .get_or_try_init(|| async {
                    let aws = lambda_support::aws_sdk_config().await;
                    RelayAdapters::build(&aws, &config)
                })
                .await
                .map_err(|error| InvocationError::new("ClientSetupFailed", error))?;
            let tally = run(&config, adapters, &request, deadline).await.map_err(|reason| {
                tracing::error!(outcome = "redrive_failed", reason = %reason, "the redrive stopped");
                InvocationError::new("RedriveFailed", reason)
            })?;
            tracing::info!(outcome = "redrive_done", redriven = tally.redriven, would_send = tally.would_send,
                kept = tally.kept, not_redrivable = tally.not_redrivable, "queue drained");
            serde_json::to_value(&tally).map_err(|error| InvocationError::new("AnswerUnwritable", error))
        }
        .instrument(lambda_support::invocation_span())
    }))
    .await
}

//! Wires the watchdog: configuration and AWS clients once per container, then one run per
//! scheduled invocation. An error fails the invocation, which the template's alarm on the
//! function's errors catches; pending backfill windows stay saved for the next run.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::{InvocationError, time_left};
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tracing::Instrument;
use watchdog::{TIMEOUT, WatchdogClients, WatchdogConfig, metric_line, run};

// One thread, as the relay: at 128 MB Lambda gives a fraction of one vCPU and the work waits on
// the network; a worker pool only costs its start (docs/PERFORMANCE.md, cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logs();
    let config = Arc::new(WatchdogConfig::from_env(|name| std::env::var(name).ok())?);
    let aws: Arc<OnceCell<WatchdogClients>> = Arc::new(OnceCell::new());
    let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (config, aws, function_name) = (config.clone(), aws.clone(), function_name.clone());
        async move {
            let deadline = saturating_time::deadline(Instant::now(), time_left(event.context.deadline, TIMEOUT));
            let aws = aws
                .get_or_try_init(|| async {
                    let sdk = lambda_support::aws_sdk_config().await;
                    WatchdogClients::new(&sdk, &config)
                })
                .await
                .map_err(|error| InvocationError::new("ClientSetupFailed", error))?;
            let run = run(&config, aws, deadline).await.map_err(|reason| {
                tracing::error!(outcome = "watch_failed", reason = %reason, "the watchdog's run failed");
                InvocationError::new("WatchdogRunFailed", reason)
            })?;
            let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            println!("{}", metric_line(&function_name, &run, timestamp));
            serde_json::to_value(&run).map_err(|error| InvocationError::new("AnswerUnwritable", error))
        }
        .instrument(lambda_support::invocation_span())
    }))
    .await
}

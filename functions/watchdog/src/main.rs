//! Wires the watchdog: AWS clients once per container, then one check per scheduled invocation.
//! An error fails the invocation, which the template's alarm on the function's errors catches.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_adapters::EventBridgeBuses;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use tokio::sync::OnceCell;
use watchdog::{Config, check, log_outcome, metric_line};

struct Aws {
    ssm: aws_sdk_ssm::Client,
    buses: EventBridgeBuses,
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_json_logs();
    let aws: Arc<OnceCell<Aws>> = Arc::new(OnceCell::new());
    let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
        let (aws, function_name) = (aws.clone(), function_name.clone());
        async move {
            let config = Config::from_env(|name| std::env::var(name).ok()).map_err(anyhow::Error::msg)?;
            let aws = aws
                .get_or_init(|| async {
                    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    Aws {
                        ssm: aws_sdk_ssm::Client::new(&config),
                        buses: EventBridgeBuses::new(aws_sdk_eventbridge::Client::new(&config)),
                    }
                })
                .await;
            let watch = check(&config, &aws.ssm, &aws.buses).await.map_err(|reason| {
                tracing::error!(outcome = "watch_failed", reason = %reason, "could not check the Okta log stream");
                anyhow::Error::msg(reason)
            })?;
            log_outcome(&watch, &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            println!("{}", metric_line(&function_name, &watch, timestamp));
            Ok::<Value, lambda_runtime::Error>(serde_json::to_value(&watch)?)
        }
    }))
    .await
}

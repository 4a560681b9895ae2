//! Wires the provisioner: AWS clients and the HTTP client once per container, then each
//! CloudFormation request through `custom_resource::handle`.

use std::sync::Arc;

use aws_adapters::EventBridgeBuses;
use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::InvocationError;
use provisioner::provision::{self, ProvisionerClients, ProvisionerConfig};
use provisioner::{TIMEOUT, custom_resource};
use serde_json::Value;
use tokio::sync::OnceCell;
use tracing::Instrument;

struct State {
    /// Built on the first invocation, as the AWS clients: loading the TLS roots is the
    /// slow part of a cold start.
    http: OnceCell<reqwest::Client>,
    aws: OnceCell<Arc<ProvisionerClients>>,
    log_stream: String,
    function_name: String,
}

// One thread, as the relay: at 128 MB Lambda gives a fraction of one vCPU and the work waits on
// the network; a worker pool only costs its start (docs/PERFORMANCE.md, cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logs();
    let state = Arc::new(State {
        http: OnceCell::new(),
        aws: OnceCell::new(),
        log_stream: std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
        function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let state = state.clone();
        async move { state.invoke(event).await }.instrument(lambda_support::invocation_span())
    }))
    .await
}

impl State {
    async fn invoke(&self, event: LambdaEvent<Value>) -> Result<(), InvocationError> {
        let http = self
            .http
            .get_or_try_init(|| async {
                outbound_http::client(&outbound_http::ClientSettings::default())
            })
            .await
            .map_err(|error| InvocationError::new("ClientSetupFailed", error))?;
        let aws = self
            .aws
            .get_or_init(|| async {
                let config = lambda_support::aws_sdk_config().await;
                Arc::new(ProvisionerClients {
                    ssm: aws_sdk_ssm::Client::new(&config),
                    kms: aws_sdk_kms::Client::new(&config),
                    secrets: aws_adapters::SecretReader::new(&config),
                    buses: EventBridgeBuses::new(aws_sdk_eventbridge::Client::new(&config)),
                })
            })
            .await
            .clone();
        // Configuration errors become a FAILED answer with the reason, not an init error that
        // would leave CloudFormation waiting.
        let config = ProvisionerConfig::from_env(|name| std::env::var(name).ok());
        let time_left = lambda_support::time_left(event.context.deadline, TIMEOUT);
        let response = custom_resource::handle(
            event.payload,
            time_left,
            http,
            &self.log_stream,
            move |request| async move { provision::run(request, config, &aws).await },
        )
        .await
        .map_err(|error| InvocationError::new(error.error_type(), error))?;
        println!(
            "{}",
            custom_resource::metric_line(&self.function_name, &response)
        );
        Ok(())
    }
}

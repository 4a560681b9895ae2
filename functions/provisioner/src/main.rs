use lambda_runtime::{Error, LambdaEvent, service_fn};

async fn handle(event: LambdaEvent<serde_json::Value>) -> Result<(), Error> {
    tracing::info!(request_id = %event.context.request_id, "received");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt().json().without_time().init();
    lambda_runtime::run(service_fn(handle)).await
}

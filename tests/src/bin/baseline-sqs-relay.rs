//! The floor for `make bench`'s warm cost per event: the least a Lambda function can do with a
//! batch from the inbox. It reads the SQS event, POSTs every record's body to `FLOOR_ENDPOINT`
//! at once over one kept-alive client, and answers that nothing failed (`batchItemFailures`
//! empty). No routes, no enrichment, no pacing, no logs: what is left is the Runtime API and
//! the POSTs, built with the same release profile as the real functions.

use futures_util::future::join_all;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let endpoint = std::env::var("FLOOR_ENDPOINT")?;
    let client = reqwest::Client::new();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (client, endpoint) = (&client, &endpoint);
        async move {
            let records = event.payload["Records"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let posts = records.iter().map(|record| {
                let body = record["body"].as_str().unwrap_or_default().to_owned();
                async move {
                    let answer = client
                        .post(endpoint)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    answer.bytes().await
                }
            });
            for answer in join_all(posts).await {
                answer?;
            }
            Ok::<_, Error>(json!({"batchItemFailures": []}))
        }
    }))
    .await
}

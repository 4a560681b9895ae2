//! The relay Lambda: the inbox's event source mapping invokes it with a batch of SQS messages
//! (Okta events from the EventBridge rule, the backfill and the redrive, and its own retries);
//! it relays them along the routes and answers which messages SQS must hand out again
//! (`ReportBatchItemFailures`). This file only wires things together; the steps live in
//! `relay-core` and the adapters.

mod handler;

use std::sync::Arc;

use aws_adapters::{SqsDeadLetters, SqsInbox, SsmRoutes};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::Utc;
use lambda_runtime::{LambdaEvent, service_fn};
use lambda_support::{InvocationError, time_left};
use relay_core::Pacer;
use relay_wiring::{LambdaDelivery, RELAY_TIMEOUT, RelayAdapters, RelayConfig};
use tokio::sync::OnceCell;
use tracing::Instrument;

use crate::handler::{Deps, Record, inbox_message};

type LambdaDeps = Deps<SsmRoutes, LambdaDelivery, SqsDeadLetters, SqsInbox>;

// A fifth of the relay's CPU went to malloc and free, spread over parsing, enriching and
// serialising each event (docs/PERFORMANCE.md, "Where the relay's warm time goes"). mimalloc,
// measured in one bench run against the system allocator in the run before it: CPU per event
// 342 -> 293 µs, 143 -> 99 µs and 106 -> 92 µs at batches of 1, 10 and 100.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// One thread: at 128 MB Lambda gives the function a fraction of one vCPU (AWS Lambda developer
// guide, "Configure Lambda function memory": CPU is allocated in proportion to memory), and the work is waiting on the network; worker threads only added
// cross-thread wake-ups (measured by `make bench`: 1.83x → 1.47x the floor at batches of 1).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logs();
    let config = RelayConfig::from_env(|name| std::env::var(name).ok())?;
    let state = Arc::new(State {
        config,
        deps: OnceCell::new(),
    });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let state = state.clone();
        async move { state.invoke(event).await }
    }))
    .await
}

struct State {
    config: RelayConfig,
    /// Built on the first invocation, not at init: cold starts skip loading AWS configuration.
    /// The pacer in it outlives invocations, as a container's share of each route's rate must.
    deps: OnceCell<LambdaDeps>,
}

impl State {
    async fn invoke(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, InvocationError> {
        let deps = self
            .deps
            .get_or_try_init(|| build_deps(&self.config))
            .await
            .map_err(|error| InvocationError::new("ClientSetupFailed", error))?;
        let now = Utc::now();
        let messages: Vec<_> = event
            .payload
            .records
            .into_iter()
            .map(|mut record| {
                inbox_message(
                    Record {
                        message_id: record.message_id.unwrap_or_default(),
                        body: record.body.unwrap_or_default(),
                        sent_timestamp: record.attributes.remove("SentTimestamp"),
                    },
                    now,
                )
            })
            .collect();
        let span = lambda_support::invocation_span();
        let time_left = time_left(event.context.deadline, RELAY_TIMEOUT);
        let (metrics, result) = handler::handle(deps, &messages, time_left)
            .instrument(span)
            .await;
        handler::print_metrics(
            &metrics,
            &self.config.function_name,
            self.config.per_route_metrics,
        );
        let failed = result.map_err(|error| InvocationError::new(error.error_type(), error))?;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        Ok(response)
    }
}

async fn build_deps(config: &RelayConfig) -> anyhow::Result<LambdaDeps> {
    let aws = lambda_support::aws_sdk_config().await;
    let adapters = RelayAdapters::build(&aws, config)?;
    Ok(Deps {
        routes: adapters.routes,
        deliver: adapters.deliver,
        dead_letters: adapters.dead_letters,
        inbox: adapters.inbox,
        pacer: Pacer::new(config.max_concurrency).with_batch_size(config.inbox_batch_size),
        retry: config.retry.clone(),
        org: config.org.clone(),
        safety_margin: config.safety_margin,
    })
}

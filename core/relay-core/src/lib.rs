//! The relay's pure core. Follow one event through it:
//! [`envelope::read_envelope`] → [`okta::LogEvent`] → [`enrich::enrich`] →
//! [`routes::RouteTable::matching`] → [`payload::Payloads`] → [`pipeline::Deliver`] →
//! [`dead_letter::DeadLetter`] for what failed, [`dedup`] to skip what was delivered before, and
//! [`metrics::InvocationMetrics`] for what happened.
//!
//! In Lambda the relay takes events from its SQS [`inbox`] in batches: [`inbox::relay_batch`]
//! runs the same steps per message, [`pacing`] spaces the POSTs to each flow, and what cannot be
//! delivered yet goes back to the inbox for exactly the routes that still owe it.
//!
//! [`auth`] is how a route authenticates (a scheme per variant); [`backfill`] reads System Log
//! windows back after an outage and feeds them through the same steps; [`redrive`] sends dead
//! letters again.
//!
//! No AWS SDK and no network here: delivery, the dead-letter queue, the idempotency store, the
//! System Log and the backfill's progress are ports (traits) that adapters (`workflows-client`,
//! `aws-adapters`, `okta-api`) and tests implement. Ports speak the domain: a delivery ends in an
//! [`Outcome`], never an HTTP status.

pub mod auth;
pub mod backfill;
pub mod dead_letter;
pub mod dedup;
pub mod enrich;
pub mod envelope;
pub mod inbox;
mod java_map;
pub mod metrics;
pub mod pacing;
pub mod payload;
pub mod pipeline;
pub mod redrive;
pub mod routes;
pub mod tokens;

pub use dead_letter::DeadLetter;
pub use dedup::{Claim, Deduplicated, DeliveryKey, IdempotencyStore, StoreError};
pub use enrich::EnrichContext;
pub use envelope::BadInput;
pub use inbox::{
    BatchOutcome, BatchPorts, Enqueue, Inbox, InboxError, InboxMessage, Retry, RetrySettings,
    relay_batch,
};
pub use metrics::InvocationMetrics;
pub use pacing::Pacer;
pub use pipeline::{
    DeadLetterError, DeadLetterSink, Deliver, DeliveryReport, DeliveryRequest, Failure, Outcome,
    Routed, relay_invocation, route_event,
};
pub use routes::{
    Auth, LoadOptions, Route, RouteTable, RoutesError, RoutesSnapshot, RoutesSource,
    RoutesSourceError, TokenSource,
};

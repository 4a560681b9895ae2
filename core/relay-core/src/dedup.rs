//! De-duplication. Okta's stream is at-least-once (a duplicate carries the same `uuid`), Lambda
//! retries, and a backfill overlaps what the stream already sent. With an idempotency store, each
//! (event uuid, route) pair reaches its flow once for as long as the store remembers it.
//!
//! The protocol, per delivery: **claim** the key for a lease (a conditional write: only if nobody
//! delivered it and no live lease holds it), deliver, then **complete** (remembered for the
//! store's TTL) or **release** (so a Lambda retry or a redrive can claim it again). A holder that
//! dies mid-delivery leaves a lease that runs out; its retry claims again.
//!
//! When the store cannot be reached the delivery is made anyway: a duplicate is better than a
//! loss, so the guarantee degrades to the stream's own at-least-once, never below it.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;

use crate::pipeline::{Deliver, DeliveryReport, DeliveryRequest, Outcome};

/// Added to a delivery's budget for its lease, so the lease outlives the delivery that holds it.
pub const LEASE_MARGIN: Duration = Duration::from_secs(10);

/// One delivery: an event to a route. Route names cannot contain `#` (see `routes`), so the
/// key string is unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryKey<'a> {
    pub route: &'a str,
    pub uuid: &'a str,
}

impl std::fmt::Display for DeliveryKey<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}#{}", self.route, self.uuid)
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Nobody delivered it and nobody is delivering it: this caller does.
    Claimed,
    /// Delivered before, within the TTL.
    Delivered,
    /// Another invocation holds a live lease on it: that one delivers or dead-letters it.
    InFlight,
}

/// The idempotency store's port (DynamoDB in `aws-adapters`, in-memory in tests).
pub trait IdempotencyStore: Sync {
    fn claim(
        &self,
        key: DeliveryKey<'_>,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;
    /// Remembers the delivery as made, for the store's TTL.
    fn complete(&self, key: DeliveryKey<'_>)
    -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Gives the claim up after a failed delivery.
    fn release(&self, key: DeliveryKey<'_>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// No store (de-duplication off, the default): nothing is remembered, every delivery is made.
impl<S: IdempotencyStore> IdempotencyStore for Option<S> {
    async fn claim(&self, key: DeliveryKey<'_>, lease: Duration) -> Result<Claim, StoreError> {
        match self {
            Some(store) => store.claim(key, lease).await,
            None => Ok(Claim::Claimed),
        }
    }

    async fn complete(&self, key: DeliveryKey<'_>) -> Result<(), StoreError> {
        match self {
            Some(store) => store.complete(key).await,
            None => Ok(()),
        }
    }

    async fn release(&self, key: DeliveryKey<'_>) -> Result<(), StoreError> {
        match self {
            Some(store) => store.release(key).await,
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("idempotency store {store}: {reason}")]
pub struct StoreError {
    pub store: String,
    pub reason: String,
}

/// A [`Deliver`] that asks the store first and skips what was delivered before.
pub struct Deduplicated<D, S> {
    inner: D,
    store: S,
}

impl<D: Deliver, S: IdempotencyStore> Deduplicated<D, S> {
    pub fn new(inner: D, store: S) -> Self {
        Self { inner, store }
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<D: Deliver, S: IdempotencyStore> Deliver for Deduplicated<D, S> {
    async fn prepare(&self, route: &crate::routes::Route) {
        self.inner.prepare(route).await;
    }

    async fn deliver(&self, request: DeliveryRequest<'_>) -> DeliveryReport {
        let key = DeliveryKey {
            route: &request.route.name,
            uuid: request.uuid,
        };
        match self
            .store
            .claim(key, request.budget.saturating_add(LEASE_MARGIN))
            .await
        {
            Ok(Claim::Delivered | Claim::InFlight) => return DeliveryReport::already_delivered(),
            Ok(Claim::Claimed) => {}
            Err(error) => {
                tracing::warn!(outcome = "dedup_unavailable", key = %key, error = %error,
                    "delivering without de-duplication: a duplicate is better than a loss");
                return self.inner.deliver(request).await;
            }
        }
        let report = self.inner.deliver(request).await;
        let settled = if report.is_delivered() {
            self.store.complete(key).await
        } else {
            self.store.release(key).await
        };
        if let Err(error) = settled {
            // Delivered but not remembered: a later duplicate may get through. Failed but not
            // released: the lease runs out before a retry or redrive can come.
            tracing::warn!(outcome = "dedup_unsettled", key = %key, error = %error,
                "could not record the delivery's outcome in the idempotency store");
        }
        report
    }
}

impl DeliveryReport {
    /// What a skipped duplicate reports: no attempt.
    pub fn already_delivered() -> Self {
        let now = Utc::now();
        Self {
            outcome: Outcome::AlreadyDelivered,
            answer: None,
            attempts: 0,
            first_attempt_at: now,
            last_attempt_at: now,
            latency: Duration::ZERO,
        }
    }
}

//! What the in-memory delivery fakes of these tests answer.

use std::time::Duration;

use chrono::Utc;
use relay_core::{DeliveryReport, Failure, Outcome};

/// A report of one attempt, made just now: 200, or a retryable 503 when `failing`.
pub fn one_attempt(failing: bool) -> DeliveryReport {
    let now = Utc::now();
    let outcome = if failing {
        Outcome::GaveUp(Failure {
            reason: "HTTP 503".into(),
            last_status: Some(503),
            retry_after: None,
        })
    } else {
        Outcome::Delivered
    };
    DeliveryReport {
        outcome,
        answer: None,
        attempts: 1,
        first_attempt_at: now,
        last_attempt_at: now,
        latency: Duration::from_millis(1),
    }
}

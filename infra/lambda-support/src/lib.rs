//! What every okta-relay Lambda function sets up the same way: its environment read by one
//! reader ([`env`]), logs as Lambda's logging controls set them that never print secrets
//! ([`logs`]), named `errorType`s and the time left.

pub mod env;
pub mod logs;

pub use logs::{init_logs, invocation_span};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::timeout::TimeoutConfig;

/// The AWS SDK's configuration for every function: the Lambda environment's credentials and
/// region, and timeouts the SDK leaves unset by default (AWS SDK for Rust developer guide,
/// "Timeouts": no operation or attempt timeout unless configured). Without them a call that never answers
/// (a half-open connection) holds the invocation until the function's own timeout, and the
/// inbox's messages for the visibility timeout after it; with them the call is retried (the
/// SDK's standard mode: 3 attempts) and then fails with an error that names it. Generous, so that
/// a slow answer is never cut and sent again (a second `SendMessageBatch` is a duplicate).
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(20))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await
}

/// A failed invocation as Lambda reports it: `errorType` names what failed
/// (`RoutesUnavailable`, `NotACustomResourceRequest`, ...) instead of the type name of a boxed
/// error, so an operator can filter and alarm on it; `errorMessage` says what to do.
#[derive(Debug)]
pub struct InvocationError {
    pub error_type: &'static str,
    pub message: String,
}

impl InvocationError {
    pub fn new(error_type: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            error_type,
            message: message.to_string(),
        }
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        Self {
            error_type: error.error_type.to_owned(),
            error_message: error.message,
        }
    }
}

/// Time until Lambda's deadline (milliseconds since the epoch). Local emulators are not always
/// faithful here (cargo-lambda 1.9 sends `600000`, a duration); a deadline that cannot be a
/// timestamp of this century gets `unknown`, the function's timeout in template.yaml.
pub fn time_left(deadline_ms: u64, unknown: Duration) -> Duration {
    const YEAR_2020_MS: u64 = 1_577_836_800_000;
    if deadline_ms < YEAR_2020_MS {
        return unknown;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_millis(deadline_ms).saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_epoch_deadlines_and_falls_back_on_durations() {
        let fallback = Duration::from_secs(30);
        assert_eq!(time_left(600_000, fallback), fallback);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let left = time_left(now_ms + 10_000, fallback);
        assert!(
            left <= Duration::from_secs(10) && left > Duration::from_secs(9),
            "{left:?}"
        );
        assert_eq!(time_left(now_ms - 1_000, fallback), Duration::ZERO);
    }
}

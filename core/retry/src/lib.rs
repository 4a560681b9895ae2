//! The retry policy shared by every HTTP adapter (Workflows deliveries, the Okta Management API,
//! waiting for AWS resources): which failures are worth retrying, and when.
//!
//! Retryable: HTTP 408, 429, 5xx, timeouts and connection errors. Everything else in 4xx is the
//! server refusing this request, and retrying the same bytes cannot help.
//! Delays grow exponentially with full jitter (a random delay between zero and the exponential
//! cap, so many relays retrying at once spread out), a `Retry-After` from the server replaces the
//! computed delay, and nothing is attempted that could not finish inside the budget.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use chrono::{DateTime, Utc};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Cap of the first retry's random delay; doubles each retry.
    pub first_delay: Duration,
    /// Largest cap a delay can have.
    pub max_delay: Duration,
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// An attempt is only started if at least this much budget is left for it.
    pub min_attempt_time: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_attempts: 6,
            min_attempt_time: Duration::from_millis(250),
        }
    }
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptError {
    pub reason: String,
    pub status: Option<u16>,
    pub retryable: bool,
    /// What the server asked for in `Retry-After`.
    pub retry_after: Option<Duration>,
}

/// What an attempt may use: its number (1-based) and the time left in the budget.
#[derive(Debug, Clone, Copy)]
pub struct AttemptSlot {
    pub number: u32,
    pub time_left: Duration,
}

#[derive(Debug)]
pub struct Attempted<T> {
    pub result: Result<T, AttemptError>,
    pub attempts: u32,
}

/// Whether an HTTP status is worth retrying. Only meaningful for non-2xx statuses.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The longest `Retry-After` taken at its word. A longer one (a peer answering
/// `9223372036854775807`) is unusable and ignored: the computed backoff applies instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Reads a `Retry-After` value: delta-seconds or an HTTP date (RFC 9110, section 10.2.3).
/// `None` when it is neither, or asks for more than [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    let wait = if value.bytes().all(|byte| byte.is_ascii_digit()) && !value.is_empty() {
        // Digits too many for a u64 are as unusable as any other absurd value.
        Duration::from_secs(value.parse::<u64>().ok()?)
    } else {
        let date = DateTime::parse_from_rfc2822(value).ok()?;
        saturating_time::until(date.with_timezone(&Utc), now)
    };
    (wait <= MAX_RETRY_AFTER).then_some(wait)
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails permanently, runs out of attempts, or the next
    /// attempt could not finish within `budget`.
    pub async fn run<T, F, Fut>(&self, budget: Duration, attempt: F) -> Attempted<T>
    where
        F: Fn(AttemptSlot) -> Fut,
        Fut: Future<Output = Result<T, AttemptError>>,
    {
        let deadline = saturating_time::deadline(Instant::now(), budget);
        let attempts = AtomicU32::new(0);
        if budget < self.min_attempt_time {
            let reason = format!(
                "no time left for an attempt ({} ms of budget)",
                budget.as_millis()
            );
            let error = AttemptError {
                reason,
                status: None,
                retryable: true,
                retry_after: None,
            };
            return Attempted {
                result: Err(error),
                attempts: 0,
            };
        }
        let mut jitter = fastrand::Rng::new();
        let delays = ExponentialBuilder::default()
            .with_min_delay(self.first_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .build()
            .map(move |cap| cap.mul_f64(jitter.f64()));

        let result = (|| {
            let number = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            attempt(AttemptSlot {
                number,
                time_left: deadline.saturating_duration_since(Instant::now()),
            })
        })
        .retry(delays)
        .sleep(tokio::time::sleep)
        .when(|error: &AttemptError| error.retryable)
        .adjust(|error, delay| {
            let delay = error.retry_after.unwrap_or(delay?);
            saturating_time::fits(Instant::now(), delay, self.min_attempt_time, deadline)
                .then_some(delay)
        })
        .await;
        Attempted {
            result,
            attempts: attempts.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn retryable(retry_after: Option<Duration>) -> AttemptError {
        AttemptError {
            reason: "HTTP 503".into(),
            status: Some(503),
            retryable: true,
            retry_after,
        }
    }

    /// Runs the policy against an endpoint that fails `failures` times, recording when each attempt started.
    async fn run_against(
        policy: &RetryPolicy,
        budget: Duration,
        fail_with: impl Fn(u32) -> Option<AttemptError>,
    ) -> (Attempted<u32>, Vec<Duration>) {
        let start = Instant::now();
        let starts = Mutex::new(Vec::new());
        let attempted = policy
            .run(budget, |slot| {
                starts.lock().unwrap().push(start.elapsed());
                let outcome = fail_with(slot.number).map_or(Ok(slot.number), Err);
                async move { outcome }
            })
            .await;
        (attempted, starts.into_inner().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn retries_until_success_with_jittered_exponential_delays() {
        let policy = RetryPolicy::default();
        let (attempted, starts) = run_against(&policy, Duration::from_secs(60), |n| {
            (n < 5).then(|| retryable(None))
        })
        .await;
        assert_eq!((attempted.result.unwrap(), attempted.attempts), (5, 5));
        for (retry, pair) in starts.windows(2).enumerate() {
            let cap = policy.first_delay * 2u32.pow(retry as u32);
            assert!(
                pair[1] - pair[0] <= cap.min(policy.max_delay),
                "retry {retry} waited {:?}",
                pair[1] - pair[0]
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_max_attempts() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..Default::default()
        };
        let (attempted, _) =
            run_against(&policy, Duration::from_secs(60), |_| Some(retryable(None))).await;
        assert_eq!(attempted.attempts, 3);
        assert_eq!(attempted.result.unwrap_err().status, Some(503));
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failure_is_not_retried() {
        let permanent = AttemptError {
            reason: "HTTP 400".into(),
            status: Some(400),
            retryable: false,
            retry_after: None,
        };
        let (attempted, _) = run_against(&RetryPolicy::default(), Duration::from_secs(60), |_| {
            Some(permanent.clone())
        })
        .await;
        assert_eq!(attempted.attempts, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_exactly() {
        let policy = RetryPolicy::default();
        let wait = Duration::from_secs(3);
        let (attempted, starts) = run_against(&policy, Duration::from_secs(60), |n| {
            (n < 3).then(|| retryable(Some(wait)))
        })
        .await;
        assert_eq!(attempted.attempts, 3);
        assert_eq!(starts, [Duration::ZERO, wait, wait * 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_when_the_next_wait_would_overrun_the_budget() {
        let policy = RetryPolicy::default();
        let (attempted, starts) = run_against(&policy, Duration::from_secs(5), |_| {
            Some(retryable(Some(Duration::from_secs(10))))
        })
        .await;
        assert_eq!(
            attempted.attempts, 1,
            "a Retry-After beyond the budget ends retries at once"
        );
        assert_eq!(starts, [Duration::ZERO]);

        let policy = RetryPolicy {
            max_attempts: 1000,
            ..Default::default()
        };
        let budget = Duration::from_secs(8);
        let (attempted, starts) = run_against(&policy, budget, |_| Some(retryable(None))).await;
        assert!(attempted.attempts > 3, "{} attempts", attempted.attempts);
        let last = *starts.last().unwrap();
        assert!(
            last + policy.min_attempt_time <= budget,
            "last attempt started at {last:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_see_the_time_left() {
        let policy = RetryPolicy::default();
        let seen = Mutex::new(Vec::new());
        let _ = policy
            .run(Duration::from_secs(10), |slot| {
                seen.lock().unwrap().push(slot.time_left);
                async move {
                    if slot.number < 2 {
                        Err(retryable(Some(Duration::from_secs(4))))
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
        assert_eq!(
            *seen.lock().unwrap(),
            [Duration::from_secs(10), Duration::from_secs(6)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_budget_too_large_for_the_clock_is_no_panic() {
        let (attempted, _) = run_against(&RetryPolicy::default(), Duration::MAX, |n| {
            (n < 2).then(|| retryable(Some(Duration::MAX)))
        })
        .await;
        assert_eq!(attempted.attempts, 1, "an unrepresentable wait never fits");
    }

    #[tokio::test(start_paused = true)]
    async fn no_budget_means_no_attempt() {
        let (attempted, starts) =
            run_against(&RetryPolicy::default(), Duration::from_millis(10), |_| None).await;
        assert_eq!(attempted.attempts, 0);
        assert!(starts.is_empty());
        assert!(
            attempted
                .result
                .unwrap_err()
                .reason
                .contains("no time left")
        );
    }

    #[test]
    fn classifies_statuses() {
        for status in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 413, 422] {
            assert!(!is_retryable_status(status), "{status}");
        }
    }

    #[test]
    fn reads_retry_after_seconds_and_dates() {
        let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("9223372036854775807", now), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now), None);
        assert_eq!(
            parse_retry_after("86400", now),
            Some(Duration::from_secs(86400))
        );
        assert_eq!(parse_retry_after("86401", now), None);
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now),
            None
        );
    }
}

//! Time arithmetic on values that come from outside: Okta's timestamps (chrono accepts years
//! ±262,143), `Retry-After` and `X-Rate-Limit-Reset` headers, budgets typed on a command line.
//! `Instant + Duration` and `DateTime ± TimeDelta` panic on overflow; every okta-relay crate
//! goes through these functions instead, which saturate, so no outside value can crash a
//! function (clippy's `arithmetic_side_effects` cannot tell outside values from our own).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

/// How far ahead [`deadline`] looks when `start + span` cannot be represented: far beyond any
/// Lambda timeout or CLI run, close enough to stay representable on every platform.
pub const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `start + span`, or [`FAR_FUTURE`] from `start` when that overflows (`start` itself when even
/// that does).
pub fn deadline(start: Instant, span: Duration) -> Instant {
    start
        .checked_add(span)
        .or_else(|| start.checked_add(FAR_FUTURE))
        .unwrap_or(start)
}

/// Whether `wait` then `then` both fit before `deadline`, counted from `now`; false on overflow.
pub fn fits(now: Instant, wait: Duration, then: Duration, deadline: Instant) -> bool {
    wait.checked_add(then)
        .and_then(|total| now.checked_add(total))
        .is_some_and(|end| end <= deadline)
}

/// `time + delta`, clamped to chrono's representable range.
pub fn shift(time: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    time.checked_add_signed(delta)
        .unwrap_or(if delta < TimeDelta::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// How long from `now` until `target`; zero when it has passed.
pub fn until(target: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    // Both ends are within chrono's range, so the difference fits a TimeDelta.
    target
        .signed_duration_since(now)
        .to_std()
        .unwrap_or_default()
}

/// A std duration as a chrono delta, clamped to `TimeDelta::MAX`.
pub fn delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}

/// A Unix timestamp in seconds (an `X-Rate-Limit-Reset`), or `None` outside chrono's range.
pub fn from_unix_seconds(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_saturate() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        let far = deadline(now, Duration::MAX);
        assert!(far > now + Duration::from_secs(3600 * 24 * 365));
        assert!(!fits(now, Duration::MAX, Duration::from_secs(1), far));
        assert!(fits(
            now,
            Duration::from_secs(1),
            Duration::from_secs(1),
            now + Duration::from_secs(2)
        ));
    }

    #[test]
    fn dates_clamp_at_chronos_range() {
        let last: DateTime<Utc> = "+262142-12-31T23:59:59Z".parse().unwrap();
        assert_eq!(shift(last, TimeDelta::days(1000)), DateTime::<Utc>::MAX_UTC);
        let first: DateTime<Utc> = "-262143-01-01T00:00:30Z".parse().unwrap();
        assert_eq!(
            shift(first, TimeDelta::minutes(-1)),
            DateTime::<Utc>::MIN_UTC
        );
        assert!(until(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC) > Duration::ZERO);
        assert_eq!(until(first, last), Duration::ZERO);
        assert_eq!(delta(Duration::MAX), TimeDelta::MAX);
        assert_eq!(from_unix_seconds(i64::MAX), None);
    }
}

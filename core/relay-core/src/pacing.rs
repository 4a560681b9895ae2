//! Pacing: no flow ever sees more requests in one second than its route allows, however many
//! relay containers run.
//!
//! The mechanism is a **static share**: the event source mapping runs at most `containers`
//! invocations at once (`ScalingConfig.MaximumConcurrency`, passed to every container as
//! `MAX_CONCURRENCY`), so each container may start `n = floor(limit / containers)` requests per
//! second to a flow and spaces them `(1 + SLACK) / n` apart. Any 1-second window (sliding, not
//! only aligned to the clock) then holds at most `n` starts from one container, `containers · n ≤
//! limit` from all of them, with no shared state and no extra request per delivery. The price is
//! throughput lost to rounding (`limit 10, 3 containers` uses 9 of 10) and to the slack (5 %);
//! docs/RELAY.md compares it with a shared token bucket.
//!
//! The share holds while at most `containers` execution environments make requests, each
//! spacing its own: Lambda runs an invocation in an available warm environment and creates a
//! new one only when none is (AWS Lambda developer guide, "Understanding Lambda function
//! scaling"), and reserved concurrency (the template sets it to `containers` too) keeps the busy
//! ones to that many. Lambda also retires environments and starts new ones in their place: a
//! new environment's first request to a flow therefore waits one interval, so it never follows
//! the last request of the one it replaces by less. Holding every invocation until its last
//! start is an interval old would cover even more environments than that, but costs an idle
//! interval per invocation, a fifth to a quarter of a flow's throughput when the event source
//! mapping's own overhead is added (measured with the burst scenario); a new environment's
//! wait costs one interval per cold start.
//!
//! When the limit is below `containers` (`n = 0`), each container sends one request every
//! `containers / limit` seconds: the average stays under the limit, but up to `containers`
//! requests can meet in one second. A 429 then returns the work to the inbox like any other.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The longest an invocation waits for a paced slot. Work whose slot is further out goes back
/// to the inbox, delayed until about its turn: a Lambda container waiting costs more than the
/// requeue (128 MB for 1 s is $0.0000021 at list price; one SQS send plus its share of a batched
/// receive and delete about $0.0000005), and an invocation held on one slow-paced route would
/// hold every other route's events with it.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(1);

/// Spacing added on top of the exact share, so that timer wake-ups a little late and requests
/// a little slower on the wire cannot put `n + 1` starts in one second (50 ms per second).
pub const SLACK: f64 = 0.05;

/// One container's pacing of every route, kept across invocations (the container's next free
/// slot per route).
#[derive(Debug)]
pub struct Pacer {
    containers: u32,
    next_free: Mutex<HashMap<String, Instant>>,
    /// Per route, the last slot promised to work sent back to the inbox.
    promised: Mutex<HashMap<String, Instant>>,
}

impl Pacer {
    /// `containers`: the most relay containers running at once (at least 1).
    pub fn new(containers: u32) -> Self {
        Self {
            containers: containers.max(1),
            next_free: Mutex::default(),
            promised: Mutex::default(),
        }
    }

    pub fn containers(&self) -> u32 {
        self.containers
    }

    /// The gap between two request starts of this container to a flow limited to `limit` per
    /// second.
    pub fn interval(&self, limit: f64) -> Duration {
        let containers = f64::from(self.containers);
        let per_container = (limit / containers).floor();
        let seconds = if per_container >= 1.0 {
            (1.0 + SLACK) / per_container
        } else {
            (1.0 + SLACK) * containers / limit.max(f64::MIN_POSITIVE)
        };
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
    }

    /// Reserves the next start for `route` if it comes no later than `latest`; `None` leaves the
    /// schedule untouched (the work goes back to the inbox instead).
    pub fn reserve(
        &self,
        route: &str,
        limit: f64,
        now: Instant,
        latest: Instant,
    ) -> Option<Instant> {
        let interval = self.interval(limit);
        let mut next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        // A container's first request to a flow waits one interval: a new container may be
        // taking the place of one that has just stopped (see the module's documentation).
        let slot = next_free
            .get(route)
            .copied()
            .map_or(now.checked_add(interval).unwrap_or(now), |next| {
                next.max(now)
            });
        if slot > latest {
            return None;
        }
        next_free.insert(route.to_owned(), slot.checked_add(interval).unwrap_or(slot));
        Some(slot)
    }

    /// Records that the request reserved for `route` really started `at` (a timer wakes late
    /// under load): the next start is spaced from this one, never from the slot it missed, so
    /// late wake-ups cannot crowd the next second.
    pub fn started(&self, route: &str, limit: f64, at: Instant) {
        let interval = self.interval(limit);
        let mut next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
        let spaced = at.checked_add(interval).unwrap_or(at);
        let next = next_free.entry(route.to_owned()).or_insert(spaced);
        *next = (*next).max(spaced);
    }

    /// Promises work paced out of this invocation the container's next slot after every slot
    /// reserved or promised before, and answers how long it should stay in the inbox to come
    /// back then. Without the promise, each invocation's paced-out work would be told to come
    /// back at the same few slots and meet there, far more than the flow takes, to be paced out
    /// again; with it, the work comes back at the container's rate. (A slot is not kept for
    /// the work it was promised to: whatever comes first takes it, the rest is promised anew.)
    pub fn defer(&self, route: &str, limit: f64, now: Instant) -> Duration {
        let interval = self.interval(limit);
        let next_free = {
            let next_free = self.next_free.lock().unwrap_or_else(|e| e.into_inner());
            next_free
                .get(route)
                .copied()
                .map_or(now, |next| next.max(now))
        };
        let mut promised = self.promised.lock().unwrap_or_else(|e| e.into_inner());
        let slot = promised
            .get(route)
            .and_then(|last| last.checked_add(interval))
            .map_or(next_free, |after_last| after_last.max(next_free));
        promised.insert(route.to_owned(), slot);
        slot.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_start_pushes_the_next_slot_back() {
        let pacer = Pacer::new(2);
        let now = Instant::now();
        let latest = now + Duration::from_secs(60);
        let interval = pacer.interval(10.0);
        let first = pacer.reserve("flow", 10.0, now, latest).unwrap();
        assert_eq!(first, now + interval, "a new container waits one interval");
        // The timer woke 150 ms late.
        pacer.started("flow", 10.0, first + Duration::from_millis(150));
        let second = pacer.reserve("flow", 10.0, now, latest).unwrap();
        assert_eq!(second, first + Duration::from_millis(150) + interval);
        // On time: the slot stands.
        pacer.started("flow", 10.0, second);
        let third = pacer.reserve("flow", 10.0, now, latest).unwrap();
        assert_eq!(third, second + pacer.interval(10.0));
    }

    /// The most starts any sliding 1-second window holds.
    fn busiest_second(starts: &[Instant]) -> usize {
        starts
            .iter()
            .map(|first| {
                starts
                    .iter()
                    .filter(|start| {
                        **start >= *first && start.duration_since(*first) < Duration::from_secs(1)
                    })
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    fn schedule(pacer: &Pacer, limit: f64, count: usize) -> Vec<Instant> {
        let now = Instant::now();
        let latest = now + Duration::from_secs(3600);
        (0..count)
            .map(|_| pacer.reserve("flow", limit, now, latest).unwrap())
            .collect()
    }

    #[test]
    fn every_container_together_stays_under_the_limit_in_any_second() {
        for (limit, containers) in [
            (10.0, 1),
            (10.0, 2),
            (10.0, 3),
            (10.0, 10),
            (4.0, 2),
            (7.5, 2),
        ] {
            let pacers: Vec<Pacer> = (0..containers).map(|_| Pacer::new(containers)).collect();
            let mut starts: Vec<Instant> = pacers
                .iter()
                .flat_map(|pacer| schedule(pacer, limit, 50))
                .collect();
            starts.sort();
            // Every container starts at the same instant: the worst alignment there is.
            let busiest = busiest_second(&starts);
            assert!(
                busiest as f64 <= limit,
                "{busiest} starts in a second at limit {limit}, {containers} containers"
            );
            let per_container = (limit / f64::from(containers)).floor() as usize;
            assert_eq!(busiest, per_container * containers as usize);
        }
    }

    #[test]
    fn a_limit_below_the_containers_keeps_the_average() {
        let pacer = Pacer::new(4);
        assert_eq!(pacer.interval(2.0), Duration::from_millis(2100));
    }

    #[test]
    fn a_slot_past_the_deadline_is_not_reserved_and_costs_nothing() {
        let pacer = Pacer::new(1);
        let now = Instant::now();
        let latest = now + Duration::from_millis(360);
        let slots: Vec<_> = (0..4)
            .map(|_| pacer.reserve("flow", 10.0, now, latest))
            .collect();
        // 105 ms (a new container waits one interval), 210 ms, 315 ms; not 420 ms.
        assert_eq!(slots.iter().filter(|slot| slot.is_some()).count(), 3);
        // The fourth is promised the next free slot, and later ones a slot each after it.
        assert_eq!(pacer.defer("flow", 10.0, now), Duration::from_millis(420));
        assert_eq!(pacer.defer("flow", 10.0, now), Duration::from_millis(525));
        assert_eq!(pacer.defer("other", 10.0, now), Duration::ZERO);
    }

    #[test]
    fn promises_go_on_from_the_last_one_across_invocations() {
        let pacer = Pacer::new(1);
        let start = Instant::now();
        let interval = pacer.interval(10.0);
        let first: Vec<Duration> = (0..3).map(|_| pacer.defer("flow", 10.0, start)).collect();
        assert_eq!(first, [Duration::ZERO, interval, interval * 2]);
        // The next invocation, 150 ms later: its work comes back after what was promised.
        let later = start + Duration::from_millis(150);
        assert_eq!(
            pacer.defer("flow", 10.0, later),
            interval * 3 - Duration::from_millis(150)
        );
        // Long after every promise: at once.
        let idle = start + Duration::from_secs(60);
        assert_eq!(pacer.defer("flow", 10.0, idle), Duration::ZERO);
    }
}

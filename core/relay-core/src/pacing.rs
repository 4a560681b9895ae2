//! Pacing: no flow ever sees more requests in one second than its route allows, however many
//! relay containers run.
//!
//! The mechanism is a **static share**: the event source mapping runs at most `containers`
//! invocations at once (`ScalingConfig.MaximumConcurrency`, passed to every container as
//! `MAX_CONCURRENCY`), so each container may start `k = floor(limit / containers)` requests to a
//! flow in any window of `1 + SLACK` seconds. It keeps the times of its own recent starts and
//! gives the next request the first moment at which the last `k` window holds fewer than `k`
//! (a sliding-window log). Any 1-second window then holds at most `k` starts from one
//! container and `containers · k ≤ limit` from all of them, with no shared state and no extra
//! request per delivery. The price is throughput lost to rounding (`limit 10, 3 containers`
//! uses 9 of 10) and to the slack (5 %); docs/RELAY.md compares it with a shared token bucket.
//!
//! A window, not an even spacing: a container that was between invocations when its next start
//! was due (the event source mapping gathering the next batch, SQS's whole-second delays)
//! catches up at once within the window, where an even spacing would have lost that time for
//! good: measured with the burst scenario, even spacing drained a flow at 75-85 % of its limit.
//!
//! The share holds while at most `containers` execution environments make requests, each
//! keeping its own log: Lambda runs an invocation in an available warm environment and creates
//! a new one only when none is (AWS Lambda developer guide, "Understanding Lambda function
//! scaling"), and reserved concurrency (the template sets it to `containers` too) keeps the busy
//! ones to that many. Lambda also retires environments and starts new ones in their place: a
//! new environment therefore starts as if its share of the last window had just been used, so
//! its first request to a flow waits one window and never joins the last requests of the one
//! it replaces in the same second (one window per cold start and flow).
//!
//! When the limit is below `containers` (`k = 0`), each container starts one request per
//! `(1 + SLACK) · containers / limit` seconds: the average stays under the limit, but up to
//! `containers` requests can meet in one second. A 429 then returns the work to the inbox like
//! any other.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::inbox::MAX_DELAY;

/// The longest an invocation waits for a paced slot. Work whose slot is further out goes back
/// to the inbox, delayed until about its turn: a Lambda container waiting costs more than the
/// requeue (128 MB for 1 s is $0.0000021 at list price; one SQS send plus its share of a batched
/// receive and delete about $0.0000005), and an invocation held on one slow-paced route would
/// keep every other route's settled messages in flight with it. Three seconds: a new
/// container's first window and the next one fit in one invocation with time to spare, and work
/// that comes back [`COME_BACK_EARLY`] finds its slot within reach.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(3);

/// How long an invocation waits for paced slots when its batch filled the event source
/// mapping's `BatchSize`: the next window of each route's share, and a margin for late timers.
/// `BatchSize` is the most records Lambda hands one invocation (AWS Lambda developer guide,
/// "Lambda parameters for Amazon SQS event source mappings"; at most 10,000 for a standard
/// queue), so a full batch means more work is likely waiting in the inbox, for every route,
/// and the mapping runs
/// no more than `containers` invocations at once: holding one for a slow route's slots keeps
/// all of that out. Measured with the 6,000-event burst (two flows at 10 requests/s, one
/// batching 10 events): holding [`HOLD_AT_MOST`] whatever the batch, the batched flow drained in
/// 328 s, its own limit allowing 60 (docs/RELAY.md, "Pacing").
pub const HOLD_WHEN_FULL: Duration = Duration::from_millis(1250);

/// How long before its promised slot paced-out work becomes visible in the inbox again: the
/// event source mapping's gathering, its poll interval and SQS's whole-second delays (rounded
/// up) would otherwise make it miss the slot under load; the invocation that takes it waits for
/// the slot.
pub const COME_BACK_EARLY: Duration = Duration::from_secs(2);

/// The furthest slot [`Pacer::defer`] promises: work told to come back later than the inbox's
/// longest delay comes back at that delay instead, before its slot.
pub const PROMISE_HORIZON: Duration = MAX_DELAY.saturating_add(COME_BACK_EARLY);

/// Added to the 1-second window, so that requests a little slower on the wire than their
/// neighbours cannot put `k + 1` arrivals in one second (50 ms per second).
pub const SLACK: f64 = 0.05;

/// How many requests one container may start to a flow within one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Share {
    pub starts: usize,
    pub window: Duration,
}

/// One route's schedule in one container: starts made or reserved, and slots promised to work
/// sent back to the inbox. Both sorted.
#[derive(Debug, Default)]
struct Schedule {
    starts: Vec<Instant>,
    promised: Vec<Instant>,
}

/// The first moment at or after `now` when fewer than `share.starts` of the times in `taken`
/// and `also_taken` (each sorted) fall in the window before it: a window after the
/// `share.starts`-th latest of them. Walks the two from their ends, so a long list of promises
/// costs `share.starts` steps, not a merge.
fn next_slot(taken: &[Instant], also_taken: &[Instant], share: Share, now: Instant) -> Instant {
    let (mut a, mut b) = (taken.len(), also_taken.len());
    let mut kth_latest = None;
    for _ in 0..share.starts {
        let later_of_two = match (a.checked_sub(1), b.checked_sub(1)) {
            (Some(i), Some(j)) if taken[i] >= also_taken[j] => Some((taken[i], true)),
            (_, Some(j)) => Some((also_taken[j], false)),
            (Some(i), None) => Some((taken[i], true)),
            (None, None) => None,
        };
        let Some((time, from_taken)) = later_of_two else {
            return now;
        };
        if from_taken {
            a -= 1;
        } else {
            b -= 1;
        }
        kth_latest = Some(time);
    }
    kth_latest.map_or(now, |time| {
        time.checked_add(share.window).unwrap_or(now).max(now)
    })
}

fn insert_sorted(times: &mut Vec<Instant>, at: Instant) {
    let position = times.partition_point(|time| *time <= at);
    times.insert(position, at);
}

impl Schedule {
    /// Forgets what no future window can hold.
    fn forget_before(&mut self, now: Instant, window: Duration) {
        let Some(horizon) = now.checked_sub(window) else {
            return;
        };
        self.starts.retain(|start| *start > horizon);
        self.promised.retain(|slot| *slot > horizon);
    }
}

/// One container's pacing of every route, kept across invocations.
#[derive(Debug)]
pub struct Pacer {
    containers: u32,
    /// The event source mapping's `BatchSize`, when known.
    batch_size: Option<usize>,
    routes: Mutex<HashMap<String, Schedule>>,
}

impl Pacer {
    /// `containers`: the most relay containers running at once (at least 1).
    pub fn new(containers: u32) -> Self {
        Self {
            containers: containers.max(1),
            batch_size: None,
            routes: Mutex::default(),
        }
    }

    /// Knowing the batches the event source mapping hands out, an invocation whose batch is
    /// full waits for slots only [`HOLD_WHEN_FULL`].
    pub fn with_batch_size(self, batch_size: usize) -> Self {
        Self {
            batch_size: Some(batch_size.max(1)),
            ..self
        }
    }

    pub fn containers(&self) -> u32 {
        self.containers
    }

    /// How long an invocation of `received` messages may wait for paced slots: [`HOLD_AT_MOST`],
    /// or [`HOLD_WHEN_FULL`] when the batch is full and more work is likely waiting behind it.
    pub fn hold(&self, received: usize) -> Duration {
        match self.batch_size {
            Some(full) if received >= full => HOLD_WHEN_FULL,
            _ => HOLD_AT_MOST,
        }
    }

    /// This container's share of a flow limited to `limit` requests per second.
    pub fn share(&self, limit: f64) -> Share {
        let containers = f64::from(self.containers);
        let per_container = (limit / containers).floor();
        let (starts, seconds) = if per_container >= 1.0 {
            (per_container, 1.0 + SLACK)
        } else {
            (
                1.0,
                (1.0 + SLACK) * containers / limit.max(f64::MIN_POSITIVE),
            )
        };
        Share {
            // A float-to-int `as` saturates; limits are validated finite and positive.
            starts: starts as usize,
            window: Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX),
        }
    }

    fn with_schedule<T>(
        &self,
        route: &str,
        share: Share,
        now: Instant,
        act: impl FnOnce(&mut Schedule) -> T,
    ) -> T {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let schedule = routes.entry(route.to_owned()).or_insert_with(|| Schedule {
            // A new container acts as if its share of the window had just been used: it may be
            // taking the place of one that has just stopped (see the module's documentation).
            starts: vec![now; share.starts],
            promised: Vec::new(),
        });
        schedule.forget_before(now, share.window);
        act(schedule)
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
        let share = self.share(limit);
        self.with_schedule(route, share, now, |schedule| {
            let slot = next_slot(&schedule.starts, &[], share, now);
            if slot > latest {
                return None;
            }
            insert_sorted(&mut schedule.starts, slot);
            // The earliest promise that is due is kept by whatever takes this slot.
            if schedule
                .promised
                .first()
                .is_some_and(|first| *first <= slot)
            {
                schedule.promised.remove(0);
            }
            Some(slot)
        })
    }

    /// Records that the request reserved for `route` at `reserved` really started `at` (a timer
    /// wakes late under load): windows are counted from the real start, never from the slot it
    /// missed, so late wake-ups cannot crowd the next second.
    pub fn started(&self, route: &str, limit: f64, reserved: Instant, at: Instant) {
        let share = self.share(limit);
        self.with_schedule(route, share, at, |schedule| {
            if let Some(position) = schedule.starts.iter().position(|s| *s == reserved) {
                schedule.starts.remove(position);
            }
            insert_sorted(&mut schedule.starts, at.max(reserved));
        });
    }

    /// Promises work paced out of this invocation the container's next slot after every slot
    /// reserved or promised before, and answers how long until that slot. Without the promise,
    /// each invocation's paced-out work would be told to come back at the same few slots and
    /// meet there, far more than the flow takes, to be paced out again; with it, the work comes
    /// back at the container's rate. (A slot is not kept for the work it was promised to:
    /// whatever comes first takes it, the rest is promised anew.)
    ///
    /// A slot further than [`PROMISE_HORIZON`] is not promised: the inbox delays a message at
    /// most [`MAX_DELAY`], so the work comes back (and is paced anew) before that slot. Promised,
    /// it would keep a slot nobody comes for, and every later promise would move further out:
    /// measured with the 20,000-event burst, the unbatched flow sat idle with 9,615 messages
    /// delayed and none visible, its promises stretched beyond the slots it had free.
    pub fn defer(&self, route: &str, limit: f64, now: Instant) -> Duration {
        let share = self.share(limit);
        self.with_schedule(route, share, now, |schedule| {
            let slot = next_slot(&schedule.starts, &schedule.promised, share, now);
            let slot_in = slot.saturating_duration_since(now);
            if slot_in <= PROMISE_HORIZON {
                insert_sorted(&mut schedule.promised, slot);
            }
            slot_in
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(1050);

    #[test]
    fn only_a_full_batch_holds_less() {
        let pacer = Pacer::new(2);
        assert_eq!(pacer.hold(10_000), HOLD_AT_MOST, "batch size unknown");
        let pacer = pacer.with_batch_size(100);
        assert_eq!(pacer.hold(99), HOLD_AT_MOST);
        assert_eq!(pacer.hold(100), HOLD_WHEN_FULL);
        // the next window of a share starts within the shorter hold
        assert!(HOLD_WHEN_FULL > pacer.share(10.0).window);
    }

    #[test]
    fn a_share_is_the_limit_split_between_containers() {
        let share = |limit, containers| Pacer::new(containers).share(limit);
        assert_eq!(
            share(10.0, 1),
            Share {
                starts: 10,
                window: WINDOW
            }
        );
        assert_eq!(
            share(10.0, 3),
            Share {
                starts: 3,
                window: WINDOW
            }
        );
        assert_eq!(
            share(7.5, 2),
            Share {
                starts: 3,
                window: WINDOW
            }
        );
        // Below one a container: one start per 2.1 s each.
        assert_eq!(
            share(2.0, 4),
            Share {
                starts: 1,
                window: Duration::from_millis(2100)
            }
        );
    }

    #[test]
    fn work_that_comes_back_before_its_slot_is_promised_none() {
        // One a second, one container: a slot every 1.05 s.
        let pacer = Pacer::new(1);
        let now = Instant::now();
        let promised = (0..2000)
            .map(|_| pacer.defer("flow", 1.0, now))
            .take_while(|slot_in| *slot_in <= PROMISE_HORIZON)
            .count();
        // Slots at 1.05 s, 2.1 s, ... (a new container waits a window), up to 902 s.
        assert_eq!(promised, 859);
        // Beyond the horizon nothing more is promised: whatever is deferred later is told the
        // same slot, the first one no promise holds.
        let beyond = pacer.defer("flow", 1.0, now);
        assert!(beyond > PROMISE_HORIZON);
        assert_eq!(pacer.defer("flow", 1.0, now), beyond);
    }

    #[test]
    fn a_new_container_waits_one_window_then_starts_its_share_at_once() {
        let pacer = Pacer::new(2);
        let now = Instant::now();
        let latest = now + Duration::from_secs(60);
        let slots: Vec<Instant> = (0..5)
            .map(|_| pacer.reserve("flow", 4.0, now, latest).unwrap())
            .collect();
        assert_eq!(
            slots,
            [
                now + WINDOW,
                now + WINDOW,
                now + WINDOW * 2,
                now + WINDOW * 2,
                now + WINDOW * 3
            ]
        );
    }

    #[test]
    fn a_late_start_pushes_its_window_back() {
        let pacer = Pacer::new(10);
        let now = Instant::now();
        let latest = now + Duration::from_secs(60);
        let first = pacer.reserve("flow", 10.0, now, latest).unwrap();
        assert_eq!(first, now + WINDOW, "a new container waits one window");
        // The timer woke 150 ms late.
        let late = first + Duration::from_millis(150);
        pacer.started("flow", 10.0, first, late);
        let second = pacer.reserve("flow", 10.0, now, latest).unwrap();
        assert_eq!(second, late + WINDOW);
        // On time: the window counts from the slot.
        pacer.started("flow", 10.0, second, second);
        let third = pacer.reserve("flow", 10.0, now, latest).unwrap();
        assert_eq!(third, second + WINDOW);
    }

    #[test]
    fn time_spent_between_invocations_is_caught_up_within_the_window() {
        // 4 per window: 4 starts, then nothing for 0.6 s (the next batch being gathered); the
        // window that frees at 1.05 s still takes 4, where an even spacing would have lost
        // the 0.6 s.
        let pacer = Pacer::new(1);
        let start = Instant::now();
        let latest = start + Duration::from_secs(60);
        let first: Vec<Instant> = (0..4)
            .map(|_| pacer.reserve("flow", 4.0, start, latest).unwrap())
            .collect();
        assert!(first.iter().all(|slot| *slot == start + WINDOW));
        let after_gap = start + WINDOW + Duration::from_millis(600);
        let next: Vec<Instant> = (0..4)
            .map(|_| pacer.reserve("flow", 4.0, after_gap, latest).unwrap())
            .collect();
        assert!(
            next.iter().all(|slot| *slot == start + WINDOW * 2),
            "{next:?}"
        );
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

    /// `count` starts, reserved as soon as possible from `now` on.
    fn schedule(pacer: &Pacer, limit: f64, count: usize, now: Instant) -> Vec<Instant> {
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
            let now = Instant::now();
            let pacers: Vec<Pacer> = (0..containers).map(|_| Pacer::new(containers)).collect();
            // Every container starts at the same instant (the worst alignment there is), and
            // one of them again after a pause that ends mid-window.
            let mut starts: Vec<Instant> = pacers
                .iter()
                .flat_map(|pacer| schedule(pacer, limit, 50, now))
                .collect();
            let resumed = now + Duration::from_millis(60_300);
            starts.extend(schedule(&pacers[0], limit, 50, resumed));
            starts.sort();
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
    fn a_slot_past_the_deadline_is_not_reserved_and_costs_nothing() {
        let pacer = Pacer::new(5);
        let now = Instant::now();
        let latest = now + Duration::from_millis(1500);
        let slots: Vec<_> = (0..4)
            .map(|_| pacer.reserve("flow", 10.0, now, latest))
            .collect();
        // Two per window: 1.05 s twice (a new container waits one window), not 2.1 s.
        assert_eq!(slots.iter().filter(|slot| slot.is_some()).count(), 2);
        // The rest is promised the next free slots, two per window.
        let promised: Vec<Duration> = (0..3).map(|_| pacer.defer("flow", 10.0, now)).collect();
        assert_eq!(promised, [WINDOW * 2, WINDOW * 2, WINDOW * 3]);
        // Another route has a window of its own; a new one waits one window.
        assert_eq!(pacer.defer("other", 10.0, now), WINDOW);
    }

    #[test]
    fn promises_go_on_from_the_last_one_across_invocations() {
        let pacer = Pacer::new(1);
        let start = Instant::now();
        let first: Vec<Duration> = (0..11).map(|_| pacer.defer("flow", 10.0, start)).collect();
        assert!(first[..10].iter().all(|slot| *slot == WINDOW));
        assert_eq!(first[10], WINDOW * 2);
        // The next invocation, 150 ms later: its work comes after what was promised.
        let later = start + Duration::from_millis(150);
        assert_eq!(
            pacer.defer("flow", 10.0, later),
            WINDOW * 2 - Duration::from_millis(150)
        );
        // A reservation that takes a due slot keeps one promise; long after every promise, the
        // next is at once.
        let idle = start + Duration::from_secs(60);
        assert_eq!(pacer.defer("flow", 10.0, idle), Duration::ZERO);
    }
}

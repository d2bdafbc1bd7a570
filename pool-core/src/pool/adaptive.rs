//! The adaptive limit: how many connections may be handed out at once, moved between a
//! floor and `max_size` by the time successful work holds a connection.
//!
//! The rule is Vegas-style (TCP Vegas; Netflix concurrency-limits' `VegasLimit`), in
//! the gradient form: the no-load time is the least mean checkout-to-return time of a
//! window seen in the last one to two minutes, and over each window of work the ratio
//! `r = mean / no_load` says how much of the time was queueing in the server. Once a database is saturated its time per query
//! grows in proportion to the queries in flight (Little's law), so `limit / r` is the
//! concurrency it actually serves, and the limit goes straight there; with no queueing
//! (`r < 1.05`) it probes one higher, if callers waited for a slot in that window (a
//! limit the load does not reach is not grown); in between it holds. Vegas rather than
//! Gradient2 because a pool's work has a stable no-load time (the same queries against the same
//! server), which Vegas measures directly, while Gradient2's long-term average chases
//! whatever the limit last caused and needs a tuned smoothing to stop drifting up. A
//! probe that finds queueing is undone at once, and the next probe waits twice as many
//! windows (up to [`MAX_PROBE_WAIT`]), so a settled limit spends little time above the
//! knee. A real server's own spread is not queueing: the thresholds widen by a few
//! standard errors of the window's mean, and, in Vegas's way of counting in queries, a
//! limit comes down only when the queue it implies is above ¾ of a query and may probe
//! while it is below ½ (ratios alone cut a limit of 2 for a 25 % wobble).
//!
//! Latency is not the whole story: on a server whose time per query grows before its
//! throughput stops growing (a CPU-bound query on a few cores that the client shares),
//! the ratio reads queueing from the second query in flight on, and Vegas alone held
//! such a server at 1 or 2 connections for half the work a pool of 4 gets done. So each
//! window also measures the work it saw end per second, remembered per limit: a cut is
//! refused down to any limit known to have served less than 95 % of what this one
//! serves now, and where every lower limit served less the limit climbs on, one at a
//! time, while its last step raised the throughput by 5 % or more (a hill climb). On a
//! server that saturates the way Vegas assumes (time per query flat up to the knee, then
//! proportional), throughput is flat above the knee, so neither rule changes what Vegas
//! does there.
//!
//! Congestion that latency cannot show counts too: a connect that fails `Transient`
//! (PostgreSQL 53300 and MySQL 1040, "too many connections", are classified so) or
//! times out, and work that ends with a `Timeout`-class error, cut the limit by a tenth.
//!
//! The limit acts on the pool's one slot accounting (`Inner::set_slot_total`, which a
//! `resize` uses too), so it needs no second semaphore; `max_size` stays the hard cap
//! on connections. With the feature off nothing here runs: the checkout pays one
//! `Option` check.

use std::{
    sync::{Mutex, atomic::Ordering},
    time::Duration,
};

use tokio::time::Instant;

use super::inner::{Inner, lock};
use crate::Manager;

/// Above this ratio of mean to no-load time, work is queueing: the limit comes down.
const QUEUEING: f64 = 1.10;
/// Below it, there is room: the limit probes one higher.
const ROOM: f64 = 1.05;
/// The queue (queries waiting in the server, `limit × (1 − no_load / mean)`) below which
/// there is room whatever the ratio says, and the one above which it must also be for the
/// limit to come down: TCP Vegas's `alpha` and `beta`, in queries. At a small limit the
/// ratios alone would read a real server's spread (a few tens of percent between
/// windows on a busy host) as queueing that a limit of one or two cannot cause; at a
/// large one the ratios decide.
const ROOM_QUEUE: f64 = 0.5;
const QUEUEING_QUEUE: f64 = 0.75;
/// How many standard errors of a window's mean widen each threshold.
const ROOM_ERRORS: f64 = 3.0;
const QUEUEING_ERRORS: f64 = 4.0;
/// The fewest samples that close a window (more when the limit is higher: one per slot).
const MIN_WINDOW: usize = 8;
/// Windows between two probes, at most, after probes that found queueing.
const MAX_PROBE_WAIT: u32 = 64;
/// A cut the latency asks for is refused when the lower limit served less than this share
/// of the work the current limit serves now: on a server whose time per query grows
/// before its throughput stops growing (a CPU-bound query on a few cores shared with the
/// client), latency alone would hold the limit below the throughput's knee.
const KEEP_THROUGHPUT: f64 = 0.95;
/// Where a cut was refused, the limit climbs on while its last step raised the throughput
/// by at least this factor (a hill climb).
const CLIMB_GAIN: f64 = 1.05;
/// Weight of a new window in a limit's remembered throughput.
const RATE_WEIGHT: f64 = 0.5;
/// The span of a no-load epoch: the no-load time is the least of this epoch's and the
/// previous one's, so a server that became slower for good is learnt within two epochs.
/// Measured in time, not windows: a limit held just above the knee sees only slightly
/// queued windows, and forgetting after a few hundred of them (a second at 30 ms a
/// query) let each epoch take the last one's queueing for the new no-load time, so the
/// limit crept upwards.
const EPOCH: Duration = Duration::from_secs(60);

/// The limit's state; one per adaptive pool.
#[derive(Debug)]
pub(crate) struct Limiter {
    floor: usize,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    limit: usize,
    window_start: Instant,
    samples: usize,
    sum: Duration,
    /// Sum of squared seconds, for the window's spread.
    sum_squares: f64,
    /// Callers waited for a slot during the window: the limit, not the load, bounded
    /// the work, so a higher one may be tried.
    busy: bool,
    min_current: Option<Duration>,
    min_previous: Option<Duration>,
    epoch_start: Instant,
    /// Windows to let pass before the next probe.
    probe_wait: u32,
    waited: u32,
    /// The last change was a probe up.
    probing: bool,
    /// Work that ended since the window started (begun before it too): its throughput.
    ended: usize,
    /// The window is the first at a new limit: work begun under the old one ends in it,
    /// so its throughput is not this limit's.
    fresh: bool,
    /// Each limit's throughput (work ended per second, smoothed), by limit; 0: not seen.
    rates: Vec<f64>,
}

/// Why the limit moved, for the tracing event.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    Probe,
    Queueing,
    Congestion,
    Throughput,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Probe => "probe",
            Change::Queueing => "queueing",
            Change::Congestion => "congestion",
            Change::Throughput => "throughput",
        }
    }
}

impl Limiter {
    /// A limiter starting at `floor` (a cold pool earns its limit, as TCP's slow start
    /// does).
    pub(crate) fn new(floor: usize) -> Self {
        Limiter {
            floor,
            state: Mutex::new(State {
                limit: floor,
                window_start: Instant::now(),
                samples: 0,
                sum: Duration::ZERO,
                sum_squares: 0.0,
                busy: false,
                min_current: None,
                min_previous: None,
                epoch_start: Instant::now(),
                probe_wait: 0,
                waited: 0,
                probing: false,
                ended: 0,
                fresh: false,
                rates: Vec::new(),
            }),
        }
    }

    /// The limit within `max`.
    pub(crate) fn limit(&self, max: usize) -> usize {
        lock(&self.state).limit.min(max).max(self.floor.min(max))
    }

    /// A new `max_size`: the limit comes down to it (and stays there when it goes up
    /// again: a larger cap is room to earn, not a larger limit); `apply` sets the slot
    /// total under the limiter's lock.
    pub(crate) fn cap(&self, max: usize, apply: impl FnOnce(usize) -> usize) {
        let mut state = lock(&self.state);
        state.limit = state.limit.min(max).max(self.floor.min(max));
        apply(state.limit);
    }

    /// One piece of successful work held a connection from `started` to now; `busy`:
    /// a caller was waiting for a slot. When this sample closes a window that moves the
    /// limit, `apply` makes the new limit the slot total (under the limiter's lock, so
    /// two changes cannot land in the wrong order) and this returns the old total, the
    /// new limit and why.
    fn sample(
        &self,
        started: Instant,
        busy: bool,
        max: usize,
        apply: impl FnOnce(usize) -> usize,
    ) -> Option<(usize, usize, Change)> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        state.ended += 1;
        // Work begun before the window started ran under another limit.
        if started < state.window_start {
            return None;
        }
        let took = now.duration_since(started);
        state.samples += 1;
        state.sum += took;
        state.sum_squares += took.as_secs_f64() * took.as_secs_f64();
        state.busy |= busy;
        if state.samples < state.limit.max(MIN_WINDOW) {
            return None;
        }
        let mean = state.sum / state.samples as u32;
        let noise = state.relative_standard_error();
        let busy = state.busy;
        // Work ended per second over the window.
        let span = now.duration_since(state.window_start).as_secs_f64();
        let rate = (span > 0.0).then(|| state.ended as f64 / span);
        state.reset_window(now);
        // The least window mean, not the least sample: work is a mix of quick and slow
        // queries, and one quick sample would make every mixed window look queued.
        state.min_current = Some(state.min_current.map_or(mean, |m| m.min(mean)));
        if now.duration_since(state.epoch_start) >= EPOCH {
            state.min_previous = state.min_current.take();
            state.epoch_start = now;
        }
        let no_load = match (state.min_current, state.min_previous) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => mean,
        };
        let ratio = mean.as_secs_f64() / no_load.as_secs_f64().max(f64::MIN_POSITIVE);
        let limit = state.limit.min(max);
        // Queries waiting in the server, by Little's law.
        let queue = limit as f64 * (1.0 - 1.0 / ratio.max(1.0));
        // A window's mean is itself uncertain, and the no-load time is the least of many
        // such means, so biased low by a few standard errors: the thresholds widen by
        // that much, or a server's own spread would read as queueing.
        let queueing = ratio > QUEUEING + QUEUEING_ERRORS * noise && queue > QUEUEING_QUEUE;
        let room = ratio < ROOM + ROOM_ERRORS * noise || queue < ROOM_QUEUE;
        let fresh = std::mem::take(&mut state.fresh);
        if let Some(rate) = rate.filter(|_| !fresh) {
            state.remember_rate(limit, rate);
        }
        // What the server serves, by Little's law; at least one lower; but no lower than
        // a limit that served about as much work as this one does now.
        let cut = queueing.then(|| {
            let served = ((limit as f64 / ratio).round() as usize).min(limit.saturating_sub(1));
            match state.rate_at(limit) {
                Some(rate) => state.keeping_throughput(served, limit, rate),
                // Not measured yet at this limit: hold for a window that measures it,
                // where a lower limit's throughput is known to compare it with.
                None if (served.max(1)..limit).any(|lower| state.rate_at(lower).is_some()) => limit,
                None => served,
            }
        });
        // Latency says hold (or cut, refused), but the last step up raised the
        // throughput: climb on.
        let climb = !room && state.climbing(limit);
        let (next, change) = if let Some(target) = cut.filter(|&target| target < limit) {
            state.back_off();
            (target, Change::Queueing)
        } else if (room || climb) && busy {
            if state.probing {
                // The last probe found room: keep climbing.
                state.probe_wait = 0;
            }
            if state.waited >= state.probe_wait {
                state.waited = 0;
                state.probing = true;
                let why = if room {
                    Change::Probe
                } else {
                    Change::Throughput
                };
                (limit + 1, why)
            } else {
                state.waited += 1;
                state.probing = false;
                (limit, Change::Probe)
            }
        } else {
            // Queueing within bounds, or a limit the load does not reach (TCP's
            // congestion-window validation: a window not used is not grown).
            state.probing = false;
            (limit, Change::Probe)
        };
        let limit = state.set(next.clamp(self.floor.min(max), max))?;
        Some((apply(limit), limit, change))
    }

    /// Congestion latency cannot show: the limit drops by a tenth (at least one).
    fn congested(&self, max: usize, apply: impl FnOnce(usize) -> usize) -> Option<(usize, usize)> {
        let mut state = lock(&self.state);
        let limit = state.limit.min(max);
        let next = (limit - limit / 10).min(limit.saturating_sub(1));
        state.back_off();
        state.reset_window(Instant::now());
        let limit = state.set(next.clamp(self.floor.min(max), max))?;
        Some((apply(limit), limit))
    }
}

impl State {
    /// The window mean's standard error, as a share of the mean (0 for a window whose
    /// samples are all alike).
    fn relative_standard_error(&self) -> f64 {
        let n = self.samples as f64;
        let mean = self.sum.as_secs_f64() / n;
        if n < 2.0 || mean <= 0.0 {
            return 0.0;
        }
        let variance = (self.sum_squares / n - mean * mean).max(0.0);
        (variance / n).sqrt() / mean
    }

    fn remember_rate(&mut self, limit: usize, rate: f64) {
        if self.rates.len() <= limit {
            self.rates.resize(limit + 1, 0.0);
        }
        let remembered = &mut self.rates[limit];
        *remembered = if *remembered > 0.0 {
            *remembered + RATE_WEIGHT * (rate - *remembered)
        } else {
            rate
        };
    }

    fn rate_at(&self, limit: usize) -> Option<f64> {
        self.rates.get(limit).copied().filter(|rate| *rate > 0.0)
    }

    /// The least limit from `served` up to below `limit` that is not known to serve less
    /// than [`KEEP_THROUGHPUT`] of `rate`; `limit` when every one of them is.
    fn keeping_throughput(&self, served: usize, limit: usize, rate: f64) -> usize {
        (served.max(1)..limit)
            .find(|&lower| {
                self.rate_at(lower)
                    .is_none_or(|r| r >= KEEP_THROUGHPUT * rate)
            })
            .unwrap_or(limit)
    }

    /// The step up to `limit` raised the throughput by [`CLIMB_GAIN`] or more.
    fn climbing(&self, limit: usize) -> bool {
        match (
            self.rate_at(limit),
            limit.checked_sub(1).and_then(|l| self.rate_at(l)),
        ) {
            (Some(here), Some(below)) => here >= CLIMB_GAIN * below,
            _ => false,
        }
    }

    fn reset_window(&mut self, now: Instant) {
        self.ended = 0;
        self.window_start = now;
        self.samples = 0;
        self.sum = Duration::ZERO;
        self.sum_squares = 0.0;
        self.busy = false;
    }

    /// After queueing or congestion: a probe that caused it doubles the wait before the
    /// next one.
    fn back_off(&mut self) {
        if self.probing {
            self.probe_wait = (self.probe_wait.max(1) * 2).min(MAX_PROBE_WAIT);
        }
        self.probing = false;
        self.waited = 0;
    }

    fn set(&mut self, next: usize) -> Option<usize> {
        (next != self.limit).then(|| {
            self.limit = next;
            self.fresh = true;
            next
        })
    }
}

impl<M: Manager> Inner<M> {
    /// Work that held a connection since `started` ended well: a sample for the limit.
    /// Out of line: a fixed pool's return path (`Pooled::drop`) stays small.
    #[inline(never)]
    pub(crate) fn work_done(&self, started: Instant) {
        let busy = self.waiting.load(Ordering::Relaxed) > 0;
        if let Some(limiter) = &self.adaptive
            && let Some((from, to, change)) =
                limiter.sample(started, busy, self.max_size(), |limit| {
                    self.set_slot_total(limit)
                })
        {
            self.limit_moved(from, to, change);
        }
    }

    /// Congestion the latency cannot show (see the module doc).
    pub(crate) fn congestion(&self) {
        if let Some(limiter) = &self.adaptive
            && let Some((from, to)) =
                limiter.congested(self.max_size(), |limit| self.set_slot_total(limit))
        {
            self.limit_moved(from, to, Change::Congestion);
        }
    }

    fn limit_moved(&self, from: usize, to: usize, change: Change) {
        tracing::debug!(
            pool = %self.config.name,
            from,
            to,
            reason = change.as_str(),
            "pool limit changed"
        );
    }
}

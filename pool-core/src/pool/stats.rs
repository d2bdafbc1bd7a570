//! What a pool can tell about itself: a status snapshot and cumulative metrics.

use std::{
    sync::atomic::{AtomicU64, Ordering::Relaxed},
    time::Duration,
};

use super::event::Event;

/// A snapshot of the pool's connections. `idle + in_use == size <= max_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// The most connections the pool may hold.
    pub max_size: usize,
    /// How many connections may be handed out at once: `max_size`, or the adaptive
    /// limit (between its floor and `max_size`) when the pool has one.
    pub limit: usize,
    /// Connections open or being opened.
    pub size: usize,
    /// Connections waiting in the pool to be checked out.
    pub idle: usize,
    /// Connections that are not idle: checked out, being validated or being opened.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

/// Cumulative counters since the pool was built, and acquire-latency quantiles.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Connections opened.
    pub connections_created: u64,
    /// Connections closed because `has_broken` said so, the caller discarded them, or
    /// their operation was cancelled mid-flight.
    pub closed_broken: u64,
    /// Connections closed because validation failed or timed out.
    pub closed_invalid: u64,
    /// Connections closed after sitting idle longer than `idle_timeout`.
    pub closed_idle: u64,
    /// Connections closed after living longer than `max_lifetime`.
    pub closed_lifetime: u64,
    /// Connections closed by `close()` or a shrinking `resize()`.
    pub closed_pool: u64,
    /// Connections closed because a lifecycle hook (`before_acquire`, `after_release`)
    /// rejected them, failed or panicked, or a `retain` predicate said no.
    pub closed_hook: u64,
    /// Checkouts served at once from an idle connection or a free slot.
    pub checkouts_direct: u64,
    /// Checkouts that had to wait.
    pub checkouts_waited: u64,
    /// Checkouts that ran out of time.
    pub checkouts_timed_out: u64,
    /// Checkouts that waited longer than `slow_acquire_threshold`.
    pub slow_acquires: u64,
    /// Connect attempts that failed or timed out.
    pub connect_errors: u64,
    /// Connections held longer than the leak threshold.
    pub leaks: u64,
    /// Connections whose operation their caller cancelled, recovered and kept
    /// ([`Manager::recover`](crate::Manager::recover)) rather than closed.
    pub recovered: u64,
    /// How many connections may be handed out at once now (a gauge, as in
    /// [`Status::limit`]).
    pub limit: u64,
    /// How long successful checkouts took.
    pub acquire_latency: LatencyQuantiles,
}

/// Acquire-latency quantiles, each the upper bound of its histogram bucket
/// (buckets are a quarter of a power of two wide, so within 19 % of the truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LatencyQuantiles {
    /// Median (serialised as `p50_ms`, milliseconds).
    #[serde(rename = "p50_ms", serialize_with = "as_millis")]
    pub p50: Duration,
    /// 95th percentile (`p95_ms`).
    #[serde(rename = "p95_ms", serialize_with = "as_millis")]
    pub p95: Duration,
    /// 99th percentile (`p99_ms`).
    #[serde(rename = "p99_ms", serialize_with = "as_millis")]
    pub p99: Duration,
    /// The number of checkouts measured.
    pub count: u64,
}

/// Durations in JSON as fractional milliseconds, the unit dashboards read.
fn as_millis<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(rounded_millis(*duration))
}

/// `duration` in milliseconds, rounded to the microsecond: how reports print a latency
/// (`0.001`, not `0.0010240000000000002`; finer digits are below what a checkout or a
/// ping can be measured to).
pub fn rounded_millis(duration: Duration) -> f64 {
    let micros = duration.as_nanos().saturating_add(500) / 1000;
    // Exact below 2^53 µs (285 years); the division then yields the nearest f64 to the
    // three-decimal figure, which prints as exactly those decimals.
    micros as f64 / 1000.0
}

/// Why a connection was closed, for counters and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    Broken,
    Invalid,
    Idle,
    Lifetime,
    Pool,
    Hook,
}

impl CloseReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CloseReason::Broken => "broken",
            CloseReason::Invalid => "invalid",
            CloseReason::Idle => "idle",
            CloseReason::Lifetime => "lifetime",
            CloseReason::Pool => "closed",
            CloseReason::Hook => "hook",
        }
    }
}

/// The pool's own counters: plain atomics, read by `metrics()`, moved only by
/// [`Inner::record`](super::inner::Inner::record).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    created: AtomicU64,
    closed: [AtomicU64; 6],
    checkouts_direct: AtomicU64,
    checkouts_waited: AtomicU64,
    checkouts_timed_out: AtomicU64,
    slow_acquires: AtomicU64,
    connect_errors: AtomicU64,
    leaks: AtomicU64,
    recovered: AtomicU64,
    limit: AtomicU64,
    waited_latency: Histogram,
}

impl Counters {
    #[inline]
    pub(crate) fn record(&self, event: Event) {
        let counter = match event {
            Event::CheckoutDirect => &self.checkouts_direct,
            Event::CheckoutWaited(waited) => {
                self.waited_latency.record(waited);
                &self.checkouts_waited
            }
            Event::CheckoutTimedOut => &self.checkouts_timed_out,
            Event::SlowAcquire => &self.slow_acquires,
            Event::Created(_) => &self.created,
            Event::Closed(reason) => &self.closed[reason as usize],
            Event::ConnectError => &self.connect_errors,
            Event::Leak => &self.leaks,
            Event::Recovered => &self.recovered,
            Event::LimitChanged(limit) => {
                self.limit.store(limit as u64, Relaxed);
                return;
            }
            // How long checkouts hold their connection is for the facade only: `Metrics`
            // has no figure for it (its count is the checkouts').
            Event::Used(_) => return,
        };
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Metrics {
        let closed = |reason: CloseReason| self.closed[reason as usize].load(Relaxed);
        let direct = self.checkouts_direct.load(Relaxed);
        Metrics {
            connections_created: self.created.load(Relaxed),
            closed_broken: closed(CloseReason::Broken),
            closed_invalid: closed(CloseReason::Invalid),
            closed_idle: closed(CloseReason::Idle),
            closed_lifetime: closed(CloseReason::Lifetime),
            closed_pool: closed(CloseReason::Pool),
            closed_hook: closed(CloseReason::Hook),
            checkouts_direct: direct,
            checkouts_waited: self.checkouts_waited.load(Relaxed),
            checkouts_timed_out: self.checkouts_timed_out.load(Relaxed),
            slow_acquires: self.slow_acquires.load(Relaxed),
            connect_errors: self.connect_errors.load(Relaxed),
            leaks: self.leaks.load(Relaxed),
            recovered: self.recovered.load(Relaxed),
            limit: self.limit.load(Relaxed),
            // A direct checkout waits for nothing: it is counted in the lowest bucket
            // without reading the clock, which keeps the clock off the hot path.
            acquire_latency: self.waited_latency.quantiles(direct),
        }
    }
}

/// Sub-buckets per power of two.
const SUB_BUCKETS: usize = 4;
/// Powers of two of nanoseconds covered: up to 2^42 ns, about 73 minutes.
const POWERS: usize = 43;
const BUCKETS: usize = POWERS * SUB_BUCKETS;

/// A log-linear histogram of durations with lock-free recording.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Histogram {
    pub(crate) fn record(&self, duration: Duration) {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(nanos)].fetch_add(1, Relaxed);
    }

    /// Quantiles, counting `extra_zero` more observations in the lowest bucket.
    pub(crate) fn quantiles(&self, extra_zero: u64) -> LatencyQuantiles {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total = extra_zero + counts.iter().sum::<u64>();
        let quantile = |q: f64| -> Duration {
            if total == 0 {
                return Duration::ZERO;
            }
            // The rank of the q-quantile, 1-based: at least 1, at most total.
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = extra_zero;
            if seen >= rank {
                return Duration::from_nanos(upper_bound(0));
            }
            for (index, count) in counts.iter().enumerate() {
                seen += count;
                if seen >= rank {
                    return Duration::from_nanos(upper_bound(index));
                }
            }
            Duration::from_nanos(upper_bound(BUCKETS - 1))
        };
        LatencyQuantiles {
            p50: quantile(0.50),
            p95: quantile(0.95),
            p99: quantile(0.99),
            count: total,
        }
    }
}

/// Bucket 0 holds everything under 1 µs; above that, each power of two of
/// nanoseconds is split into `SUB_BUCKETS` equal parts.
fn bucket_of(nanos: u64) -> usize {
    const FLOOR_POWER: u32 = 10; // 1024 ns
    if nanos < (1 << FLOOR_POWER) {
        return 0;
    }
    let power = 63 - nanos.leading_zeros(); // >= FLOOR_POWER
    let sub = ((nanos >> (power - 2)) & 0b11) as usize;
    let index = (power - FLOOR_POWER) as usize * SUB_BUCKETS + sub + 1;
    index.min(BUCKETS - 1)
}

fn upper_bound(index: usize) -> u64 {
    const FLOOR_POWER: usize = 10;
    if index == 0 {
        return 1 << FLOOR_POWER;
    }
    let power = (index - 1) / SUB_BUCKETS + FLOOR_POWER;
    let sub = ((index - 1) % SUB_BUCKETS) as u64;
    let base = 1u64 << power;
    base + (sub + 1) * (base / SUB_BUCKETS as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bound_their_values() {
        for nanos in [
            0,
            1,
            1023,
            1024,
            1500,
            2047,
            2048,
            1_000_000,
            123_456_789,
            1 << 41,
        ] {
            let bucket = bucket_of(nanos);
            assert!(nanos < upper_bound(bucket), "{nanos} in bucket {bucket}");
            if bucket > 0 {
                assert!(
                    nanos >= upper_bound(bucket - 1),
                    "{nanos} in bucket {bucket}"
                );
            }
        }
    }

    #[test]
    fn latencies_print_in_milliseconds_to_three_decimals() {
        let json = |nanos: u64| {
            let q = LatencyQuantiles {
                p50: Duration::from_nanos(nanos),
                p95: Duration::ZERO,
                p99: Duration::ZERO,
                count: 1,
            };
            serde_json::to_value(q).unwrap()["p50_ms"].to_string()
        };
        assert_eq!(json(1024), "0.001");
        assert_eq!(json(1_499), "0.001");
        assert_eq!(json(1_500), "0.002");
        assert_eq!(json(12_345_678), "12.346");
        assert_eq!(json(2_000_000_000), "2000.0");
        assert_eq!(json(0), "0.0");
        assert_eq!(rounded_millis(Duration::from_micros(445_090)), 445.09);
    }

    #[test]
    fn quantiles_follow_the_distribution() {
        let histogram = Histogram::default();
        for _ in 0..90 {
            histogram.record(Duration::from_micros(10));
        }
        for _ in 0..10 {
            histogram.record(Duration::from_millis(10));
        }
        let q = histogram.quantiles(0);
        assert_eq!(q.count, 100);
        assert!(q.p50 >= Duration::from_micros(10) && q.p50 < Duration::from_micros(13));
        assert!(q.p95 >= Duration::from_millis(10) && q.p95 < Duration::from_millis(13));
        // 900 direct checkouts below 1 µs, 90 at 10 µs, 10 at 10 ms.
        let with_direct = histogram.quantiles(900);
        assert_eq!(with_direct.count, 1000);
        assert_eq!(with_direct.p50, Duration::from_nanos(1024));
        assert!(with_direct.p95 >= Duration::from_micros(10));
        assert!(with_direct.p99 < Duration::from_millis(10));
    }
}

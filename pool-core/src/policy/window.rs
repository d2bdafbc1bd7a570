//! Sliding windows of call outcomes for the circuit breaker: count-based (the last N calls)
//! and time-based (the calls of the last N seconds). Both record with a few atomic
//! operations, no lock and no allocation.
//!
//! Concurrent records racing with a reset (a state transition) or a time bucket rolling
//! over may be attributed to the old or the new period: the counts are exact when calls do
//! not race with those moments, and off by at most the racing calls when they do.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// What the breaker's sliding window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The outcomes of the last `n` calls.
    Count(u32),
    /// The outcomes of the calls that ended in the last `n` seconds (one bucket per second).
    Time(u32),
}

/// One call's outcome as the window sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) failure: bool,
    pub(crate) slow: bool,
}

/// The totals over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

const PRESENT: u8 = 1;
const FAILURE: u8 = 2;
const SLOW: u8 = 4;

#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(kind: SlidingWindow) -> Self {
        match kind {
            SlidingWindow::Count(n) => Window::Count(CountWindow::new(n)),
            SlidingWindow::Time(n) => Window::Time(TimeWindow::new(n)),
        }
    }

    /// Records one outcome at `now_ns` (nanoseconds on the breaker's clock).
    #[inline]
    pub(crate) fn record(&self, outcome: Outcome, now_ns: u64) {
        match self {
            Window::Count(w) => w.record(outcome),
            Window::Time(w) => w.record(outcome, now_ns),
        }
    }

    pub(crate) fn totals(&self, now_ns: u64) -> Totals {
        match self {
            Window::Count(w) => w.totals(),
            Window::Time(w) => w.totals(now_ns),
        }
    }

    pub(crate) fn reset(&self) {
        match self {
            Window::Count(w) => w.reset(),
            Window::Time(w) => w.reset(),
        }
    }
}

/// A ring of the last `n` outcomes, with running totals.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    /// `u64::MAX / len + 1`: turns `head % len` into two multiplications (Lemire's fastmod).
    fastmod: u64,
    head: AtomicU32,
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl CountWindow {
    fn new(n: u32) -> Self {
        let n = n.max(1);
        CountWindow {
            slots: (0..n).map(|_| AtomicU8::new(0)).collect(),
            fastmod: (u64::MAX / u64::from(n)).wrapping_add(1),
            head: AtomicU32::new(0),
            calls: AtomicI64::new(0),
            failures: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    #[inline]
    fn record(&self, outcome: Outcome) {
        let bits = PRESENT
            | if outcome.failure { FAILURE } else { 0 }
            | if outcome.slow { SLOW } else { 0 };
        // The ring position wraps at 2^32 calls: one slot is then overwritten early, once.
        let head = self.head.fetch_add(1, Ordering::Relaxed);
        let lowbits = self.fastmod.wrapping_mul(u64::from(head));
        let index = ((u128::from(lowbits) * self.slots.len() as u128) >> 64) as usize;
        // In bounds: index < slots.len().
        let old = self.slots[index].swap(bits, Ordering::AcqRel);
        if old == bits {
            // The steady state of a healthy breaker: a success replaces a success.
            return;
        }
        adjust(&self.calls, old & PRESENT, bits & PRESENT);
        adjust(&self.failures, old & FAILURE, bits & FAILURE);
        adjust(&self.slow, old & SLOW, bits & SLOW);
    }

    fn totals(&self) -> Totals {
        Totals {
            calls: load(&self.calls),
            failures: load(&self.failures),
            slow: load(&self.slow),
        }
    }

    fn reset(&self) {
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Release);
        }
        self.calls.store(0, Ordering::Release);
        self.failures.store(0, Ordering::Release);
        self.slow.store(0, Ordering::Release);
    }
}

#[inline]
fn adjust(counter: &AtomicI64, old: u8, new: u8) {
    match (old != 0, new != 0) {
        (false, true) => {
            counter.fetch_add(1, Ordering::AcqRel);
        }
        (true, false) => {
            counter.fetch_sub(1, Ordering::AcqRel);
        }
        _ => {}
    }
}

fn load(counter: &AtomicI64) -> u64 {
    u64::try_from(counter.load(Ordering::Acquire)).unwrap_or(0)
}

/// One second of outcomes.
#[derive(Debug)]
struct Bucket {
    /// The second this bucket holds, plus one (0: never used).
    epoch: AtomicU64,
    calls: AtomicI64,
    failures: AtomicI64,
    slow: AtomicI64,
}

/// `n` one-second buckets; a bucket is reused when its second has left the window.
#[derive(Debug)]
pub(crate) struct TimeWindow {
    buckets: Box<[Bucket]>,
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

impl TimeWindow {
    fn new(seconds: u32) -> Self {
        let n = seconds.max(1) as usize;
        TimeWindow {
            buckets: (0..n)
                .map(|_| Bucket {
                    epoch: AtomicU64::new(0),
                    calls: AtomicI64::new(0),
                    failures: AtomicI64::new(0),
                    slow: AtomicI64::new(0),
                })
                .collect(),
        }
    }

    fn record(&self, outcome: Outcome, now_ns: u64) {
        let second = now_ns / NANOS_PER_SEC;
        let epoch = second + 1;
        // In bounds: the remainder is < buckets.len().
        let bucket = &self.buckets[(second % self.buckets.len() as u64) as usize];
        let seen = bucket.epoch.load(Ordering::Acquire);
        if seen != epoch
            && seen < epoch
            && bucket
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            bucket.calls.store(0, Ordering::Release);
            bucket.failures.store(0, Ordering::Release);
            bucket.slow.store(0, Ordering::Release);
        }
        bucket.calls.fetch_add(1, Ordering::AcqRel);
        if outcome.failure {
            bucket.failures.fetch_add(1, Ordering::AcqRel);
        }
        if outcome.slow {
            bucket.slow.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn totals(&self, now_ns: u64) -> Totals {
        let epoch = now_ns / NANOS_PER_SEC + 1;
        let n = self.buckets.len() as u64;
        let mut totals = Totals::default();
        for bucket in self.buckets.iter() {
            let e = bucket.epoch.load(Ordering::Acquire);
            if e != 0 && e <= epoch && epoch - e < n {
                totals.calls += load(&bucket.calls);
                totals.failures += load(&bucket.failures);
                totals.slow += load(&bucket.slow);
            }
        }
        totals
    }

    fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.epoch.store(0, Ordering::Release);
            bucket.calls.store(0, Ordering::Release);
            bucket.failures.store(0, Ordering::Release);
            bucket.slow.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Outcome = Outcome {
        failure: false,
        slow: false,
    };
    const FAIL: Outcome = Outcome {
        failure: true,
        slow: false,
    };
    const SLOW_OK: Outcome = Outcome {
        failure: false,
        slow: true,
    };

    #[test]
    fn count_window_keeps_only_the_last_n_outcomes() {
        let w = Window::new(SlidingWindow::Count(3));
        w.record(FAIL, 0);
        w.record(FAIL, 0);
        w.record(SLOW_OK, 0);
        assert_eq!(
            w.totals(0),
            Totals {
                calls: 3,
                failures: 2,
                slow: 1
            }
        );
        w.record(OK, 0);
        w.record(OK, 0);
        w.record(OK, 0);
        assert_eq!(
            w.totals(0),
            Totals {
                calls: 3,
                failures: 0,
                slow: 0
            }
        );
        w.reset();
        assert_eq!(w.totals(0), Totals::default());
    }

    #[test]
    fn count_window_ring_position_is_exact() {
        for n in [1u32, 3, 7, 100, 1000] {
            let w = CountWindow::new(n);
            for head in (0..5000u32).chain(u32::MAX - 100..=u32::MAX) {
                let low = w.fastmod.wrapping_mul(u64::from(head));
                let index = ((u128::from(low) * u128::from(n)) >> 64) as u32;
                assert_eq!(index, head % n, "n = {n}, head = {head}");
            }
        }
    }

    #[test]
    fn time_window_forgets_seconds_that_left_it() {
        let s = NANOS_PER_SEC;
        let w = Window::new(SlidingWindow::Time(2));
        w.record(FAIL, 0);
        w.record(OK, s / 2);
        w.record(FAIL, s + 1);
        assert_eq!(
            w.totals(s + 1),
            Totals {
                calls: 3,
                failures: 2,
                slow: 0
            }
        );
        // At 2 s the first second has left a two-second window.
        assert_eq!(w.totals(2 * s).calls, 1);
        // Its bucket is reused for second 2.
        w.record(SLOW_OK, 2 * s);
        assert_eq!(
            w.totals(2 * s),
            Totals {
                calls: 2,
                failures: 1,
                slow: 1
            }
        );
        assert_eq!(w.totals(10 * s), Totals::default());
    }
}

//! The slow-call report, emitted from one place for both doors that time a call: a
//! `#[resilient]` attempt (the attempt loop) and a `#[pooled]` call on its own
//! (`Pooled::finish`).

use std::time::Duration;

use crate::names;

/// Counts a call slower than its threshold in `pool_slow_calls_total{function}` and
/// warns under the `pool_core::slow` target.
///
/// The counter is looked up per report rather than held: reports are rare (each follows
/// a call of a second or more by default), and holding none keeps the fast path free.
#[cold]
pub(crate) fn report(function: &'static str, elapsed: Duration, threshold: Duration) {
    metrics::counter!(names::SLOW_CALLS, "function" => function).increment(1);
    tracing::warn!(
        target: "pool_core::slow",
        function,
        elapsed = ?elapsed,
        threshold = ?threshold,
        "slow call: {function} took {elapsed:?}"
    );
}

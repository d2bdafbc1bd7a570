//! Every metric this crate reports through the [`metrics`](https://docs.rs/metrics) facade, by name: the pool's,
//! the policies' and the slow-call report. Names are stable; dashboards and alerts can
//! refer to these constants.
//!
//! Handles are registered when their owner is built (a pool by its builder, a call
//! site's policy on its first call, a breaker when it is defined), so install the
//! recorder before building pools and before the first call of a `#[resilient]` function.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `pool_checkouts_total` | counter | `pool`, `outcome` (`direct`, `waited`, `timed_out`) | checkouts |
//! | `pool_acquire_duration_seconds` | histogram | `pool` | time of checkouts that waited (buckets: [`ACQUIRE_SECONDS_BUCKETS`]) |
//! | `pool_slow_acquires_total` | counter | `pool` | checkouts slower than `slow_acquire_threshold` |
//! | `pool_connections_created_total` | counter | `pool` | connections opened |
//! | `pool_connections_closed_total` | counter | `pool`, `reason` (`broken`, `invalid`, `idle`, `lifetime`, `closed`, `hook`) | connections closed |
//! | `pool_connect_errors_total` | counter | `pool` | failed or timed-out connects, the eager start's included |
//! | `pool_leaks_total` | counter | `pool` | connections held past `leak_threshold` |
//! | `pool_connections_recovered_total` | counter | `pool` | connections whose operation the caller cancelled, recovered and kept rather than closed |
//! | `pool_connections` | gauge | `pool`, `state` (`idle`, `in_use`) | connections now |
//! | `pool_waiting` | gauge | `pool` | callers waiting |
//! | `pool_max_size` | gauge | `pool` | the hard cap on connections |
//! | `pool_limit` | gauge | `pool` | connections that may be handed out at once: `max_size`, or the adaptive limit |
//! | `pool_host_connections` | gauge | `pool`, `host` (`host:port` of a multi-host URL) | connections open to each host, idle or in use (pool-sqlx, multi-host URLs only) |
//! | `pool_calls_total` | counter | `function`, `outcome` (`ok`, `error`, `rejected`) | calls ended (not attempts); `rejected`: stopped by a policy before running |
//! | `pool_retries_total` | counter | `function` | retries started |
//! | `pool_slow_calls_total` | counter | `function` | attempts (`#[resilient]`) or `#[pooled]` calls slower than the slow-call threshold (site's, else process-wide, 1 s) |
//! | `pool_rejections_total` | counter | `function`, `reason` ([`Rejected::reason`](crate::Rejected::reason): `breaker_open`, `timeout`, `deadline_exceeded`, `bulkhead_full`, `budget_exhausted`, `breaker_not_declared`, `breaker_invalid`) | policy rejections; `timeout` counts each timed-out attempt, `budget_exhausted` each retry refused |
//! | `pool_breaker_state` | gauge | `breaker` | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled |
//! | `pool_breaker_transitions_total` | counter | `breaker`, `from`, `to` (`closed`, `open`, `half_open`, `forced_open`, `disabled`) | state changes |
//!
//! `Pool::metrics()` gives the pool's counters in-process; each moves with its facade
//! counter, both updated by the pool's one event recorder.

/// Checkouts, by `outcome`.
pub const CHECKOUTS: &str = "pool_checkouts_total";
/// How long checkouts that waited took, in seconds.
pub const ACQUIRE_SECONDS: &str = "pool_acquire_duration_seconds";
/// Checkouts slower than the pool's `slow_acquire_threshold`.
pub const SLOW_ACQUIRES: &str = "pool_slow_acquires_total";
/// Connections opened.
pub const CREATED: &str = "pool_connections_created_total";
/// Connections closed, by `reason`.
pub const CLOSED: &str = "pool_connections_closed_total";
/// Connect attempts that failed or timed out.
pub const CONNECT_ERRORS: &str = "pool_connect_errors_total";
/// Connections held past the leak threshold.
pub const LEAKS: &str = "pool_leaks_total";
/// Connections whose cancelled operation was recovered, kept rather than closed.
pub const RECOVERED: &str = "pool_connections_recovered_total";
/// Connections now, by `state`.
pub const CONNECTIONS: &str = "pool_connections";
/// Callers waiting for a connection now.
pub const WAITING: &str = "pool_waiting";
/// The pool's current `max_size`.
pub const MAX_SIZE: &str = "pool_max_size";
/// How many connections may be handed out at once now.
pub const LIMIT: &str = "pool_limit";
/// Connections open to each host of a multi-host URL now, by `host` (set by pool-sqlx).
pub const HOST_CONNECTIONS: &str = "pool_host_connections";
/// Calls of a policy's call site ended, by `outcome`.
pub const CALLS: &str = "pool_calls_total";
/// Retries started.
pub const RETRIES: &str = "pool_retries_total";
/// Calls slower than the slow-call threshold.
pub const SLOW_CALLS: &str = "pool_slow_calls_total";
/// Policy rejections, by `reason`.
pub const REJECTIONS: &str = "pool_rejections_total";
/// A breaker's state as a number.
pub const BREAKER_STATE: &str = "pool_breaker_state";
/// A breaker's state changes, by `from` and `to`.
pub const BREAKER_TRANSITIONS: &str = "pool_breaker_transitions_total";

/// Every name above, for checks that a table lists them all.
pub const ALL: [&str; 19] = [
    CHECKOUTS,
    ACQUIRE_SECONDS,
    SLOW_ACQUIRES,
    CREATED,
    CLOSED,
    CONNECT_ERRORS,
    LEAKS,
    RECOVERED,
    CONNECTIONS,
    WAITING,
    MAX_SIZE,
    LIMIT,
    HOST_CONNECTIONS,
    CALLS,
    RETRIES,
    SLOW_CALLS,
    REJECTIONS,
    BREAKER_STATE,
    BREAKER_TRANSITIONS,
];

/// Upper bounds, in seconds, of the buckets `pool_acquire_duration_seconds` is meant to
/// be exported with: 100 µs to 30 s in 1-2.5-5 steps. The same bounds on every instance
/// let Prometheus add the buckets up across instances (`histogram_quantile` over
/// `sum by (le)`), which per-instance summaries cannot do. With
/// `metrics-exporter-prometheus`:
/// `PrometheusBuilder::new().set_buckets_for_metric(Matcher::Full(names::ACQUIRE_SECONDS.into()), &ACQUIRE_SECONDS_BUCKETS)`.
pub const ACQUIRE_SECONDS_BUCKETS: [f64; 17] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The backticked `pool_*` names in the tables of `text`.
    fn names_in_tables(text: &str) -> Vec<&str> {
        text.lines()
            .filter(|line| {
                line.trim_start_matches("//!")
                    .trim_start()
                    .starts_with("| `pool_")
            })
            .filter_map(|line| line.split('`').nth(1))
            .collect()
    }

    fn section<'a>(text: &'a str, heading: &str) -> &'a str {
        let start = text.find(heading).unwrap_or(text.len());
        let rest = &text[start..];
        let end = rest[heading.len()..]
            .find("\n## ")
            .map_or(rest.len(), |end| end + heading.len());
        &rest[..end]
    }

    #[test]
    fn readme_metrics_section_lists_exactly_these_names() {
        let readme = section(include_str!("../../README.md"), "## Metrics");
        let listed = names_in_tables(readme);
        for name in ALL {
            assert!(
                listed.contains(&name),
                "README.md \"## Metrics\" does not list `{name}`"
            );
        }
        for name in &listed {
            assert!(
                ALL.contains(name),
                "README.md \"## Metrics\" lists `{name}`, which pool_core::names does not define"
            );
        }
        assert_eq!(listed.len(), ALL.len(), "README lists a name twice");
    }

    #[test]
    fn this_modules_table_lists_exactly_these_names() {
        let source = include_str!("names.rs");
        let listed = names_in_tables(source);
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        let mut all = ALL.to_vec();
        all.sort_unstable();
        assert_eq!(sorted, all);
    }

    #[test]
    fn every_constant_is_in_all() {
        let source = include_str!("names.rs");
        let defined: Vec<&str> = source
            .lines()
            .filter(|line| line.starts_with("pub const ") && line.contains(": &str = \""))
            .filter_map(|line| line.split('"').nth(1))
            .collect();
        assert_eq!(defined, ALL.to_vec());
    }

    #[test]
    fn acquire_buckets_rise_from_100_us_to_30_s() {
        assert_eq!(ACQUIRE_SECONDS_BUCKETS.first(), Some(&0.000_1));
        assert_eq!(ACQUIRE_SECONDS_BUCKETS.last(), Some(&30.0));
        assert!(ACQUIRE_SECONDS_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}

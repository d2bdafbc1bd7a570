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
//! Which names a pool's own metrics go by is chosen per pool ([`MetricNames`]:
//! [`PoolBuilder::metric_names`](crate::PoolBuilder::metric_names), or a URL's
//! `metric_names=opentelemetry`). Under [`MetricNames::Pool`], the default, it is the
//! table above. Under [`MetricNames::OpenTelemetry`], the figures that OpenTelemetry's
//! [database-client semantic conventions](https://opentelemetry.io/docs/specs/semconv/database/database-metrics/)
//! name take those names, attribute `db.client.connection.pool.name` in place of `pool`,
//! in place of `pool_checkouts_total`, `pool_acquire_duration_seconds`,
//! `pool_connections_created_total`, `pool_connections`, `pool_waiting` and
//! `pool_max_size` (constants in [`otel`]):
//!
//! | name | instrument | unit | attributes | the pool's figure |
//! |---|---|---|---|---|
//! | `db.client.connection.count` | gauge (UpDownCounter) | `{connection}` | `db.client.connection.pool.name`, `db.client.connection.state` (`idle`, `used`) | [`Status::idle`](crate::Status::idle), [`Status::in_use`](crate::Status::in_use) |
//! | `db.client.connection.idle.max` | gauge (UpDownCounter) | `{connection}` | `db.client.connection.pool.name` | [`Status::max_size`](crate::Status::max_size): every connection may sit idle |
//! | `db.client.connection.idle.min` | gauge (UpDownCounter) | `{connection}` | `db.client.connection.pool.name` | [`Pool::min_idle`](crate::Pool::min_idle) |
//! | `db.client.connection.max` | gauge (UpDownCounter) | `{connection}` | `db.client.connection.pool.name` | [`Status::max_size`](crate::Status::max_size) |
//! | `db.client.connection.pending_requests` | gauge (UpDownCounter) | `{request}` | `db.client.connection.pool.name` | [`Status::waiting`](crate::Status::waiting) |
//! | `db.client.connection.timeouts` | counter | `{timeout}` | `db.client.connection.pool.name` | [`Metrics::checkouts_timed_out`](crate::Metrics::checkouts_timed_out) |
//! | `db.client.connection.create_time` | histogram | `s` | `db.client.connection.pool.name` | one observation per [`Metrics::connections_created`](crate::Metrics::connections_created): the connect and `after_connect` |
//! | `db.client.connection.wait_time` | histogram | `s` | `db.client.connection.pool.name` | one observation per successful checkout ([`Metrics::checkouts_direct`](crate::Metrics::checkouts_direct) as 0 s, [`Metrics::checkouts_waited`](crate::Metrics::checkouts_waited) as waited), what [`Metrics::acquire_latency`](crate::Metrics::acquire_latency) summarises |
//! | `db.client.connection.use_time` | histogram | `s` | `db.client.connection.pool.name` | one observation per checkout ended (returned, discarded or cancelled): how long it was held |
//!
//! The rest keep their `pool_*` names and the `pool` label under both: the conventions
//! have nothing for slow acquires, leaks, closes by reason, connect errors, recovered
//! connections, the limit, connections per host, or the policies' and breakers'
//! figures. `use_time` is timed with the clock reads a checkout makes anyway (when its
//! connection is found ready and when it comes back), so neither scheme adds one to a
//! direct checkout. The recorder gets each OpenTelemetry
//! name's unit and description (`describe_*!`) when the pool is built; exporters that
//! cannot carry dots (Prometheus) write them as underscores
//! (`db_client_connection_count{db_client_connection_pool_name="…",db_client_connection_state="idle"}`).
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

/// OpenTelemetry's names for the pool's figures, under [`MetricNames::OpenTelemetry`]
/// (the second table of [`names`](super)), from the database-client semantic conventions
/// (experimental there: the names could still change upstream).
pub mod otel {
    /// Connections now, by `db.client.connection.state` (`idle`, `used`).
    pub const CONNECTION_COUNT: &str = "db.client.connection.count";
    /// The most connections that may be idle at once (`max_size`).
    pub const IDLE_MAX: &str = "db.client.connection.idle.max";
    /// The idle connections the pool keeps open (`min_idle`).
    pub const IDLE_MIN: &str = "db.client.connection.idle.min";
    /// The most connections open at once (`max_size`).
    pub const MAX: &str = "db.client.connection.max";
    /// Callers waiting for a connection now.
    pub const PENDING_REQUESTS: &str = "db.client.connection.pending_requests";
    /// Checkouts that ran out of time.
    pub const TIMEOUTS: &str = "db.client.connection.timeouts";
    /// How long opening a connection took, in seconds.
    pub const CREATE_TIME: &str = "db.client.connection.create_time";
    /// How long checkouts took, in seconds (0 for one served at once).
    pub const WAIT_TIME: &str = "db.client.connection.wait_time";
    /// How long checkouts held their connection, in seconds.
    pub const USE_TIME: &str = "db.client.connection.use_time";

    /// Every name above, for checks that a table lists them all.
    pub const ALL: [&str; 9] = [
        CONNECTION_COUNT,
        IDLE_MAX,
        IDLE_MIN,
        MAX,
        PENDING_REQUESTS,
        TIMEOUTS,
        CREATE_TIME,
        WAIT_TIME,
        USE_TIME,
    ];

    /// The pool's own names that these take the place of: under
    /// [`MetricNames::OpenTelemetry`](super::MetricNames::OpenTelemetry) a pool exports
    /// none of them, and every other name of [`names::ALL`](super::ALL) as it is.
    pub const REPLACED: [&str; 6] = [
        super::CHECKOUTS,
        super::ACQUIRE_SECONDS,
        super::CREATED,
        super::CONNECTIONS,
        super::WAITING,
        super::MAX_SIZE,
    ];

    /// The attribute naming the pool on every name above (in place of `pool`).
    pub const POOL_NAME_KEY: &str = "db.client.connection.pool.name";
    /// The attribute of [`CONNECTION_COUNT`] saying which connections it counts.
    pub const STATE_KEY: &str = "db.client.connection.state";
}

/// Which names a pool's metrics go by, chosen per pool
/// ([`PoolBuilder::metric_names`](crate::PoolBuilder::metric_names), or a URL's
/// `metric_names`): the tables of [`names`](self) say what each exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MetricNames {
    /// This crate's own `pool_*` names, label `pool` (the default).
    #[default]
    Pool,
    /// OpenTelemetry's database-client semantic conventions ([`otel`]) for the figures
    /// they name, attribute `db.client.connection.pool.name`; `pool_*` for the rest.
    OpenTelemetry,
}

impl MetricNames {
    /// Every scheme, in the order an error message lists them.
    pub const ALL: [MetricNames; 2] = [MetricNames::Pool, MetricNames::OpenTelemetry];

    /// How a URL spells it: `pool` or `opentelemetry`.
    pub fn name(self) -> &'static str {
        match self {
            MetricNames::Pool => "pool",
            MetricNames::OpenTelemetry => "opentelemetry",
        }
    }

    /// The scheme `name` spells ([`name`](Self::name)'s inverse), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|names| names.name() == name)
    }
}

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

    /// The backticked names starting with `prefix` that begin the rows of the tables of
    /// `text`.
    fn names_in_tables<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        let row = format!("| `{prefix}");
        text.lines()
            .filter(|line| {
                line.trim_start_matches("//!")
                    .trim_start()
                    .starts_with(&row)
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

    /// Each of `all` is listed once in `listed`, and nothing else is.
    fn lists_exactly(listed: &[&str], all: &[&str], what: &str) {
        for name in all {
            assert!(listed.contains(name), "{what} does not list `{name}`");
        }
        for name in listed {
            assert!(
                all.contains(name),
                "{what} lists `{name}`, which pool_core::names does not define"
            );
        }
        assert_eq!(listed.len(), all.len(), "{what} lists a name twice");
    }

    #[test]
    fn readme_metrics_section_lists_exactly_these_names() {
        let readme = section(include_str!("../../README.md"), "## Metrics");
        lists_exactly(
            &names_in_tables(readme, "pool_"),
            &ALL,
            "README.md \"## Metrics\"",
        );
        lists_exactly(
            &names_in_tables(readme, "db."),
            &otel::ALL,
            "README.md \"## Metrics\" (OpenTelemetry's names)",
        );
    }

    #[test]
    fn this_modules_tables_list_exactly_these_names() {
        let source = include_str!("names.rs");
        lists_exactly(&names_in_tables(source, "pool_"), &ALL, "the module docs");
        lists_exactly(
            &names_in_tables(source, "db."),
            &otel::ALL,
            "the module docs (OpenTelemetry's names)",
        );
    }

    /// The values of the `&str` constants defined at `indent` in this file, in order.
    fn constants(indent: &str) -> Vec<&'static str> {
        let declaration = format!("{indent}pub const ");
        include_str!("names.rs")
            .lines()
            .filter(|line| line.starts_with(&declaration) && line.contains(": &str = \""))
            .filter_map(|line| line.split('"').nth(1))
            .collect()
    }

    #[test]
    fn every_constant_is_in_all() {
        assert_eq!(constants(""), ALL.to_vec());
        let mut otel_names = otel::ALL.to_vec();
        otel_names.extend([otel::POOL_NAME_KEY, otel::STATE_KEY]);
        assert_eq!(constants("    "), otel_names);
    }

    #[test]
    fn open_telemetry_names_follow_the_conventions_namespace() {
        for name in otel::ALL {
            assert!(name.starts_with("db.client.connection."), "{name}");
        }
        assert!(otel::POOL_NAME_KEY.starts_with("db.client.connection."));
    }

    #[test]
    fn a_scheme_reads_back_from_its_name() {
        for names in MetricNames::ALL {
            assert_eq!(MetricNames::from_name(names.name()), Some(names));
        }
        assert_eq!(MetricNames::from_name("otel"), None);
        assert_eq!(MetricNames::default(), MetricNames::Pool);
    }

    #[test]
    fn acquire_buckets_rise_from_100_us_to_30_s() {
        assert_eq!(ACQUIRE_SECONDS_BUCKETS.first(), Some(&0.000_1));
        assert_eq!(ACQUIRE_SECONDS_BUCKETS.last(), Some(&30.0));
        assert!(ACQUIRE_SECONDS_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}

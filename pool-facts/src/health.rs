//! The health report every binding gives: one set of types, one serde shape, one status
//! rule, so a health endpoint, a dashboard or an alert reads pool-sqlx's and
//! pool-postgres's reports alike.
//!
//! A binding owns only its probe: checking a connection out, sending its check and
//! reading the server's view of its connections ([`ServerView`]), each in its driver's
//! way. It hands that future to [`live_check`], which bounds it by the caller's timeout
//! and measures it, and then builds the report with [`Health::assemble`], which adds the
//! pool's status and counters and the breakers' states, and applies the status rule of
//! [`HealthStatus`].
//!
//! The JSON (`serde_json::to_string(&report)`), never with a password:
//!
//! ```json
//! {
//!   "status": "healthy",
//!   "checked_at": "2026-01-02T03:04:05.678Z",
//!   "pool": "app", "backend": "postgres", "database": "postgres://app:***@db/app",
//!   "check": { "ok": true, "latency_ms": 0.84, "error": null, "server_error": null },
//!   "connections": { "max_size": 10, "limit": 10, "size": 2, "idle": 2, "in_use": 0, "waiting": 0 },
//!   "breakers": [ { "name": "db", "state": "closed", "calls": 12, "failures": 0, "slow_calls": 0 } ],
//!   "server": { "application_name": "app", "pool_connections": 2, "server_connections": 7, "max_connections": 100 },
//!   "metrics": { "connections_created": 2, "...": "..." },
//!   "hosts": []
//! }
//! ```

use std::{
    future::Future,
    time::{Duration, Instant, SystemTime},
};

use pool_core::{
    BreakerRegistry, BreakerState, Classify, Manager, Metrics, Pool, Status, rounded_millis,
};

/// The overall verdict of a [`Health`] report. Serialises as `"healthy"`, `"degraded"`
/// or `"unhealthy"`.
///
/// The rule (see [`HealthStatus::from_parts`]):
///
/// - **unhealthy**: the live check failed or did not finish within the time limit (no
///   connection could be checked out, the ping failed, or the database did not answer);
/// - **degraded**: the check passed, but a circuit breaker is open, half-open or forced
///   open, or callers are waiting for a connection, or the server holds at least 90 % of
///   its `max_connections`;
/// - **healthy**: otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Answering, nothing to worry about.
    Healthy,
    /// Answering, but under strain or shedding load.
    Degraded,
    /// Not answering.
    Unhealthy,
}

/// The share of `max_connections` from which a server counts as nearly full (90 %).
pub const SERVER_NEARLY_FULL: f64 = 0.9;

impl HealthStatus {
    /// `"healthy"`, `"degraded"` or `"unhealthy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// The status rule of [`HealthStatus`] applied to a check's outcome, the breakers, the
    /// pool's status and the server's view.
    pub fn from_parts(
        check: &CheckReport,
        breakers: &[BreakerHealth],
        connections: &Status,
        server: Option<&ServerView>,
    ) -> HealthStatus {
        if !check.ok {
            return HealthStatus::Unhealthy;
        }
        let breaker_open = breakers.iter().any(|b| {
            matches!(
                b.state,
                BreakerState::Open | BreakerState::HalfOpen | BreakerState::ForcedOpen
            )
        });
        let server_full = server.is_some_and(ServerView::nearly_full);
        if breaker_open || connections.waiting > 0 || server_full {
            HealthStatus::Degraded
        } else {
            HealthStatus::Healthy
        }
    }
}

/// The live check: checking a connection out and pinging it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// Whether a connection was checked out and answered the ping within the time limit.
    pub ok: bool,
    /// Milliseconds (fractional, microsecond resolution) from the start of the checkout to
    /// the ping's answer; when the check failed, the time until it failed.
    pub latency_ms: f64,
    /// Why the check failed: the error's message and class, or the time limit. Never
    /// contains a password.
    pub error: Option<String>,
    /// Why the server view could not be read although the ping passed (e.g. missing
    /// privileges). Does not affect the status.
    pub server_error: Option<String>,
}

/// One named circuit breaker's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct BreakerHealth {
    /// The breaker's name.
    pub name: String,
    /// Its state; serialises as `"closed"`, `"open"`, `"half_open"`, `"forced_open"` or
    /// `"disabled"`.
    pub state: BreakerState,
    /// Calls in its window (closed) or probes ended (half-open).
    pub calls: u64,
    /// Failures among them.
    pub failures: u64,
    /// Slow calls among them.
    pub slow_calls: u64,
}

/// What the database server says about its connections.
///
/// PostgreSQL: `pg_stat_activity` (this pool's connections are those with the pool's
/// `application_name`) and `max_connections`, read by `POSTGRES_SERVER_VIEW_QUERY` on
/// every binding. MySQL/MariaDB: `Threads_connected` and `max_connections`. SQLite has
/// no server, so no view.
///
/// Through PgBouncer (`pgbouncer=true`) it is the view of the PostgreSQL server behind
/// the bouncer: the connections it counts are the bouncer's server connections (each
/// carrying the `application_name` of the client it last served), not this pool's
/// connections to the bouncer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ServerView {
    /// The `application_name` this pool's connections carry (PostgreSQL).
    pub application_name: Option<String>,
    /// This pool's connections as the server sees them (PostgreSQL, when the pool sets
    /// an `application_name`): other pools of the same name, in this or other processes,
    /// are counted too.
    pub pool_connections: Option<u64>,
    /// Every client connection to the server (PostgreSQL: client backends in
    /// `pg_stat_activity`; MySQL/MariaDB: `Threads_connected`).
    pub server_connections: u64,
    /// The server's `max_connections`.
    pub max_connections: u64,
}

/// PostgreSQL's server view in one simple-protocol message without parameters: this
/// session's `application_name`'s connections, every client backend, and
/// `max_connections` (three `int8` columns, in that order; give them to
/// [`ServerView::postgres`]). No prepared statement, so it is safe through PgBouncer in
/// transaction mode, where a statement prepared in one round trip may be gone in the next.
pub const POSTGRES_SERVER_VIEW_QUERY: &str = "SELECT count(*) FILTER (WHERE application_name = current_setting('application_name')), \
                    count(*) FILTER (WHERE backend_type = 'client backend'), \
                    current_setting('max_connections')::int8 \
             FROM pg_stat_activity";

impl ServerView {
    /// Whether the server holds at least 90 % ([`SERVER_NEARLY_FULL`]) of its
    /// `max_connections`.
    pub fn nearly_full(&self) -> bool {
        self.max_connections > 0
            && self.server_connections as f64 >= SERVER_NEARLY_FULL * self.max_connections as f64
    }

    /// The view from `POSTGRES_SERVER_VIEW_QUERY`'s three counts, for a pool whose
    /// connections carry `application_name` (without one the pool's own count means
    /// nothing, so it is left out). A negative count reads as 0.
    pub fn postgres(
        application_name: Option<String>,
        pool_connections: i64,
        server_connections: i64,
        max_connections: i64,
    ) -> ServerView {
        ServerView {
            pool_connections: application_name.as_ref().map(|_| count(pool_connections)),
            application_name,
            server_connections: count(server_connections),
            max_connections: count(max_connections),
        }
    }

    /// A MySQL/MariaDB view: `Threads_connected` and `max_connections` (no per-pool
    /// count).
    pub fn mysql(threads_connected: u64, max_connections: u64) -> ServerView {
        ServerView {
            application_name: None,
            pool_connections: None,
            server_connections: threads_connected,
            max_connections,
        }
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// One host of a multi-host URL as a health check saw it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct HostHealth {
    /// `host:port`.
    pub host: String,
    /// It accepted a login within the health check's timeout.
    pub reachable: bool,
    /// `primary`, `read-only primary` or `standby`; `None` when unreachable.
    pub role: Option<&'static str>,
    /// Why it is unreachable (never a password).
    pub error: Option<String>,
    /// A standby's replay lag in milliseconds: the age of the last replayed commit, or 0
    /// when it has replayed everything it received. `None` for a primary, or a standby
    /// that has replayed no commit since it started.
    pub replay_lag_ms: Option<f64>,
    /// A standby's WAL received but not yet replayed, in bytes. `None` for a primary.
    pub replay_lag_bytes: Option<i64>,
    /// The pool's connections open to this host now, idle or in use (the gauge
    /// `pool_host_connections`): after a failover, the old primary's count falls to 0 as
    /// its connections die or are refused and the new primary's rises.
    pub connections: usize,
}

impl HostHealth {
    /// A host not heard from yet: unreachable, for want of an answer within `timeout`
    /// (what a probe that never finishes leaves); `connections` is the pool's count for
    /// it.
    pub fn unanswered(host: impl Into<String>, timeout: Duration, connections: usize) -> Self {
        HostHealth {
            host: host.into(),
            reachable: false,
            role: None,
            error: Some(format!("no answer within {timeout:?}")),
            replay_lag_ms: None,
            replay_lag_bytes: None,
            connections,
        }
    }
}

/// A health check's report on one pool, its breakers and its database. Serialises with
/// serde (the shape is in the docs of `pool_facts::health`); never contains a password.
///
/// For a multi-host URL, `hosts` lists each host:
/// `[{ "host": "db1:5432", "reachable": true, "role": "primary", "error": null,
/// "replay_lag_ms": null, "replay_lag_bytes": null, "connections": 8 }, { "host":
/// "db2:5432", ..., "role": "standby", "replay_lag_ms": 0.0, "replay_lag_bytes": 0,
/// "connections": 0 }]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Health {
    /// The verdict; the rule is documented on [`HealthStatus`].
    pub status: HealthStatus,
    /// When the check started, RFC 3339 in UTC with milliseconds
    /// (`2026-01-02T03:04:05.678Z`).
    pub checked_at: String,
    /// The pool's name.
    pub pool: String,
    /// `postgres`, `mysql` or `sqlite` ([`BackendKind::name`](crate::BackendKind::name)).
    pub backend: &'static str,
    /// The database URL with its password replaced by `***`.
    pub database: String,
    /// The live check.
    pub check: CheckReport,
    /// The pool's connections, read after the check.
    pub connections: Status,
    /// Every breaker defined in the registry the check was given (by default the
    /// process-wide `pool_core::breakers()`), by name.
    pub breakers: Vec<BreakerHealth>,
    /// The server's view of its connections; `None` for SQLite, or when it could not be
    /// read (see [`CheckReport::server_error`]).
    pub server: Option<ServerView>,
    /// The pool's counters.
    pub metrics: Metrics,
    /// Each host of a multi-host URL (role, reachable), probed with a login of its own
    /// within the same timeout (`pool_facts::health::probe_hosts`); empty for a URL with one host. It does
    /// not change `status`: the pool's own check says whether work can be done.
    pub hosts: Vec<HostHealth>,
}

impl Health {
    /// Whether the status is [`HealthStatus::Healthy`].
    pub fn is_healthy(&self) -> bool {
        self.status == HealthStatus::Healthy
    }

    /// The HTTP status for a health endpoint: 200 when healthy, 503 otherwise.
    pub fn http_status(&self) -> u16 {
        if self.is_healthy() { 200 } else { 503 }
    }

    /// The report on `pool` after its binding's [`live_check`]: the pool's status (read
    /// now, after the check) and counters, every breaker of `registry`, and the verdict
    /// by [`HealthStatus::from_parts`]. `backend` and `database` (password removed) name
    /// the database; `hosts` is the binding's multi-host probe, if it has one.
    pub fn assemble<M: Manager>(
        pool: &Pool<M>,
        backend: &'static str,
        database: impl Into<String>,
        live: LiveCheck,
        hosts: Vec<HostHealth>,
        registry: &BreakerRegistry,
    ) -> Health {
        let breakers = breaker_health(registry);
        let connections = pool.status();
        let status =
            HealthStatus::from_parts(&live.check, &breakers, &connections, live.server.as_ref());
        Health {
            status,
            checked_at: live.checked_at,
            pool: pool.name().to_owned(),
            backend,
            database: database.into(),
            check: live.check,
            connections,
            breakers,
            server: live.server,
            metrics: pool.metrics(),
            hosts,
        }
    }
}

/// What a binding's probe gives [`live_check`] when its check passed.
#[derive(Debug)]
#[non_exhaustive]
pub struct Answered {
    /// When the check's answer came (the latency runs from the start of the checkout to
    /// here, not to the end of the server view's query).
    pub at: Instant,
    /// The server's view (`None` where the backend has none), or why it could not be
    /// read (described, no password).
    pub server: Result<Option<ServerView>, String>,
}

impl Answered {
    /// The check answered now; `server` is what the server view's query gave.
    pub fn now(server: Result<Option<ServerView>, String>) -> Self {
        Answered {
            at: Instant::now(),
            server,
        }
    }

    /// The check answered at `at`; `server` is what the server view's query gave.
    pub fn at(at: Instant, server: Result<Option<ServerView>, String>) -> Self {
        Answered { at, server }
    }
}

/// The live check's part of a report, from [`live_check`], for [`Health::assemble`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LiveCheck {
    /// When the check started (RFC 3339, UTC, milliseconds).
    pub checked_at: String,
    /// Its outcome and latency.
    pub check: CheckReport,
    /// The server's view, when the check passed and the view could be read.
    pub server: Option<ServerView>,
}

/// Runs a binding's `probe` within `timeout` and measures it: the probe checks a
/// connection out, sends its check, reads the server's view, and ends with
/// [`Answered`], or with the failure described ([`describe`]: message and class, no
/// password).
///
/// Never hangs: a probe still running at `timeout` is dropped (a binding's probe must
/// be cancel-safe, e.g. a checkout marked with `Pooled::begin_operation`, so a check cut
/// off mid-query closes its connection rather than returning it) and the check fails
/// with `no answer within … (timeout)`.
pub async fn live_check<F>(timeout: Duration, probe: F) -> LiveCheck
where
    F: Future<Output = Result<Answered, String>>,
{
    let checked_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, probe).await;
    let (answered, error, server, server_error) = match outcome {
        Ok(Ok(Answered {
            at,
            server: Ok(server),
        })) => (Some(at), None, server, None),
        Ok(Ok(Answered {
            at,
            server: Err(server_error),
        })) => (Some(at), None, None, Some(server_error)),
        Ok(Err(error)) => (None, Some(error), None, None),
        Err(_) => (
            None,
            Some(format!("no answer within {timeout:?} (timeout)")),
            None,
            None,
        ),
    };
    let latency = match answered {
        Some(at) => at.saturating_duration_since(started),
        None => started.elapsed(),
    };
    LiveCheck {
        checked_at,
        check: CheckReport {
            ok: error.is_none(),
            latency_ms: rounded_millis(latency),
            error,
            server_error,
        },
        server,
    }
}

/// How a report shows an error: its message and its class (`"… (connection)"`). The
/// bindings' errors never carry a password.
pub fn describe<E: Classify + std::fmt::Display>(error: &E) -> String {
    format!("{} ({})", error, error.class().as_str())
}

/// What one host of a multi-host URL answered [`probe_hosts`]: its role (`None` for a
/// backend without roles) and, for a standby, its replay lag as
/// [`ReplayPosition::health_lag`](crate::replicas::ReplayPosition::health_lag) gives it;
/// or why it could not be asked (never a password).
pub type HostAnswer =
    Result<(Option<crate::hosts::ServerRole>, Option<(Option<f64>, i64)>), String>;

/// The `hosts` of a report on a pool of a multi-host URL: every host of `hosts` asked at
/// once, each by `probe` (a login of its own, outside the pool, its role and lag, closed
/// after), all within `timeout`; a host that does not answer in time is `no answer within
/// …`. `tally` gives the pool's connections per host. The one table both bindings' reports
/// build; a binding gives only how to ask one host.
pub async fn probe_hosts<F, Fut>(
    hosts: &[crate::Host],
    tally: Option<&crate::host_tally::HostTally>,
    timeout: Duration,
    probe: F,
) -> Vec<HostHealth>
where
    F: Fn(&crate::Host) -> Fut,
    Fut: Future<Output = HostAnswer> + Send + 'static,
{
    let mut probes = tokio::task::JoinSet::new();
    for (index, host) in hosts.iter().enumerate() {
        let asked = probe(host);
        probes.spawn(async move { (index, tokio::time::timeout(timeout, asked).await) });
    }
    let mut seen: Vec<HostHealth> = hosts
        .iter()
        .enumerate()
        .map(|(index, host)| {
            HostHealth::unanswered(
                host.to_string(),
                timeout,
                tally.map_or(0, |tally| tally.report(index)),
            )
        })
        .collect();
    while let Some(joined) = probes.join_next().await {
        let Ok((index, outcome)) = joined else {
            continue;
        };
        let Some(entry) = seen.get_mut(index) else {
            continue;
        };
        match outcome {
            Ok(Ok((role, lag))) => {
                entry.reachable = true;
                entry.role = role.map(crate::hosts::ServerRole::name);
                entry.error = None;
                entry.replay_lag_ms = lag.and_then(|(ms, _)| ms);
                entry.replay_lag_bytes = lag.map(|(_, bytes)| bytes);
            }
            Ok(Err(error)) => entry.error = Some(error),
            Err(_elapsed) => {}
        }
    }
    seen
}

/// Every breaker of `registry`, by name, with its state and window counts.
pub fn breaker_health(registry: &BreakerRegistry) -> Vec<BreakerHealth> {
    registry
        .names()
        .into_iter()
        .filter_map(|name| registry.get(&name))
        .map(|breaker| {
            let snapshot = breaker.snapshot();
            BreakerHealth {
                name: breaker.name().to_owned(),
                state: snapshot.state,
                calls: snapshot.calls,
                failures: snapshot.failures,
                slow_calls: snapshot.slow_calls,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ok: bool) -> CheckReport {
        CheckReport {
            ok,
            latency_ms: 1.0,
            error: (!ok).then(|| "down".to_owned()),
            server_error: None,
        }
    }

    fn status(waiting: usize) -> Status {
        Status {
            max_size: 4,
            limit: 4,
            size: 1,
            idle: 1,
            in_use: 0,
            waiting,
        }
    }

    fn breaker(state: BreakerState) -> BreakerHealth {
        BreakerHealth {
            name: "db".to_owned(),
            state,
            calls: 0,
            failures: 0,
            slow_calls: 0,
        }
    }

    fn server(connections: u64, max: u64) -> ServerView {
        ServerView {
            application_name: None,
            pool_connections: None,
            server_connections: connections,
            max_connections: max,
        }
    }

    #[test]
    fn a_failed_check_is_unhealthy_whatever_else() {
        let breakers = [breaker(BreakerState::Closed)];
        assert_eq!(
            HealthStatus::from_parts(&check(false), &breakers, &status(0), None),
            HealthStatus::Unhealthy
        );
    }

    #[test]
    fn a_passing_check_with_nothing_wrong_is_healthy() {
        let breakers = [
            breaker(BreakerState::Closed),
            breaker(BreakerState::Disabled),
        ];
        let view = server(89, 100);
        assert_eq!(
            HealthStatus::from_parts(&check(true), &breakers, &status(0), Some(&view)),
            HealthStatus::Healthy
        );
    }

    #[test]
    fn open_breakers_waiting_callers_and_a_nearly_full_server_degrade() {
        for state in [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::ForcedOpen,
        ] {
            assert_eq!(
                HealthStatus::from_parts(&check(true), &[breaker(state)], &status(0), None),
                HealthStatus::Degraded,
                "{state:?}"
            );
        }
        assert_eq!(
            HealthStatus::from_parts(&check(true), &[], &status(1), None),
            HealthStatus::Degraded
        );
        assert_eq!(
            HealthStatus::from_parts(&check(true), &[], &status(0), Some(&server(90, 100))),
            HealthStatus::Degraded
        );
        assert!(!server(0, 0).nearly_full());
    }

    #[test]
    fn statuses_serialise_lowercase() {
        let json = |s: HealthStatus| serde_json::to_string(&s).unwrap_or_default();
        assert_eq!(json(HealthStatus::Healthy), "\"healthy\"");
        assert_eq!(json(HealthStatus::Degraded), "\"degraded\"");
        assert_eq!(json(HealthStatus::Unhealthy), "\"unhealthy\"");
    }
}

/// The report's JSON, byte for byte: what health endpoints and their readers rely on.
#[cfg(test)]
mod golden {
    use super::*;

    #[test]
    fn golden_json() {
        let report = Health {
            status: HealthStatus::Degraded,
            checked_at: "2026-01-02T03:04:05.678Z".to_owned(),
            pool: "app".to_owned(),
            backend: "postgres",
            database: "postgres://app:***@db/app".to_owned(),
            check: CheckReport {
                ok: true,
                latency_ms: 0.84,
                error: None,
                server_error: Some("permission denied".to_owned()),
            },
            connections: Status {
                max_size: 10,
                limit: 8,
                size: 2,
                idle: 1,
                in_use: 1,
                waiting: 3,
            },
            breakers: vec![BreakerHealth {
                name: "db".to_owned(),
                state: BreakerState::HalfOpen,
                calls: 12,
                failures: 4,
                slow_calls: 1,
            }],
            server: Some(ServerView {
                application_name: Some("app".to_owned()),
                pool_connections: Some(2),
                server_connections: 7,
                max_connections: 100,
            }),
            metrics: Metrics {
                connections_created: 1,
                closed_broken: 2,
                closed_invalid: 3,
                closed_idle: 4,
                closed_lifetime: 5,
                closed_pool: 6,
                closed_hook: 7,
                checkouts_direct: 8,
                checkouts_waited: 9,
                checkouts_timed_out: 10,
                slow_acquires: 11,
                connect_errors: 12,
                leaks: 13,
                recovered: 14,
                limit: 8,
                acquire_latency: pool_core::LatencyQuantiles {
                    p50: Duration::from_micros(1024),
                    p95: Duration::from_micros(2500),
                    p99: Duration::from_millis(30),
                    count: 17,
                },
            },
            hosts: vec![
                HostHealth {
                    host: "db1:5432".to_owned(),
                    reachable: true,
                    role: Some("primary"),
                    error: None,
                    replay_lag_ms: None,
                    replay_lag_bytes: None,
                    connections: 2,
                },
                HostHealth {
                    host: "db2:5432".to_owned(),
                    reachable: false,
                    role: None,
                    error: Some("connection refused".to_owned()),
                    replay_lag_ms: Some(1.5),
                    replay_lag_bytes: Some(-1),
                    connections: 0,
                },
            ],
        };
        let json = serde_json::to_string(&report).unwrap_or_default();
        assert_eq!(json, GOLDEN);
    }

    const GOLDEN: &str = concat!(
        r#"{"status":"degraded","#,
        r#""checked_at":"2026-01-02T03:04:05.678Z","#,
        r#""pool":"app","#,
        r#""backend":"postgres","#,
        r#""database":"postgres://app:***@db/app","#,
        r#""check":{"ok":true,"latency_ms":0.84,"error":null,"server_error":"permission denied"},"#,
        r#""connections":{"max_size":10,"limit":8,"size":2,"idle":1,"in_use":1,"waiting":3},"#,
        r#""breakers":[{"name":"db","state":"half_open","calls":12,"failures":4,"slow_calls":1}],"#,
        r#""server":{"application_name":"app","pool_connections":2,"server_connections":7,"max_connections":100},"#,
        r#""metrics":{"connections_created":1,"closed_broken":2,"closed_invalid":3,"closed_idle":4,"closed_lifetime":5,"closed_pool":6,"closed_hook":7,"checkouts_direct":8,"checkouts_waited":9,"checkouts_timed_out":10,"slow_acquires":11,"connect_errors":12,"leaks":13,"recovered":14,"limit":8,"acquire_latency":{"p50_ms":1.024,"p95_ms":2.5,"p99_ms":30.0,"count":17}},"#,
        r#""hosts":[{"host":"db1:5432","reachable":true,"role":"primary","error":null,"replay_lag_ms":null,"replay_lag_bytes":null,"connections":2},{"host":"db2:5432","reachable":false,"role":null,"error":"connection refused","replay_lag_ms":1.5,"replay_lag_bytes":-1,"connections":0}]}"#,
    );
}

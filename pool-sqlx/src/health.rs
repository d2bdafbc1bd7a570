//! `health`: a serialisable report on one pool, its breakers and its database, without
//! secrets.

use std::time::{Duration, Instant, SystemTime};

use pool_core::{BreakerRegistry, BreakerState, Classify, Manager, Metrics, Pool, Status};

use crate::{Backend, SqlxManager};

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
/// `application_name`) and `max_connections`. MySQL/MariaDB: `Threads_connected` and
/// `max_connections`. SQLite has no server, so no view.
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

impl ServerView {
    /// Whether the server holds at least 90 % ([`SERVER_NEARLY_FULL`]) of its
    /// `max_connections`.
    pub fn nearly_full(&self) -> bool {
        self.max_connections > 0
            && self.server_connections as f64 >= SERVER_NEARLY_FULL * self.max_connections as f64
    }
}

/// What [`health`] found. Serialises with serde; never contains a password.
///
/// For a multi-host URL, `hosts` lists each host:
/// `[{ "host": "db1:5432", "reachable": true, "role": "primary", "error": null,
/// "replay_lag_ms": null, "replay_lag_bytes": null, "connections": 8 }, { "host":
/// "db2:5432", ..., "role": "standby", "replay_lag_ms": 0.0, "replay_lag_bytes": 0,
/// "connections": 0 }]`.
///
/// ```json
/// {
///   "status": "healthy",
///   "checked_at": "2026-01-02T03:04:05.678Z",
///   "pool": "app", "backend": "postgres", "database": "postgres://app:***@db/app",
///   "check": { "ok": true, "latency_ms": 0.84, "error": null, "server_error": null },
///   "connections": { "max_size": 10, "limit": 10, "size": 2, "idle": 2, "in_use": 0, "waiting": 0 },
///   "breakers": [ { "name": "db", "state": "closed", "calls": 12, "failures": 0, "slow_calls": 0 } ],
///   "server": { "application_name": "app", "pool_connections": 2, "server_connections": 7, "max_connections": 100 },
///   "metrics": { "connections_created": 2, "...": "..." },
///   "hosts": []
/// }
/// ```
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
    /// `postgres`, `mysql` or `sqlite`.
    pub backend: &'static str,
    /// The database URL with its password replaced by `***`.
    pub database: String,
    /// The live check.
    pub check: CheckReport,
    /// The pool's connections, read after the check.
    pub connections: Status,
    /// Every breaker defined in the registry (for [`health`]: [`pool_core::breakers()`]),
    /// by name.
    pub breakers: Vec<BreakerHealth>,
    /// The server's view of its connections; `None` for SQLite, or when it could not be
    /// read (see [`CheckReport::server_error`]).
    pub server: Option<ServerView>,
    /// The pool's counters.
    pub metrics: Metrics,
    /// Each host of a multi-host URL (role, reachable), probed with a login of its own
    /// within the same timeout; empty for a URL with one host. It does not change
    /// `status`: the pool's own check says whether work can be done.
    pub hosts: Vec<crate::HostHealth>,
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
}

/// Reports on `pool`: checks a connection out, pings it and reads the server's view of
/// its connections, all within `timeout`; then adds the pool's status and metrics and the
/// state of every breaker in [`pool_core::breakers()`].
///
/// Never hangs and never fails: a database that does not answer within `timeout` gives
/// an [`Unhealthy`](HealthStatus::Unhealthy) report once `timeout` has passed. A check
/// cut short mid-query closes its connection rather than returning it to the pool.
pub async fn health<DB: Backend>(pool: &Pool<SqlxManager<DB>>, timeout: Duration) -> Health {
    health_with(pool, timeout, pool_core::breakers()).await
}

/// [`health`] with the breakers of `registry` instead of the process-wide ones.
pub async fn health_with<DB: Backend>(
    pool: &Pool<SqlxManager<DB>>,
    timeout: Duration,
    registry: &BreakerRegistry,
) -> Health {
    let checked_at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    let started = Instant::now();
    let mut answered: Option<Duration> = None;
    let outcome = tokio::time::timeout(timeout, async {
        let mut conn = pool.get().await.map_err(crate::Error::from)?;
        conn.begin_operation();
        let checked = pool.manager().check(&mut conn).await;
        if checked.is_err() {
            conn.finish(&checked);
            return checked.map(|()| Ok(None)).map_err(crate::Error::from);
        }
        answered = Some(started.elapsed());
        let session = pool.manager().session_settings();
        let view = DB::server_view(conn.raw_mut(), session)
            .await
            .map_err(crate::SqlxError);
        conn.finish(&view);
        Ok(view.map_err(|error| describe(&error)))
    })
    .await;
    let (error, server, server_error) = match outcome {
        Ok(Ok(Ok(server))) => (None, server, None),
        Ok(Ok(Err(server_error))) => (None, None, Some(server_error)),
        Ok(Err(error)) => (Some(describe(&error)), None, None),
        Err(_) => (
            Some(format!("no answer within {timeout:?} (timeout)")),
            None,
            None,
        ),
    };
    let ok = error.is_none();
    let latency = match answered {
        Some(latency) if ok => latency,
        _ => started.elapsed(),
    };
    let check = CheckReport {
        ok,
        latency_ms: pool_core::rounded_millis(latency),
        error,
        server_error,
    };
    let hosts = match pool.manager().host_walk() {
        Some(walk) if !walk.hosts.is_empty() => {
            let options = pool.manager().connect_options();
            crate::failover::probe::<DB>(walk, pool.manager().host_tally(), &options, timeout).await
        }
        _ => Vec::new(),
    };
    let breakers = breaker_health(registry);
    let connections = pool.status();
    let status = HealthStatus::from_parts(&check, &breakers, &connections, server.as_ref());
    Health {
        status,
        checked_at,
        pool: pool.name().to_owned(),
        backend: DB::KIND.name(),
        database: pool.manager().description().to_owned(),
        check,
        connections,
        breakers,
        server,
        metrics: pool.metrics(),
        hosts,
    }
}

fn describe<E: Classify + std::fmt::Display>(error: &E) -> String {
    format!("{} ({})", error, error.class().as_str())
}

fn breaker_health(registry: &BreakerRegistry) -> Vec<BreakerHealth> {
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
                crate::HostHealth {
                    host: "db1:5432".to_owned(),
                    reachable: true,
                    role: Some("primary"),
                    error: None,
                    replay_lag_ms: None,
                    replay_lag_bytes: None,
                    connections: 2,
                },
                crate::HostHealth {
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

//! Health and metrics alike on both bindings: pool-postgres's health report has the keys,
//! nesting and JSON types of pool-sqlx's for the same server, healthy and unreachable
//! (both read from one body per test), one host and the same server named twice as a
//! multi-host URL (the same `hosts` table on both), and a pool of each records the same metric names
//! and labels after the same scripted sequence.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use metrics_util::debugging::DebuggingRecorder;
use pool_postgres::PostgresManager;
use pool_sqlx::{
    BreakerConfig, BreakerRegistry, Health, HealthStatus, Pool, Pooled, SqlxManager, names,
    sqlx::Postgres,
};
use tests::db;

const SECRET: &str = "pgh3alth-S3cret";

/// The two bindings, for test bodies that run on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binding {
    Sqlx,
    Postgres,
}

const BINDINGS: [Binding; 2] = [Binding::Sqlx, Binding::Postgres];

/// A PostgreSQL pool of either binding.
enum AnyPool {
    Sqlx(Pool<SqlxManager<Postgres>>),
    Postgres(Pool<PostgresManager>),
}

/// A connection checked out of an [`AnyPool`], held until dropped.
#[allow(dead_code)] // held for its effect on the pool
enum Held {
    Sqlx(Pooled<SqlxManager<Postgres>>),
    Postgres(Box<Pooled<PostgresManager>>),
}

impl AnyPool {
    /// A pool of `binding` on `url` named `name`, with `acquire_timeout` when given.
    fn build(binding: Binding, url: &str, name: &str, acquire_timeout: Option<Duration>) -> Self {
        match binding {
            Binding::Sqlx => {
                let mut builder = pool_sqlx::Config::from_url(url)
                    .unwrap()
                    .pool_builder::<Postgres>(name)
                    .unwrap();
                if let Some(timeout) = acquire_timeout {
                    builder = builder.acquire_timeout(timeout);
                }
                AnyPool::Sqlx(builder.build().unwrap())
            }
            Binding::Postgres => {
                let mut builder = pool_postgres::Config::from_url(url)
                    .unwrap()
                    .pool_builder(name)
                    .unwrap();
                if let Some(timeout) = acquire_timeout {
                    builder = builder.acquire_timeout(timeout);
                }
                AnyPool::Postgres(builder.build().unwrap())
            }
        }
    }

    /// The binding's own `health_with`.
    async fn health(&self, timeout: Duration, registry: &BreakerRegistry) -> Health {
        match self {
            AnyPool::Sqlx(pool) => pool_sqlx::health_with(pool, timeout, registry).await,
            AnyPool::Postgres(pool) => pool_postgres::health_with(pool, timeout, registry).await,
        }
    }

    async fn hold(&self) -> Held {
        match self {
            AnyPool::Sqlx(pool) => Held::Sqlx(pool.get().await.unwrap()),
            AnyPool::Postgres(pool) => Held::Postgres(Box::new(pool.get().await.unwrap())),
        }
    }

    /// One `SELECT 1` on a checked-out connection, returned after.
    async fn select_one(&self) {
        match self {
            AnyPool::Sqlx(pool) => {
                let mut conn = pool.get().await.unwrap();
                let one: i32 = pool_sqlx::sqlx::query_scalar("SELECT 1")
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap();
                assert_eq!(one, 1);
            }
            AnyPool::Postgres(pool) => {
                let client = pool.get().await.unwrap();
                let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
                assert_eq!(one, 1);
            }
        }
    }

    async fn close(&self) {
        match self {
            AnyPool::Sqlx(pool) => drop(pool.close().await),
            AnyPool::Postgres(pool) => drop(pool.close().await),
        }
    }
}

/// The report's shape: every path to a value (`check.ok`, `breakers[].name`), with the
/// value's JSON type; an array's elements share one path.
fn shape(json: &serde_json::Value) -> BTreeSet<String> {
    fn walk(path: &str, value: &serde_json::Value, into: &mut BTreeSet<String>) {
        use serde_json::Value;
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(items) => {
                for item in items {
                    walk(&format!("{path}[]"), item, into);
                }
                "array"
            }
            Value::Object(fields) => {
                for (key, field) in fields {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    walk(&path, field, into);
                }
                "object"
            }
        };
        into.insert(format!("{path}: {kind}"));
    }
    let mut paths = BTreeSet::new();
    walk("", json, &mut paths);
    paths
}

/// The top-level keys in the order the JSON gives them.
fn top_level_keys(json: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    let keys: BTreeSet<&String> = value.as_object().unwrap().keys().collect();
    let mut ordered: Vec<(usize, String)> = keys
        .into_iter()
        .map(|key| (json.find(&format!("\"{key}\":")).unwrap(), key.clone()))
        .collect();
    ordered.sort();
    ordered.into_iter().map(|(_, key)| key).collect()
}

/// A registry of the test's own with one breaker, so `breakers` has an element to
/// compare and no other test's breaker degrades the report.
fn registry() -> BreakerRegistry {
    let registry = BreakerRegistry::new();
    registry
        .define("pg-health-db", BreakerConfig::default())
        .unwrap();
    registry
}

/// `url` (one host) as a multi-host URL naming the same server twice, by its address and
/// by another name (`127.0.0.1` and `localhost`): two hosts to the walk, one server.
fn twice(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    let host = parsed.host_str().unwrap();
    let port = parsed.port().unwrap_or(5432);
    let other = if host == "localhost" {
        "127.0.0.1"
    } else {
        "localhost"
    };
    let user = match parsed.password() {
        Some(password) => format!("{}:{password}@", parsed.username()),
        None if parsed.username().is_empty() => String::new(),
        None => format!("{}@", parsed.username()),
    };
    let query = parsed
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    format!(
        "{}://{user}{host}:{port},{other}:{port}{}{query}",
        parsed.scheme(),
        parsed.path()
    )
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn both_bindings_report_the_same_json_for_the_same_server() {
    let Some(db) = db::postgres("pg_health_shape").await else {
        return;
    };
    let registry = registry();
    // One host, then the same server as two hosts: `hosts` then lists both, the same on
    // both bindings.
    for url in [db.url.clone(), twice(&db.url)] {
        let multi_host = url != db.url;
        let mut shapes = Vec::new();
        let mut orders = Vec::new();
        let mut host_tables = Vec::new();
        for binding in BINDINGS {
            let name = format!("{}_{binding:?}", db.name).to_ascii_lowercase();
            let pool = AnyPool::build(binding, &url, &name, None);
            let held = pool.hold().await;
            let report = pool.health(Duration::from_secs(5), &registry).await;
            assert_eq!(
                report.status,
                HealthStatus::Healthy,
                "{binding:?}: {report:#?}"
            );
            assert_eq!(report.http_status(), 200, "{binding:?}");
            assert!(
                report.check.ok && report.check.latency_ms > 0.0,
                "{binding:?}"
            );
            assert_eq!(report.check.error, None, "{binding:?}");
            assert_eq!(report.check.server_error, None, "{binding:?}");
            assert_eq!(report.backend, "postgres", "{binding:?}");
            assert_eq!(report.pool, name, "{binding:?}");
            assert_eq!(report.database, url, "{binding:?}: no password to hide");
            // The check's connection went back; the held one is still out.
            assert_eq!(
                (report.connections.in_use, report.connections.idle),
                (1, 1),
                "{binding:?}: {:?}",
                report.connections
            );
            let server = report.server.clone().expect("PostgreSQL has a server view");
            assert_eq!(server.application_name.as_deref(), Some(name.as_str()));
            // The held connection and the check's own, by application_name.
            assert_eq!(server.pool_connections, Some(2), "{binding:?}: {server:?}");
            assert!(server.server_connections >= 2, "{binding:?}: {server:?}");
            assert!(server.max_connections > 0, "{binding:?}: {server:?}");
            if multi_host {
                // Both connections on the first host (hosts are walked in order); each
                // host answered as the primary it is.
                let seen: Vec<_> = report
                    .hosts
                    .iter()
                    .map(|host| {
                        (
                            host.reachable,
                            host.role,
                            host.error.clone(),
                            host.connections,
                        )
                    })
                    .collect();
                assert_eq!(
                    seen,
                    [
                        (true, Some("primary"), None, 2),
                        (true, Some("primary"), None, 0)
                    ],
                    "{binding:?}: {:#?}",
                    report.hosts
                );
            } else {
                assert!(report.hosts.is_empty(), "{binding:?}: one host");
            }
            assert_eq!(report.breakers.len(), 1, "{binding:?}");
            assert_eq!(report.metrics.connections_created, 2, "{binding:?}");
            let json = serde_json::to_string(&report).unwrap();
            let value: serde_json::Value = serde_json::from_str(&json).unwrap();
            assert_eq!(value["status"], "healthy");
            assert_eq!(value["server"]["pool_connections"], 2);
            shapes.push(shape(&value));
            orders.push(top_level_keys(&json));
            host_tables.push(value["hosts"].clone());
            drop(held);
            pool.close().await;
        }
        assert_eq!(
            shapes[0], shapes[1],
            "{url}: pool-sqlx's shape, then pool-postgres's"
        );
        assert_eq!(orders[0], orders[1], "{url}: the keys' order");
        assert_eq!(host_tables[0], host_tables[1], "{url}: the same hosts");
        assert!(shapes[0].contains("server.max_connections: number"));
        assert!(shapes[0].contains("metrics.acquire_latency.p99_ms: number"));
        assert_eq!(
            shapes[0].contains("hosts[].role: string"),
            multi_host,
            "{url}"
        );
    }
    db.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_server_is_unhealthy_within_the_timeout_on_both_bindings() {
    // Port 1: nothing listens there, the connect is refused at once. The pools would wait
    // far longer than the health check (acquire timeout 30 s).
    let url = format!("postgres://app:{SECRET}@127.0.0.1:1/db?connect_timeout=30");
    let limit = Duration::from_secs(1);
    let registry = registry();
    let mut shapes = Vec::new();
    for binding in BINDINGS {
        let name = format!("unreachable_{binding:?}").to_ascii_lowercase();
        let pool = AnyPool::build(binding, &url, &name, Some(Duration::from_secs(30)));
        let started = Instant::now();
        let report = pool.health(limit, &registry).await;
        let took = started.elapsed();
        assert!(
            took < limit + Duration::from_millis(500),
            "{binding:?}: {took:?}"
        );
        assert_eq!(
            report.status,
            HealthStatus::Unhealthy,
            "{binding:?}: {report:#?}"
        );
        assert_eq!(report.http_status(), 503);
        assert!(!report.check.ok);
        let error = report.check.error.clone().expect("why it failed");
        assert!(!error.is_empty(), "{binding:?}");
        assert!(report.check.latency_ms <= took.as_secs_f64() * 1000.0 + 1.0);
        assert_eq!(report.server, None, "{binding:?}");
        assert_eq!(
            report.connections.waiting, 0,
            "{binding:?}: the checkout was dropped"
        );
        assert!(
            report.database.contains("app:***@127.0.0.1:1"),
            "{}",
            report.database
        );
        let json = serde_json::to_string(&report).unwrap();
        assert!(!json.contains(SECRET), "{binding:?}: {json}");
        assert!(!format!("{report:?}").contains(SECRET), "{binding:?}");
        shapes.push(shape(&serde_json::from_str(&json).unwrap()));
        pool.close().await;
    }
    // The error's text is the binding's own; where it is and its type are not.
    assert_eq!(
        shapes[0], shapes[1],
        "pool-sqlx's shape, then pool-postgres's"
    );
}

/// Every metric the recorder saw for the pool `pool`: `name{label=value,…}` without the
/// label naming the pool (`pool`, or OpenTelemetry's `db.client.connection.pool.name`),
/// labels sorted.
fn metric_keys(
    snapshot: &[(
        metrics_util::CompositeKey,
        metrics_util::debugging::DebugValue,
    )],
    pool: &str,
) -> BTreeSet<String> {
    snapshot
        .iter()
        .filter_map(|(key, _)| {
            let key = key.key();
            let mut labels: Vec<String> = Vec::new();
            let mut ours = false;
            for label in key.labels() {
                if label.key() == "pool" || label.key() == names::otel::POOL_NAME_KEY {
                    ours = label.value() == pool;
                } else {
                    labels.push(format!("{}={}", label.key(), label.value()));
                }
            }
            labels.sort();
            ours.then(|| format!("{}{{{}}}", key.name(), labels.join(",")))
        })
        .collect()
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn both_bindings_export_the_same_metric_names() {
    let Some(db) = db::postgres("pg_health_metrics").await else {
        return;
    };
    // This test's own recorder (metrics' thread-local default, which the current-thread
    // runtime applies to the pools' tasks too), installed before the pools are built.
    let recorder: &'static DebuggingRecorder = Box::leak(Box::new(DebuggingRecorder::new()));
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(recorder);
    let registry = registry();
    let mut names_by_pool = Vec::new();
    // Under the default names, then under OpenTelemetry's, chosen by the URL.
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let otel_url = format!("{}{separator}metric_names=opentelemetry", db.url);
    for (scheme, url) in [("pool", &db.url), ("otel", &otel_url)] {
        for binding in BINDINGS {
            let name = format!("metrics_{scheme}_{binding:?}").to_ascii_lowercase();
            let pool = AnyPool::build(binding, url, &name, None);
            // The script: a query, two at once (one opens a second connection), health,
            // close.
            pool.select_one().await;
            let first = pool.hold().await;
            let second = pool.hold().await;
            drop((first, second));
            let report = pool.health(Duration::from_secs(5), &registry).await;
            assert_eq!(
                report.status,
                HealthStatus::Healthy,
                "{binding:?}: {report:#?}"
            );
            pool.close().await;
            names_by_pool.push(name);
        }
    }
    let snapshot: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| (key, value))
        .collect();
    let sqlx = metric_keys(&snapshot, &names_by_pool[0]);
    let postgres = metric_keys(&snapshot, &names_by_pool[1]);
    assert_eq!(sqlx, postgres, "pool-sqlx's metrics, then pool-postgres's");
    // Every pool metric of pool_core::names is there, but the multi-host gauge (a URL of
    // one host has none).
    let seen: BTreeSet<&str> = sqlx
        .iter()
        .map(|key| key.split('{').next().unwrap_or(key))
        .collect();
    for name in [
        names::CHECKOUTS,
        names::ACQUIRE_SECONDS,
        names::SLOW_ACQUIRES,
        names::CREATED,
        names::CLOSED,
        names::CONNECT_ERRORS,
        names::LEAKS,
        names::RECOVERED,
        names::CONNECTIONS,
        names::WAITING,
        names::MAX_SIZE,
        names::LIMIT,
    ] {
        assert!(seen.contains(name), "{name} missing from {seen:?}");
    }
    assert!(!seen.contains(names::HOST_CONNECTIONS), "{seen:?}");
    // No name outside pool_core::names.
    for name in &seen {
        assert!(
            names::ALL.contains(name),
            "{name} is not in pool_core::names"
        );
    }
    // Under OpenTelemetry's names (the URL's `metric_names`, read by pool-facts for both),
    // the same names on both bindings: the conventions' where they name the figure, the
    // rest as before.
    let sqlx_otel = metric_keys(&snapshot, &names_by_pool[2]);
    let postgres_otel = metric_keys(&snapshot, &names_by_pool[3]);
    assert_eq!(
        sqlx_otel, postgres_otel,
        "pool-sqlx's metrics, then pool-postgres's, under OpenTelemetry's names"
    );
    let seen_otel: BTreeSet<&str> = sqlx_otel
        .iter()
        .map(|key| key.split('{').next().unwrap_or(key))
        .collect();
    let mut expected: BTreeSet<&str> = seen
        .iter()
        .copied()
        .filter(|name| !names::otel::REPLACED.contains(name))
        .collect();
    expected.extend(names::otel::ALL);
    assert_eq!(seen_otel, expected);
    db.cleanup().await;
}

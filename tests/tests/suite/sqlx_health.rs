//! `health`: healthy on SQLite, PostgreSQL and MariaDB with the server's view of its
//! connections; unhealthy within the time limit against a server that never answers;
//! degraded with a forced-open breaker; no password in the JSON.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use pool_sqlx::{
    BreakerConfig, BreakerRegistry, BreakerState, Config, Health, HealthStatus, Pool, Preset,
    SqlxManager, health, health_with,
    sqlx::{MySql, Postgres, Sqlite},
};
use tests::db;

const SECRET: &str = "h3alth-S3cret";

/// The fields every report has, whatever its status.
fn assert_well_formed(report: &Health, backend: &str) {
    assert_eq!(report.backend, backend);
    let stamp = humantime::parse_rfc3339(&report.checked_at).unwrap();
    let age = std::time::SystemTime::now().duration_since(stamp).unwrap();
    assert!(age < Duration::from_secs(60), "{}", report.checked_at);
    assert!(report.checked_at.ends_with('Z'), "{}", report.checked_at);
    assert!(report.check.latency_ms >= 0.0);
    let json: serde_json::Value = serde_json::to_value(report).unwrap();
    for key in [
        "status",
        "checked_at",
        "pool",
        "backend",
        "database",
        "check",
        "connections",
        "breakers",
        "server",
        "metrics",
    ] {
        assert!(json.get(key).is_some(), "{key} missing from {json}");
    }
    assert_eq!(json["status"], report.status.as_str());
}

fn assert_healthy(report: &Health) {
    assert_eq!(report.status, HealthStatus::Healthy, "{report:#?}");
    assert!(report.is_healthy());
    assert_eq!(report.http_status(), 200);
    assert!(report.check.ok);
    assert_eq!(report.check.error, None);
    assert_eq!(report.check.server_error, None);
    assert!(report.check.latency_ms > 0.0);
    // The check's connection went back to the pool.
    assert_eq!(report.connections.in_use, 0);
    assert!(report.connections.idle >= 1);
}

#[tokio::test]
async fn sqlite_is_healthy_without_a_server_view() {
    let (_dir, url) = db::sqlite("health");
    let pool = Config::from_url(&url)
        .unwrap()
        .build_pool::<Sqlite>("lite")
        .unwrap();
    let report = health(&pool, Duration::from_secs(5)).await;
    assert_well_formed(&report, "sqlite");
    assert_healthy(&report);
    assert_eq!(report.pool, "lite");
    assert_eq!(report.server, None);
    assert_eq!(report.metrics.connections_created, 1);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "healthy");
    assert!(json["server"].is_null());
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn postgres_is_healthy_and_counts_its_connections_by_application_name() {
    let Some(db) = db::postgres("pg_health").await else {
        return;
    };
    let pool = Config::from_url(&db.url)
        .unwrap()
        .build_pool::<Postgres>(&format!("{}_app", db.name))
        .unwrap();
    let held = pool.get().await.unwrap();
    let report = health(&pool, Duration::from_secs(5)).await;
    assert_well_formed(&report, "postgres");
    assert_eq!(report.status, HealthStatus::Healthy, "{report:#?}");
    assert_eq!(report.http_status(), 200);
    let server = report.server.clone().expect("PostgreSQL has a server view");
    assert_eq!(
        server.application_name.as_deref(),
        Some(format!("{}_app", db.name).as_str())
    );
    // The held connection and the check's own.
    assert_eq!(server.pool_connections, Some(2));
    assert!(server.server_connections >= 2);
    assert!(server.max_connections > 0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["server"]["pool_connections"], 2);
    drop(held);
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test]
async fn mariadb_is_healthy_and_reports_threads_connected() {
    let Some(db) = db::mysql("my_health").await else {
        return;
    };
    let pool = Config::from_url(&db.url)
        .unwrap()
        .build_pool::<MySql>("my")
        .unwrap();
    let report = health(&pool, Duration::from_secs(5)).await;
    assert_well_formed(&report, "mysql");
    assert_healthy(&report);
    let server = report.server.clone().expect("MySQL has a server view");
    assert!(server.server_connections >= 1, "{server:?}");
    assert!(server.max_connections > 0, "{server:?}");
    assert_eq!(server.pool_connections, None);
    pool.close().await;
    db.cleanup().await;
}

/// A loopback server that accepts connections and never says a word.
async fn silent_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn a_server_that_never_answers_is_unhealthy_within_the_timeout() {
    let port = silent_server().await;
    // Pool limits far longer than the health check's: the check's own limit must cut it.
    let pool: Pool<SqlxManager<Postgres>> = Config::from_url(&format!(
        "postgres://app:{SECRET}@127.0.0.1:{port}/db?connect_timeout=60&pool_timeout=60"
    ))
    .unwrap()
    .build_pool::<Postgres>("silent")
    .unwrap();
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let report = health(&pool, limit).await;
    let took = started.elapsed();
    assert!(took >= limit, "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_well_formed(&report, "postgres");
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert!(!report.is_healthy());
    assert_eq!(report.http_status(), 503);
    assert!(!report.check.ok);
    let error = report.check.error.clone().unwrap();
    assert!(error.contains("timeout"), "{error}");
    assert!(
        report.check.latency_ms >= 300.0,
        "{}",
        report.check.latency_ms
    );
    assert_eq!(report.server, None);
    // The cancelled checkout left no caller waiting (the pool's connect goes on in the
    // background under its own connect timeout, so it may still count as in use).
    assert_eq!(report.connections.waiting, 0);
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(SECRET), "{json}");
    assert!(json.contains("app:***@127.0.0.1"), "{json}");
}

/// A loopback proxy to `upstream` that stops forwarding (holding its sockets open) once
/// the returned flag is set.
async fn stalling_proxy(upstream: std::net::SocketAddr) -> (u16, Arc<AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        stalled: Arc<AtomicBool>,
    ) {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0 {
                break;
            }
            if stalled.load(Ordering::SeqCst) {
                // Swallow everything from now on: the other side hears nothing.
                std::future::pending::<()>().await;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stalled = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stalled);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                continue;
            };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::spawn(pump(client_read, server_write, Arc::clone(&flag)));
            tokio::spawn(pump(server_read, client_write, Arc::clone(&flag)));
        }
    });
    (port, stalled)
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn a_connection_that_stops_answering_is_unhealthy_within_the_timeout() {
    let Some(db) = db::postgres("pg_health_stall").await else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let upstream = (
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    );
    let upstream = tokio::net::lookup_host(upstream)
        .await
        .unwrap()
        .next()
        .unwrap();
    let (port, stalled) = stalling_proxy(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(port)).unwrap();
    let pool = Config::from_url(url.as_str())
        .unwrap()
        .pool_builder::<Postgres>("stall")
        .unwrap()
        .max_size(1)
        .validation(pool_sqlx::Validation::Always)
        .build()
        .unwrap();
    let report = health(&pool, Duration::from_secs(5)).await;
    assert_eq!(report.status, HealthStatus::Healthy, "{report:#?}");
    assert_eq!(report.metrics.connections_created, 1);

    // The open connection's server goes quiet: the ping gets no answer.
    stalled.store(true, Ordering::SeqCst);
    let limit = Duration::from_millis(300);
    let started = Instant::now();
    let report = health(&pool, limit).await;
    let took = started.elapsed();
    assert!(took >= limit && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert_eq!(report.http_status(), 503);
    assert!(
        report.check.error.as_deref().unwrap().contains("timeout"),
        "{report:#?}"
    );
    // The connection cut off mid-ping was closed, not handed to the next caller.
    assert_eq!(report.connections.size, 0, "{report:#?}");
    pool.close().await;
    db.cleanup().await;
}

#[tokio::test]
async fn a_refused_connection_is_unhealthy_with_its_error() {
    // Bind then drop: nothing listens on the port any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let pool = Config::from_url(&format!("postgres://app@127.0.0.1:{port}/db"))
        .unwrap()
        .with_preset(Preset::Test)
        .pool_builder::<Postgres>("refused")
        .unwrap()
        .acquire_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let report = health(&pool, Duration::from_secs(5)).await;
    assert_eq!(report.status, HealthStatus::Unhealthy);
    assert_eq!(report.http_status(), 503);
    assert!(report.check.error.is_some());
}

#[tokio::test]
async fn a_forced_open_breaker_degrades_a_passing_check() {
    let (_dir, url) = db::sqlite("health_breaker");
    let pool = Config::from_url(&url)
        .unwrap()
        .build_pool::<Sqlite>("lite")
        .unwrap();
    // A registry of its own: forcing a process-wide breaker open would degrade the other
    // tests' reports.
    let registry = BreakerRegistry::new();
    let breaker = registry
        .define("health-db", BreakerConfig::default())
        .unwrap();
    registry
        .define("health-other", BreakerConfig::default())
        .unwrap();
    let report = health_with(&pool, Duration::from_secs(5), &registry).await;
    assert_healthy(&report);
    assert_eq!(report.breakers.len(), 2);

    breaker.force_open();
    let report = health_with(&pool, Duration::from_secs(5), &registry).await;
    assert_well_formed(&report, "sqlite");
    assert!(report.check.ok);
    assert_eq!(report.status, HealthStatus::Degraded);
    assert!(!report.is_healthy());
    assert_eq!(report.http_status(), 503);
    let names: Vec<_> = report.breakers.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["health-db", "health-other"]);
    assert_eq!(report.breakers[0].state, BreakerState::ForcedOpen);
    assert_eq!(report.breakers[1].state, BreakerState::Closed);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "degraded");
    assert_eq!(json["breakers"][0]["state"], "forced_open");
    assert_eq!(json["breakers"][0]["calls"], 0);

    breaker.reset();
    let report = health_with(&pool, Duration::from_secs(5), &registry).await;
    assert_eq!(report.status, HealthStatus::Healthy);
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test]
async fn no_password_in_the_report_of_a_server_pool() {
    let Some(db) = db::postgres("pg_health_pw").await else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    url.set_password(Some(SECRET)).unwrap();
    let pool = Config::from_url(url.as_str())
        .unwrap()
        .build_pool::<Postgres>("pw")
        .unwrap();
    // Healthy or not (the server may or may not ask for a password), no secret shows.
    let report = health(&pool, Duration::from_secs(5)).await;
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(SECRET), "{json}");
    assert!(report.database.contains(":***@"), "{}", report.database);
    assert!(!format!("{report:?}").contains(SECRET));
    pool.close().await;
    db.cleanup().await;
}

/// `json` with the value after each `"key":` in `keys` (a scalar: up to the next `,` or
/// `}`) replaced by `_`: what differs between two runs (times, temporary paths).
fn blank(json: &str, keys: &[&str]) -> String {
    let mut out = json.to_owned();
    for key in keys {
        let needle = format!("\"{key}\":");
        let mut from = 0;
        while let Some(at) = out[from..].find(&needle) {
            let start = from + at + needle.len();
            let end = start
                + out[start..]
                    .find([',', '}'])
                    .expect("a scalar value ends with , or }");
            out.replace_range(start..end, "_");
            from = start + 1;
        }
    }
    out
}

/// pool-sqlx's report as a health endpoint serves it, byte for byte (key order, names,
/// nesting, `null`s), times and the file's path aside: the shape its users parse, pinned
/// across the move of the report's types to pool-facts.
#[tokio::test]
async fn the_json_of_a_report_is_byte_for_byte_what_it_was() {
    let (_dir, url) = db::sqlite("health_golden");
    let pool = Config::from_url(&url)
        .unwrap()
        .build_pool::<Sqlite>("golden")
        .unwrap();
    let registry = BreakerRegistry::new();
    registry
        .define("golden-db", BreakerConfig::default())
        .unwrap();
    let report = health_with(&pool, Duration::from_secs(5), &registry).await;
    let json = serde_json::to_string(&report).unwrap();
    let json = blank(
        &json,
        &[
            "checked_at",
            "database",
            "latency_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            // Direct or waited: whether the pool's first connect was under way already.
            "checkouts_direct",
            "checkouts_waited",
        ],
    );
    let golden = concat!(
        r#"{"status":"healthy","checked_at":_,"pool":"golden","backend":"sqlite","database":_,"#,
        r#""check":{"ok":true,"latency_ms":_,"error":null,"server_error":null},"#,
        r#""connections":{"max_size":10,"limit":10,"size":1,"idle":1,"in_use":0,"waiting":0},"#,
        r#""breakers":[{"name":"golden-db","state":"closed","calls":0,"failures":0,"slow_calls":0}],"#,
        r#""server":null,"#,
        r#""metrics":{"connections_created":1,"closed_broken":0,"closed_invalid":0,"closed_idle":0,"#,
        r#""closed_lifetime":0,"closed_pool":0,"closed_hook":0,"checkouts_direct":_,"#,
        r#""checkouts_waited":_,"checkouts_timed_out":0,"slow_acquires":0,"connect_errors":0,"#,
        r#""leaks":0,"recovered":0,"limit":10,"#,
        r#""acquire_latency":{"p50_ms":_,"p95_ms":_,"p99_ms":_,"count":1}},"#,
        r#""hosts":[]}"#,
    );
    assert_eq!(json, golden);
    pool.close().await;
}

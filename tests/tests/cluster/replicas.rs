#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Read replicas (`pool_sqlx::Replicas`) on a private primary and streaming standby
//! (`tests::cluster`, asynchronous replication: under synchronous replication a paused
//! standby would hold every commit). The cluster starts once for the binary: one test
//! runs the parts in order.
//!
//! - **Routing.** The standby added twice (two replica pools): once the probe has seen it
//!   caught up, reads alternate between the two replica pools (round-robin) and land on
//!   the standby's port; writes go to the primary.
//!   `#[pooled(read)]` functions taking the set (alone and under `#[resilient]`) read
//!   from the standby too; a write in one is refused by the standby (25006, class
//!   `Connection`).
//! - **Read-your-writes, replay running.** 200 times: insert a row on the primary, read
//!   its token, read the row at once through `replica_after`: every read sees its row.
//!   Then 20 inserts through `Replicas::transaction` (the transaction engine), each read
//!   back at once through `replica_after` with the token it returned.
//! - **Scenario 3 of issue #15: replica lag.** A writer inserts every 5 ms, a reader asks
//!   `replica()` every 5 ms. Replay is paused on the standby (`pg_wal_replay_pause()`):
//!   reads leave it once its lag passes `max_replica_lag` (no read routed to it from the
//!   moment it left until replay resumes), and come back after `pg_wal_replay_resume()`.
//!   Read-your-writes holds throughout: while paused, each read after a write waits up to
//!   the bound and is served by the primary; after the resume, by the standby again.
//!   Printed: the bound, the times to leave and return, where reads went, and the
//!   read-your-writes results of each phase.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Config, Error, PgPool, Replicas, Resilience, pooled, resilient,
    sqlx::{self, Connection, PgConnection},
};
use tests::{
    cluster::{Cluster, Replication},
    figures::Figures,
};
use tokio::time::Instant;

const MAX_LAG: Duration = Duration::from_millis(500);
const PROBE_EVERY: Duration = Duration::from_millis(100);
const RYW_WAIT: Duration = Duration::from_millis(200);
const LIMIT: Duration = Duration::from_secs(120);

fn config(url: &str) -> Config {
    Config::from_url(&format!(
        "{url}?connection_limit=4&pool_timeout=2&connect_timeout=1"
    ))
    .unwrap()
}

async fn port(pool: &PgPool) -> u16 {
    let mut conn = pool.get().await.unwrap();
    let port: i32 = sqlx::query_scalar("SELECT inet_server_port()")
        .fetch_one(&mut **conn)
        .await
        .unwrap();
    u16::try_from(port).unwrap()
}

/// A read through the attribute: takes the set, checks out from `replica()`.
#[pooled(read)]
async fn read_port(conn: &mut PgConnection) -> Result<u16, Error> {
    let port: i32 = sqlx::query_scalar("SELECT inet_server_port()")
        .fetch_one(&mut *conn)
        .await?;
    Ok(u16::try_from(port).unwrap_or(0))
}

/// The same, retried: each attempt asks the set for a replica anew.
#[resilient(retries = 2, timeout = "2s")]
#[pooled(read)]
async fn retried_read_port(conn: &mut PgConnection) -> Result<u16, Error> {
    let port: i32 = sqlx::query_scalar("SELECT inet_server_port()")
        .fetch_one(&mut *conn)
        .await?;
    Ok(u16::try_from(port).unwrap_or(0))
}

/// A write on a read path: the replica refuses it.
#[pooled(read)]
async fn write_on_a_read_path(conn: &mut PgConnection) -> Result<(), Error> {
    sqlx::query("INSERT INTO t (id) VALUES (-1)")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Waits (bounded) until `done` holds, polling every 10 ms; the time it took.
async fn until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

fn qualifies(set: &Replicas) -> bool {
    set.status()
        .replicas
        .iter()
        .all(|replica| replica.qualifies)
}

/// Read-your-writes results: reads that saw their write, by who served them.
#[derive(Debug, Default)]
struct Ryw {
    by_replica: u64,
    by_primary: u64,
    missed: u64,
    max_wait: Duration,
}

impl std::fmt::Display for Ryw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} reads saw their write ({} from the standby, {} from the primary), {} missed it, \
             longest routing wait {:.1?}",
            self.by_replica + self.by_primary,
            self.by_replica,
            self.by_primary,
            self.missed,
            self.max_wait
        )
    }
}

/// Inserts `id` on the primary, takes the token, reads the row back through
/// `replica_after`.
async fn write_then_read(set: &Replicas, id: i64, ryw: &mut Ryw) {
    let mut conn = set.primary().get().await.unwrap();
    sqlx::query("INSERT INTO t (id) VALUES ($1)")
        .bind(id)
        .execute(&mut **conn)
        .await
        .unwrap();
    drop(conn);
    let token = set.write_token().await;
    assert!(token.lsn().is_some(), "the token was read");
    let asked = Instant::now();
    let pool = set.replica_after(&token).await;
    ryw.max_wait = ryw.max_wait.max(asked.elapsed());
    let mut conn = pool.get().await.unwrap();
    let seen: Option<i64> = sqlx::query_scalar("SELECT id FROM t WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **conn)
        .await
        .unwrap();
    drop(conn);
    if seen != Some(id) {
        ryw.missed += 1;
    } else if std::ptr::eq(pool, set.primary()) {
        ryw.by_primary += 1;
    } else {
        ryw.by_replica += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_replicas_on_a_real_standby() {
    tokio::time::timeout(LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let cluster = Arc::new(cluster);
        let mut admin = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (id bigint PRIMARY KEY)")
            .execute(&mut admin)
            .await
            .unwrap();
        let standby_url = cluster.standby_url("postgres");
        let set = Replicas::builder(config(&cluster.primary_url("postgres")))
            .name("replicas-test")
            .replica(config(&standby_url))
            .replica(config(&standby_url))
            .max_replica_lag(MAX_LAG)
            .probe_every(PROBE_EVERY)
            .read_your_writes_wait(RYW_WAIT)
            .build()
            .unwrap();
        routing(&cluster, &set).await;
        read_your_writes_running(&set).await;
        scenario_3_replica_lag(&cluster, &set).await;
        set.close().await;
    })
    .await
    .expect("the scenarios finished in time");
}

async fn routing(cluster: &Cluster, set: &Replicas) {
    let figures = Figures::new("replicas/routing");
    let joined = until("the replicas qualify", Duration::from_secs(10), || {
        qualifies(set)
    })
    .await;
    let mut names = Vec::new();
    for _ in 0..6 {
        let pool = set.replica();
        assert_eq!(
            port(pool).await,
            cluster.standby_port(),
            "reads on the standby"
        );
        names.push(pool.name().to_owned());
    }
    assert_eq!(port(set.primary()).await, cluster.primary_port());
    assert_eq!(read_port(set).await.unwrap(), cluster.standby_port());
    assert_eq!(
        retried_read_port(set).await.unwrap(),
        cluster.standby_port()
    );
    let refused = write_on_a_read_path(set).await.unwrap_err();
    let code = refused
        .as_sqlx()
        .and_then(|error| error.as_database_error())
        .and_then(|error| error.code())
        .map(|code| code.into_owned());
    assert_eq!(code.as_deref(), Some("25006"), "{refused}");
    assert_eq!(
        pool_sqlx::Classify::class(&refused),
        pool_sqlx::ErrorClass::Connection
    );
    assert!(
        names.windows(2).all(|pair| pair[0] != pair[1]),
        "round-robin over the two replica pools: {names:?}"
    );
    let status = set.status();
    let json = serde_json::to_string(&status).unwrap();
    assert!(json.contains("\"qualifies\":true"), "{json}");
    let health = set.health(Duration::from_secs(2)).await;
    assert_eq!(
        health.status,
        pool_sqlx::HealthStatus::Healthy,
        "{health:?}"
    );
    figures.note("build to both replicas qualifying", format!("{joined:.3?}"));
    figures.note("reads", names.join(" "));
    figures.note("status", json);
    figures.print();
}

async fn read_your_writes_running(set: &Replicas) {
    let figures = Figures::new("replicas/read-your-writes-running");
    let mut ryw = Ryw::default();
    for id in 0..200 {
        write_then_read(set, id, &mut ryw).await;
    }
    // Through the transaction engine: the token comes with the committed value.
    let policy = Resilience::builder("replicas-test").retries(2).build();
    let mut by_replica = 0;
    for id in 500..520_i64 {
        let (inserted, token) = set
            .transaction(&policy, |conn| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO t (id) VALUES ($1)")
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                    Ok::<_, Error>(id)
                })
            })
            .await
            .unwrap();
        let pool = set.replica_after(&token).await;
        let seen: Option<i64> = sqlx::query_scalar("SELECT id FROM t WHERE id = $1")
            .bind(inserted)
            .fetch_optional(&mut **pool.get().await.unwrap())
            .await
            .unwrap();
        assert_eq!(seen, Some(id), "read after the transaction sees it");
        if !std::ptr::eq(pool, set.primary()) {
            by_replica += 1;
        }
    }
    figures.note("read-your-writes, replay running", &ryw);
    figures.note(
        "read-your-writes after Replicas::transaction",
        format!("20 of 20 saw their row, {by_replica} from the standby"),
    );
    figures.print();
    assert_eq!(ryw.missed, 0, "{ryw}");
    assert!(
        ryw.by_replica > 0,
        "with replay running, replicas serve reads-after-writes: {ryw}"
    );
}

async fn scenario_3_replica_lag(cluster: &Arc<Cluster>, set: &Replicas) {
    let figures = Figures::new("replicas/scenario-3-replica-lag");
    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicI64::new(1_000_000));
    let writer = {
        let (set, stop, next_id) = (set.clone(), Arc::clone(&stop), Arc::clone(&next_id));
        tokio::spawn(async move {
            let mut writes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut conn = set.primary().get().await.unwrap();
                sqlx::query("INSERT INTO t (id) VALUES ($1)")
                    .bind(next_id.fetch_add(1, Ordering::Relaxed))
                    .execute(&mut **conn)
                    .await
                    .unwrap();
                writes += 1;
                drop(conn);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            writes
        })
    };
    // (when routed, routed to the standby)
    let routed: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let reader = {
        let (set, stop, routed) = (set.clone(), Arc::clone(&stop), Arc::clone(&routed));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let at = Instant::now();
                let pool = set.replica();
                let on_standby = !std::ptr::eq(pool, set.primary());
                let mut conn = pool.get().await.unwrap();
                let _: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap();
                drop(conn);
                routed.lock().unwrap().push((at, on_standby));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(qualifies(set), "the replicas qualify before the pause");

    let pausing = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || pausing.pause_replay())
        .await
        .unwrap();
    let paused = Instant::now();
    // Right after the pause the standby still qualifies: a read after a write waits for
    // it to replay the write, up to the bound, then goes to the primary.
    let mut ryw_pausing = Ryw::default();
    write_then_read(set, 1_900_000, &mut ryw_pausing).await;
    until(
        "the paused standby leaves the read set",
        Duration::from_secs(10),
        || {
            set.status()
                .replicas
                .iter()
                .all(|replica| !replica.qualifies)
        },
    )
    .await;
    let left = Instant::now();
    let to_leave = left - paused;
    let lag_at_leave = set.status().replicas.first().and_then(|r| r.lag_ms);
    let reason = set
        .status()
        .replicas
        .first()
        .and_then(|r| r.reason.clone())
        .unwrap_or_default();
    let attribute_read_while_out = read_port(set).await.unwrap();
    let mut ryw_paused = Ryw::default();
    for id in 0..20 {
        write_then_read(set, 2_000_000 + id, &mut ryw_paused).await;
    }
    let degraded = set.health(Duration::from_secs(2)).await.status;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let resuming = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || resuming.resume_replay())
        .await
        .unwrap();
    let resumed = Instant::now();
    let to_return = until(
        "the standby returns to the read set",
        Duration::from_secs(10),
        || qualifies(set),
    )
    .await;
    let returned = Instant::now();
    let mut ryw_after = Ryw::default();
    for id in 0..50 {
        write_then_read(set, 3_000_000 + id, &mut ryw_after).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let writes = writer.await.unwrap();
    reader.await.unwrap();

    let routed = routed.lock().unwrap().clone();
    let count = |from: Instant, to: Instant| {
        let window: Vec<bool> = routed
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, on_standby)| *on_standby)
            .collect();
        let standby = window.iter().filter(|on| **on).count();
        (standby, window.len() - standby)
    };
    let far = Instant::now() + Duration::from_secs(3600);
    let before = count(paused - Duration::from_secs(10), paused);
    let pausing_window = count(paused, left);
    let out = count(left, resumed);
    let after = count(returned, far);

    figures.note("max_replica_lag", format!("{MAX_LAG:?}"));
    figures.note("probe period", format!("{PROBE_EVERY:?}"));
    figures.note("writes on the primary", writes);
    figures.note("pause to leaving the read set", format!("{to_leave:.3?}"));
    figures.note(
        "lag when it left",
        format!("{lag_at_leave:?} ms ({reason})"),
    );
    figures.note("resume to returning", format!("{to_return:.3?}"));
    let split =
        |(standby, primary): (usize, usize)| format!("{standby} standby / {primary} primary");
    figures.note("reads before the pause", split(before));
    figures.note("reads from pause to leaving", split(pausing_window));
    figures.note("reads from leaving to resume", split(out));
    figures.note("reads after returning", split(after));
    figures.note("set health while out", degraded.as_str());
    figures.note(
        "read-your-writes, just paused (replica still in)",
        &ryw_pausing,
    );
    figures.note("read-your-writes, replay paused", &ryw_paused);
    figures.note("read-your-writes, after the resume", &ryw_after);
    figures.print();

    assert_eq!(
        attribute_read_while_out,
        cluster.primary_port(),
        "#[pooled(read)] reads from the primary while the standby is out"
    );
    assert!(before.0 > 0, "reads used the standby before the pause");
    assert_eq!(out.0, 0, "no read routed to the standby while it was out");
    assert!(out.1 > 0, "reads went on, on the primary");
    assert!(after.0 > 0, "reads came back to the standby");
    assert!(
        to_leave < MAX_LAG + 4 * PROBE_EVERY + Duration::from_millis(500),
        "left {to_leave:?} after the pause"
    );
    assert_eq!(degraded, pool_sqlx::HealthStatus::Degraded);
    assert_eq!(ryw_pausing.missed, 0, "{ryw_pausing}");
    assert_eq!(ryw_pausing.by_replica, 0, "{ryw_pausing}");
    assert!(ryw_pausing.max_wait >= RYW_WAIT, "{ryw_pausing}");
    assert_eq!(ryw_paused.missed, 0, "{ryw_paused}");
    assert_eq!(ryw_paused.by_replica, 0, "{ryw_paused}");
    assert_eq!(ryw_after.missed, 0, "{ryw_after}");
    assert!(ryw_after.by_replica > 0, "{ryw_after}");
}

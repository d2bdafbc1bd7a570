#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #15's failover scenarios on a private primary and streaming standby
//! (`tests::cluster`), through a multi-host URL with `target_session_attrs=read-write`.
//!
//! 1. **Promotion under load.** 32 tasks insert unique keys through a `#[resilient]`
//!    function (not `idempotent`) for 8 s; at 2 s the primary is stopped with
//!    `-m immediate` and the standby promoted. (The 20 s with the kill at 5 s
//!    with `FAILOVER_LENGTHS=full`; 8 s/2 s keeps the suite fast and still gives seconds
//!    of load on each side of the failover.) Synchronous replication: every insert the caller saw succeed is in
//!    the table afterwards, no key twice. Asynchronous: the same, except acknowledged
//!    writes lost in the crash are counted and printed, not failed on. Printed: the time
//!    from the kill to the first success on the new primary, and from the promotion;
//!    the pool's size, sampled every 10 ms, never above `max_size`.
//! 2. **The old primary turns read-only under live connections** (a switchover, or a
//!    fenced old primary): 16 tasks insert through the same `#[resilient]` function; the
//!    primary is made read-only (`default_transaction_read_only`, reloaded: the pool's
//!    open connections to it stay open), then the standby promoted. Writes the old
//!    primary refuses with 25006 are retried on a fresh connection, which the walk opens
//!    on the new primary: no caller sees an error, and the old primary's row count does
//!    not move after it turned read-only. Both bindings at once, from one body (a
//!    `Writer` each: its pool and the same insert), through the one fence and promotion.
//! 5. **Chaos soak, bounded** (synchronous replication, both hosts behind the fault
//!    proxy): 64 tasks insert for 60 s while one of the pool's backends is killed every
//!    200 ms (`pg_terminate_backend`), both hosts are blacked out for 1 s at 15 s, and
//!    the primary is killed and the standby promoted at 30 s; the faults end at 50 s.
//!    0 panics,
//!    0 lost acknowledged writes, no key twice, the pool never above `max_size`, and the
//!    health check passing again within 1 s of the last fault.
//! 4. **Every host down, then back.** The primary stopped for real and the standby cut
//!    off by the fault proxy (every connection reset): calls fail within the acquire
//!    timeout with an error naming both hosts; once both are back, calls succeed on the
//!    same pool, no restart. Both bindings' pools through the one outage, from one body.

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use pool_postgres::PostgresPool;
use pool_sqlx::{
    Config, Error, PgPool, pooled, resilient,
    sqlx::{self, Connection, PgConnection, Postgres},
};
use tests::{
    cluster::{self, Cluster, Replication},
    figures::{FigureKind, Figures},
    proxy::{FaultProxy, Mode},
};
use tokio::time::Instant;

const TASKS: i64 = 32;
const MAX_SIZE: usize = 16;
const SCENARIO_LIMIT: Duration = Duration::from_secs(150);

/// How long the timed scenarios run: the promotion short in `cargo test` (8 s of load
/// with the kill at 2 s) or at the length with `FAILOVER_LENGTHS=full` (20 s with
/// the kill at 5 s), for the figures in RELIABILITY.md; the soak always for 60 s.
struct Lengths {
    load: Duration,
    kill_at: Duration,
    soak: Duration,
    blackout_at: Duration,
    promote_at: Duration,
    faults_end: Duration,
}

fn lengths() -> Lengths {
    let secs = Duration::from_secs;
    // The soak always runs at the bounded length: it is the one scenario whose
    // point is duration (faults repeating for a minute), and the suite's budget holds it.
    let soak = Lengths {
        load: secs(8),
        kill_at: secs(2),
        soak: secs(60),
        blackout_at: secs(15),
        promote_at: secs(30),
        faults_end: secs(50),
    };
    if std::env::var("FAILOVER_LENGTHS").is_ok_and(|value| value == "full") {
        Lengths {
            load: secs(20),
            kill_at: secs(5),
            ..soak
        }
    } else {
        soak
    }
}

/// One insert, not idempotent: a failure whose delivery is unknown (the primary died
/// mid-statement) is not retried, so no key can be written twice. Returns the port of the
/// server that took it.
#[resilient(
    retries = 40,
    backoff = "exponential",
    base = "10ms",
    max_delay = "100ms",
    timeout = "6s"
)]
#[pooled]
async fn insert(conn: &mut PgConnection, key: i64, attempts: &AtomicU64) -> Result<i32, Error> {
    attempts.fetch_add(1, Ordering::Relaxed);
    let port: i32 =
        sqlx::query_scalar("INSERT INTO t (key) VALUES ($1) RETURNING inet_server_port()")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
    Ok(port)
}

/// [`insert`] on pool-postgres: the same statement, the same policy.
#[resilient(
    crate = pool_postgres,
    retries = 40,
    backoff = "exponential",
    base = "10ms",
    max_delay = "100ms",
    timeout = "6s"
)]
#[pooled(crate = pool_postgres)]
async fn insert_postgres(
    conn: &mut pool_postgres::Client,
    key: i64,
    attempts: &AtomicU64,
) -> Result<i32, pool_postgres::Error> {
    attempts.fetch_add(1, Ordering::Relaxed);
    let row = conn
        .query_one_cached(
            "INSERT INTO t (key) VALUES ($1) RETURNING inet_server_port()",
            &[&key],
        )
        .await?;
    Ok(row.get(0))
}

/// A read for scenario 4, not retried: one checkout, bounded by the acquire timeout.
#[pooled]
async fn read(conn: &mut PgConnection) -> Result<i32, Error> {
    Ok(sqlx::query_scalar("SELECT 1").fetch_one(&mut *conn).await?)
}

/// [`read`] on pool-postgres.
#[pooled(crate = pool_postgres)]
async fn read_postgres(conn: &mut pool_postgres::Client) -> Result<i32, pool_postgres::Error> {
    Ok(conn.query_one("SELECT 1::int4", &[]).await?.get(0))
}

/// Spawns `count` tasks that insert fresh keys through [`insert`] until `stop`, counting
/// each outcome in `figures` and handing each success to `acked` with its key and the
/// port of the server that took it.
fn spawn_inserters<W: Writer>(
    count: i64,
    pool: &W,
    stop: &Arc<AtomicBool>,
    next_key: &Arc<AtomicI64>,
    attempts: &Arc<AtomicU64>,
    figures: &Arc<Figures>,
    acked: impl Fn(i64, u16) + Clone + Send + 'static,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..count)
        .map(|_| {
            let (pool, stop, next_key, attempts, figures, acked) = (
                pool.clone(),
                Arc::clone(stop),
                Arc::clone(next_key),
                Arc::clone(attempts),
                Arc::clone(figures),
                acked.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let key = next_key.fetch_add(1, Ordering::Relaxed);
                    let result = pool.insert(key, &attempts).await;
                    figures.outcome(&result);
                    if let Ok(port) = result {
                        acked(key, u16::try_from(port).unwrap_or(0));
                    }
                }
            })
        })
        .collect()
}

/// `url` with the scenarios' pool size, acquire timeout and 1 s connect timeout.
fn sized(url: &str, acquire: &str) -> String {
    format!("{url}&connection_limit={MAX_SIZE}&pool_timeout={acquire}&connect_timeout=1")
}

fn pool(url: &str, name: &str, acquire: &str) -> PgPool {
    Config::from_url(&sized(url, acquire))
        .unwrap()
        .build_pool::<Postgres>(name)
        .unwrap()
}

async fn promotion_under_load(replication: Replication) {
    let name = format!("failover/promotion/{replication:?}").to_lowercase();
    let Some(cluster) = Cluster::start(replication) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let mut admin = PgConnection::connect(&cluster.primary_url("postgres"))
        .await
        .unwrap();
    // No unique constraint: a key written twice shows up as two rows.
    sqlx::raw_sql("CREATE TABLE t (key bigint NOT NULL)")
        .execute(&mut admin)
        .await
        .unwrap();
    drop(admin);
    let url = cluster.multi_host_url("postgres", "target_session_attrs=read-write");
    let pool = pool(&url, &name, "5s");
    let figures = Figures::new(name.clone());
    let started = figures.started();
    let stop = Arc::new(AtomicBool::new(false));
    let next_key = Arc::new(AtomicI64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    // Acknowledged keys, with when and where each was acknowledged.
    let acked: Arc<Mutex<Vec<(i64, Instant, u16)>>> = Arc::default();

    let sampler = {
        let (pool, stop, figures) = (pool.clone(), Arc::clone(&stop), Arc::clone(&figures));
        tokio::spawn(async move {
            let mut over = 0;
            while !stop.load(Ordering::Relaxed) {
                let size = pool.status().size;
                figures.pool_connections(size);
                if size > MAX_SIZE {
                    over += 1;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            over
        })
    };
    let workers = {
        let acked = Arc::clone(&acked);
        spawn_inserters(
            TASKS,
            &pool,
            &stop,
            &next_key,
            &attempts,
            &figures,
            move |key, port| {
                acked.lock().unwrap().push((key, Instant::now(), port));
            },
        )
    };

    tokio::time::sleep_until(started + lengths().kill_at).await;
    let killed = Instant::now();
    let crashing = Arc::clone(&cluster);
    let promoted = tokio::task::spawn_blocking(move || {
        crashing.stop_primary_immediate();
        let down = Instant::now();
        crashing.promote_standby();
        (down, Instant::now())
    })
    .await
    .unwrap();
    let (down, promoted) = promoted;
    tokio::time::sleep_until(started + lengths().load).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let over_max = sampler.await.unwrap();

    let mut check = PgConnection::connect(&cluster.standby_url("postgres"))
        .await
        .unwrap();
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT key, count(*) FROM t GROUP BY key")
        .fetch_all(&mut check)
        .await
        .unwrap();
    let in_table: HashMap<i64, i64> = rows.into_iter().collect();
    let acked = acked.lock().unwrap().clone();
    let twice = in_table.values().filter(|count| **count > 1).count();
    let lost: Vec<i64> = acked
        .iter()
        .map(|(key, _, _)| *key)
        .filter(|key| !in_table.contains_key(key))
        .collect();
    let new_primary = cluster.standby_port();
    let first_on_new = acked
        .iter()
        .filter(|(_, at, port)| *port == new_primary && *at >= down)
        .map(|(_, at, _)| *at)
        .min();
    let kill_to_first = first_on_new.map(|at| at - killed);
    let promotion_to_first = first_on_new.map(|at| at.saturating_duration_since(promoted));

    figures.retries(attempts.load(Ordering::Relaxed) - figures.operations());
    figures.note("acknowledged inserts", acked.len());
    figures.note("rows in the table", in_table.values().sum::<i64>());
    figures.note("lost acknowledged writes", lost.len());
    figures.note("keys twice", twice);
    figures.note("kill to primary down", format!("{:.3?}", down - killed));
    figures.note(
        "kill to promotion done",
        format!("{:.3?}", promoted - killed),
    );
    figures.note(
        "kill to first success on the new primary",
        format!("{kill_to_first:.3?}"),
    );
    figures.note(
        "promotion to first success",
        format!("{promotion_to_first:.3?}"),
    );
    figures.note("samples above max_size", over_max);
    figures.print();

    assert_eq!(twice, 0, "no key written twice");
    assert_eq!(over_max, 0, "the pool never held more than max_size");
    if replication == Replication::Sync {
        assert!(lost.is_empty(), "acknowledged writes lost: {lost:?}");
    }
    let promotion_to_first = promotion_to_first.expect("writes reached the new primary");
    assert!(
        promotion_to_first < Duration::from_secs(2),
        "first success {promotion_to_first:?} after the promotion"
    );
    assert!(
        acked.iter().any(|(_, at, _)| *at < killed),
        "writes succeeded before the kill"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_1_promotion_under_load() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        promotion_under_load(Replication::Sync).await;
        promotion_under_load(Replication::Async).await;
    })
    .await
    .expect("the scenario finished in time");
}

/// One binding's side of scenario 2: its pool (a `Clone` handle) and its insert.
trait Writer: Clone + Send + Sync + 'static {
    /// Names the binding in figures and assertion messages.
    const NAME: &'static str;
    /// What the binding's insert fails with.
    type Error: FigureKind + Send + std::fmt::Display;

    /// The pool for `url`, named `name`, sized as [`pool`], waiting `acquire` at most.
    fn build(url: &str, name: &str, acquire: &str) -> Self;

    /// [`read`] on this binding.
    fn read(&self) -> impl Future<Output = Result<i32, Self::Error>> + Send;

    /// [`insert`] on this binding.
    fn insert(
        &self,
        key: i64,
        attempts: &AtomicU64,
    ) -> impl Future<Output = Result<i32, Self::Error>> + Send;

    /// The pool's open connections.
    fn size(&self) -> usize;
}

impl Writer for PgPool {
    const NAME: &'static str = "pool-sqlx";
    type Error = Error;

    fn build(url: &str, name: &str, acquire: &str) -> Self {
        pool(url, name, acquire)
    }

    fn read(&self) -> impl Future<Output = Result<i32, Error>> + Send {
        read(self)
    }

    fn insert(
        &self,
        key: i64,
        attempts: &AtomicU64,
    ) -> impl Future<Output = Result<i32, Error>> + Send {
        insert(self, key, attempts)
    }

    fn size(&self) -> usize {
        self.status().size
    }
}

impl Writer for PostgresPool {
    const NAME: &'static str = "pool-postgres";
    type Error = pool_postgres::Error;

    fn build(url: &str, name: &str, acquire: &str) -> Self {
        pool_postgres::Config::from_url(&sized(url, acquire))
            .unwrap()
            .build_pool(name)
            .unwrap()
    }

    fn read(&self) -> impl Future<Output = Result<i32, pool_postgres::Error>> + Send {
        read_postgres(self)
    }

    fn insert(
        &self,
        key: i64,
        attempts: &AtomicU64,
    ) -> impl Future<Output = Result<i32, pool_postgres::Error>> + Send {
        insert_postgres(self, key, attempts)
    }

    fn size(&self) -> usize {
        self.status().size
    }
}

/// One binding's load in scenario 2: 16 inserting tasks and what they saw.
struct Load {
    figures: Arc<Figures>,
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicU64>,
    ports: Arc<Mutex<Vec<(Instant, u16)>>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    size_when_fenced: usize,
}

/// Starts 16 tasks inserting through `W`'s pool on the multi-host URL `url`.
fn start_load<W: Writer>(url: &str, figures: &str) -> (W, Load) {
    let pool = W::build(url, &format!("failover/read_only/{}", W::NAME), "5s");
    let figures = Figures::new(figures);
    let stop = Arc::new(AtomicBool::new(false));
    let next_key = Arc::new(AtomicI64::new(0));
    let attempts = Arc::new(AtomicU64::new(0));
    let ports: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
    let workers = {
        let ports = Arc::clone(&ports);
        spawn_inserters(
            16,
            &pool,
            &stop,
            &next_key,
            &attempts,
            &figures,
            move |_, port| {
                ports.lock().unwrap().push((Instant::now(), port));
            },
        )
    };
    let load = Load {
        figures,
        stop,
        attempts,
        ports,
        workers,
        size_when_fenced: 0,
    };
    (pool, load)
}

/// Stops `load` and checks what it saw: no caller saw an error, writes moved to the new
/// primary (`new_primary`), none was acknowledged by the old one after `promoted`, and
/// writes refused with 25006 were retried. Prints its figures.
async fn finish_load<W: Writer>(load: Load, fenced: Instant, promoted: Instant, new_primary: u16) {
    load.stop.store(true, Ordering::Relaxed);
    for worker in load.workers {
        worker.await.unwrap();
    }
    let figures = load.figures;
    let ports = load.ports.lock().unwrap().clone();
    let on_new = ports
        .iter()
        .filter(|(_, port)| *port == new_primary)
        .count();
    let first_on_new = ports
        .iter()
        .filter(|(_, port)| *port == new_primary)
        .map(|(at, _)| *at)
        .min();
    let late_on_old = ports
        .iter()
        .filter(|(at, port)| *port != new_primary && *at > promoted)
        .count();
    let retried = load.attempts.load(Ordering::Relaxed) - figures.operations();
    figures.retries(retried);
    figures.note(
        "open connections to the old primary when fenced",
        load.size_when_fenced,
    );
    figures.note("inserts on the new primary", on_new);
    figures.note(
        "fence to first success on the new primary",
        format!("{:.3?}", first_on_new.map(|at| at - fenced)),
    );
    figures.print();
    let name = W::NAME;
    assert!(
        figures.errors().is_empty(),
        "{name}: no caller saw an error: {:?}",
        figures.errors()
    );
    assert_eq!(
        late_on_old, 0,
        "{name}: no write acknowledged by the old primary"
    );
    assert!(on_new > 0, "{name}: writes moved to the new primary");
    assert!(
        retried > 0,
        "{name}: writes refused with 25006 were retried"
    );
}

/// Both bindings' loads run at once on one cluster, through one fence and promotion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_2_the_old_primary_turns_read_only_and_nothing_writes_to_it() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let cluster = Arc::new(cluster);
        let mut old = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (key bigint NOT NULL)")
            .execute(&mut old)
            .await
            .unwrap();
        let url = cluster.multi_host_url("postgres", "target_session_attrs=read-write");
        let (sqlx_pool, mut sqlx_load) =
            start_load::<PgPool>(&url, "failover/old-primary-read-only");
        let (postgres_pool, mut postgres_load) =
            start_load::<PostgresPool>(&url, "failover/old-primary-read-only (pool-postgres)");
        tokio::time::sleep(Duration::from_secs(1)).await;
        sqlx_load.size_when_fenced = Writer::size(&sqlx_pool);
        postgres_load.size_when_fenced = Writer::size(&postgres_pool);
        cluster::fence(&mut old).await.unwrap();
        let fenced = Instant::now();
        let promoting = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || promoting.promote_standby())
            .await
            .unwrap();
        let promoted = Instant::now();
        // Reload is asynchronous in the backends: take the old primary's count once its
        // own sessions see the setting, then let the load run on.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let count = "SELECT count(*) FROM t";
        let old_rows_after_fence: i64 =
            sqlx::query_scalar(count).fetch_one(&mut old).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        let new_primary = cluster.standby_port();
        finish_load::<PgPool>(sqlx_load, fenced, promoted, new_primary).await;
        finish_load::<PostgresPool>(postgres_load, fenced, promoted, new_primary).await;
        let old_rows_at_end: i64 = sqlx::query_scalar(count).fetch_one(&mut old).await.unwrap();
        println!(
            "failover/old-primary-read-only: old primary rows after the fence \
             {old_rows_after_fence}, at the end {old_rows_at_end}"
        );
        assert_eq!(old_rows_at_end, old_rows_after_fence, "nothing wrote to it");
    })
    .await
    .expect("the scenario finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::too_many_lines)]
async fn scenario_5_chaos_soak() {
    let Lengths {
        soak,
        blackout_at,
        promote_at,
        faults_end,
        ..
    } = lengths();
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Sync) else {
            return;
        };
        let cluster = Arc::new(cluster);
        let mut admin = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (key bigint NOT NULL)")
            .execute(&mut admin)
            .await
            .unwrap();
        drop(admin);
        let proxy_primary = FaultProxy::for_url(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        let proxy_standby = FaultProxy::for_url(&cluster.standby_url("postgres"))
            .await
            .unwrap();
        let url = format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
            proxy_primary.addr().port(),
            proxy_standby.addr().port()
        );
        let pool = pool(&url, "chaos", "5s");
        let figures = Figures::new("failover/chaos-soak");
        let started = figures.started();
        let stop = Arc::new(AtomicBool::new(false));
        let faults_over = Arc::new(AtomicBool::new(false));
        let promoted = Arc::new(AtomicBool::new(false));
        let next_key = Arc::new(AtomicI64::new(0));
        let attempts = Arc::new(AtomicU64::new(0));
        let acked: Arc<Mutex<Vec<i64>>> = Arc::default();

        let sampler = {
            let (pool, stop, figures) = (pool.clone(), Arc::clone(&stop), Arc::clone(&figures));
            tokio::spawn(async move {
                let mut over = 0;
                while !stop.load(Ordering::Relaxed) {
                    let size = pool.status().size;
                    figures.pool_connections(size);
                    over += usize::from(size > MAX_SIZE);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                over
            })
        };
        let killer = {
            let (cluster, faults_over, promoted) = (
                Arc::clone(&cluster),
                Arc::clone(&faults_over),
                Arc::clone(&promoted),
            );
            tokio::spawn(async move {
                let mut killed = 0_u64;
                while !faults_over.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let url = if promoted.load(Ordering::Relaxed) {
                        cluster.standby_url("postgres")
                    } else {
                        cluster.primary_url("postgres")
                    };
                    // Between the crash and the promotion there is nothing to kill.
                    let Ok(mut admin) = PgConnection::connect(&url).await else {
                        continue;
                    };
                    let one: Result<Option<bool>, _> = sqlx::query_scalar(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = 'chaos' ORDER BY random() LIMIT 1",
                    )
                    .fetch_optional(&mut admin)
                    .await;
                    killed += u64::from(matches!(one, Ok(Some(true))));
                }
                killed
            })
        };
        let workers = {
            let acked = Arc::clone(&acked);
            spawn_inserters(64, &pool, &stop, &next_key, &attempts, &figures, move |key, _| {
                acked.lock().unwrap().push(key);
            })
        };

        tokio::time::sleep_until(started + blackout_at).await;
        proxy_primary.set(Mode::Blackhole);
        proxy_standby.set(Mode::Blackhole);
        tokio::time::sleep(Duration::from_secs(1)).await;
        proxy_primary.set(Mode::Pass);
        proxy_standby.set(Mode::Pass);
        tokio::time::sleep_until(started + promote_at).await;
        let crashing = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || {
            crashing.stop_primary_immediate();
            crashing.promote_standby();
        })
        .await
        .unwrap();
        promoted.store(true, Ordering::Relaxed);
        tokio::time::sleep_until(started + faults_end).await;
        faults_over.store(true, Ordering::Relaxed);
        let killed = killer.await.unwrap();
        let cleared = Instant::now();
        let mut check_ok_after = None;
        let mut verdict = None;
        while cleared.elapsed() < Duration::from_secs(3) {
            let report = pool_sqlx::health(&pool, Duration::from_secs(1)).await;
            if report.check.ok {
                check_ok_after = Some(cleared.elapsed());
                verdict = Some(report.status);
                break;
            }
        }
        tokio::time::sleep_until(started + soak).await;
        stop.store(true, Ordering::Relaxed);
        let mut panics = 0;
        for worker in workers {
            panics += usize::from(worker.await.is_err());
        }
        let over_max = sampler.await.unwrap();

        let mut check = PgConnection::connect(&cluster.standby_url("postgres"))
            .await
            .unwrap();
        let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT key, count(*) FROM t GROUP BY key")
            .fetch_all(&mut check)
            .await
            .unwrap();
        let in_table: HashMap<i64, i64> = rows.into_iter().collect();
        let acked = acked.lock().unwrap().clone();
        let lost = acked.iter().filter(|key| !in_table.contains_key(key)).count();
        let twice = in_table.values().filter(|count| **count > 1).count();
        figures.retries(attempts.load(Ordering::Relaxed) - figures.operations());
        for proxy in [&proxy_primary, &proxy_standby] {
            figures.proxy_connections(proxy.counters().max_open.load(Ordering::Relaxed));
        }
        figures.note("backends killed", killed);
        figures.note("acknowledged inserts", acked.len());
        figures.note("lost acknowledged writes", lost);
        figures.note("keys twice", twice);
        figures.note("panics", panics);
        figures.note("samples above max_size", over_max);
        figures.note(
            "last fault to a passing health check",
            format!("{check_ok_after:.3?} ({verdict:?}: callers still queue for connections)"),
        );
        figures.print();

        assert_eq!(panics, 0);
        assert_eq!(lost, 0, "acknowledged writes lost");
        assert_eq!(twice, 0, "a key written twice");
        assert_eq!(over_max, 0, "the pool above max_size");
        let check_ok_after = check_ok_after.expect("the health check passes again");
        assert!(check_ok_after < Duration::from_secs(1), "{check_ok_after:?}");
    })
    .await
    .expect("the scenario finished in time");
}

/// While every host is down: each call fails within the acquire timeout, never showing
/// the password, and the error names both hosts.
async fn every_call_fails_in_time<W: Writer>(
    pool: &W,
    figures: &Figures,
    acquire: Duration,
    ports: [u16; 2],
) -> Duration {
    let mut slowest_failure = Duration::ZERO;
    for _ in 0..3 {
        let started = Instant::now();
        let result = pool.read().await;
        let took = started.elapsed();
        figures.outcome(&result);
        let Err(error) = result else {
            panic!("{}: every host is down, yet a read succeeded", W::NAME);
        };
        let text = error.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        slowest_failure = slowest_failure.max(took);
        assert!(
            took < acquire + Duration::from_millis(1500),
            "{}: failed after {took:?}: {text}",
            W::NAME
        );
    }
    let Err(last) = pool.read().await else {
        panic!("{}: still down, yet a read succeeded", W::NAME);
    };
    let text = format!("{last}");
    for port in ports {
        assert!(
            text.contains(&format!("127.0.0.1:{port} failed")),
            "{}: {text}",
            W::NAME
        );
    }
    figures.note("the error", &text);
    slowest_failure
}

/// Once both hosts are back (at `restored`): calls succeed again on the same pool.
async fn calls_succeed_again<W: Writer>(
    pool: &W,
    figures: &Figures,
    restored: Instant,
    slowest_failure: Duration,
) {
    let mut first_ok = None;
    while restored.elapsed() < Duration::from_secs(10) {
        if pool.read().await.is_ok() {
            first_ok = Some(restored.elapsed());
            break;
        }
    }
    figures.note(
        "slowest failure while down",
        format!("{slowest_failure:.3?}"),
    );
    // The pool's own connect backoff (jittered, at most 5 s) paces its reconnects
    // while every host is down: it bounds this figure.
    figures.note("back to first success", format!("{first_ok:.3?}"));
    figures.print();
    assert!(
        first_ok.is_some(),
        "{}: calls succeed again, same pool",
        W::NAME
    );
}

/// Both bindings' pools on one cluster, through one outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_4_every_host_down_then_back() {
    tokio::time::timeout(SCENARIO_LIMIT, async {
        let Some(cluster) = Cluster::start(Replication::Async) else {
            return;
        };
        let proxy = FaultProxy::for_url(&cluster.standby_url("postgres"))
            .await
            .unwrap();
        let url = format!(
            "postgres://postgres:hunter2@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=any",
            cluster.primary_port(),
            proxy.addr().port()
        );
        let acquire = Duration::from_secs(2);
        let sqlx_pool = <PgPool as Writer>::build(&url, "failover/all_down", "2s");
        let postgres_pool =
            <PostgresPool as Writer>::build(&url, "failover/all_down/pool-postgres", "2s");
        assert_eq!(Writer::read(&sqlx_pool).await.unwrap(), 1);
        assert_eq!(Writer::read(&postgres_pool).await.unwrap(), 1);
        let sqlx_figures = Figures::new("failover/all-down");
        let postgres_figures = Figures::new("failover/all-down (pool-postgres)");

        let cluster = Arc::new(cluster);
        let crashing = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || crashing.stop_primary_immediate())
            .await
            .unwrap();
        proxy.set(Mode::Reset);
        let ports = [cluster.primary_port(), proxy.addr().port()];
        let sqlx_slowest = every_call_fails_in_time(&sqlx_pool, &sqlx_figures, acquire, ports).await;
        let postgres_slowest =
            every_call_fails_in_time(&postgres_pool, &postgres_figures, acquire, ports).await;

        let restoring = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || restoring.restart_primary())
            .await
            .unwrap();
        let restored = Instant::now();
        proxy.set(Mode::Pass);
        calls_succeed_again(&sqlx_pool, &sqlx_figures, restored, sqlx_slowest).await;
        calls_succeed_again(&postgres_pool, &postgres_figures, restored, postgres_slowest).await;
        drop(cluster);
    })
    .await
    .expect("the scenario finished in time");
}

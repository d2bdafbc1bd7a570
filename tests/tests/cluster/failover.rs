#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #15's failover scenarios on a private primary and streaming standby
//! (`tests::cluster`), through a multi-host URL with `target_session_attrs=read-write`.
//! Every scenario runs pool-sqlx and pool-postgres at once, on the one cluster, through
//! the one fault sequence, from one body: a `Writer` per binding (its pool, the same
//! `#[resilient]` insert, its read, size and health check), and each binding keeps its
//! own figures (pool-postgres's headed `… (pool-postgres)`) and its own assertions.
//!
//! 1. **Promotion under load.** 16 tasks per binding insert unique keys through a
//!    `#[resilient]` function (not `idempotent`) for 8 s; at 2 s the primary is stopped
//!    with `-m immediate` and the standby promoted. (The 20 s with the kill at 5 s
//!    with `FAILOVER_LENGTHS=full`; 8 s/2 s keeps the suite fast and still gives seconds
//!    of load on each side of the failover.) Synchronous replication: every insert the
//!    caller saw succeed is in the table afterwards, no key twice. Asynchronous: the same,
//!    except acknowledged writes lost in the crash are counted and printed, not failed
//!    on. Printed: the time from the kill to the first success on the new primary, and
//!    from the promotion (asserted under 2 s); the pool's size, sampled every 10 ms, never
//!    above `max_size`.
//! 2. **The old primary turns read-only under live connections** (a switchover, or a
//!    fenced old primary): 16 tasks per binding insert through the same `#[resilient]`
//!    function; the primary is made read-only (`default_transaction_read_only`,
//!    reloaded: the pools' open connections to it stay open), then the standby promoted.
//!    Writes the old primary refuses with 25006 are retried on a fresh connection, which
//!    the walk opens on the new primary: no caller sees an error, and the old primary's
//!    row count does not move after it turned read-only.
//! 5. **Chaos soak, bounded** (synchronous replication, both hosts behind the fault
//!    proxy): 32 tasks per binding insert for 60 s while, every 200 ms, one backend of
//!    each pool is killed (`pg_terminate_backend` on the pool's `application_name`, its
//!    name), both hosts are blacked out for 1 s at 15 s, and the primary is killed and the
//!    standby promoted at 30 s; the faults end at 50 s. Per binding: 0 panics, 0 lost
//!    acknowledged writes, no key twice, the pool never above `max_size`, and the health
//!    check passing again within 1 s of the last fault.
//! 4. **Every host down, then back.** The primary stopped for real and the standby cut
//!    off by the fault proxy (every connection reset): calls fail within the acquire
//!    timeout with an error naming both hosts; once both are back, calls succeed on the
//!    same pool, no restart. Both pools call through the outage and the return at the same
//!    time, so each pool's connect backoff has run as long when the hosts come back.
//!
//! The two bindings write to one table `t`, each its own keys (`Writer::KEY_BASE`), so
//! each one's lost and doubled keys are counted apart.

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
    Config, Error, Health, HealthStatus, PgPool, pooled, resilient,
    sqlx::{self, Connection, PgConnection, Postgres},
};
use tests::{
    cluster::{self, Cluster, Replication},
    figures::{FigureKind, Figures},
    proxy::{FaultProxy, Mode},
};
use tokio::{task::JoinHandle, time::Instant};

// Scenario 1 ran 32 tasks on one pool and the soak 64; with both bindings at once each
// gets half, so the two cores and the cluster carry the load they carried before (both
// bindings at full count put 128 inserting tasks and 32 connections on two cores shared
// with the two servers and the proxies, which measures the machine). Half still exceeds
// `MAX_SIZE`, so each pool stays full with callers queued: the condition under test.
const PROMOTION_TASKS: i64 = 16;
const SOAK_TASKS: i64 = 32;
const READ_ONLY_TASKS: i64 = 16;
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

/// One acknowledged insert: its key, when the caller saw it succeed, and the port of the
/// server that took it.
#[derive(Debug, Clone, Copy)]
struct Ack {
    key: i64,
    at: Instant,
    port: u16,
}

/// Spawns `count` tasks that insert fresh keys through `pool`'s insert until `stop`,
/// counting each outcome in `figures` and keeping each success in `acked`.
fn spawn_inserters<W: Writer>(
    count: i64,
    pool: &W,
    stop: &Arc<AtomicBool>,
    next_key: &Arc<AtomicI64>,
    attempts: &Arc<AtomicU64>,
    figures: &Arc<Figures>,
    acked: &Arc<Mutex<Vec<Ack>>>,
) -> Vec<JoinHandle<()>> {
    (0..count)
        .map(|_| {
            let (pool, stop, next_key, attempts, figures, acked) = (
                pool.clone(),
                Arc::clone(stop),
                Arc::clone(next_key),
                Arc::clone(attempts),
                Arc::clone(figures),
                Arc::clone(acked),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let key = next_key.fetch_add(1, Ordering::Relaxed);
                    let result = pool.insert(key, &attempts).await;
                    figures.outcome(&result);
                    if let Ok(port) = result {
                        let port = u16::try_from(port).unwrap_or(0);
                        let at = Instant::now();
                        acked.lock().unwrap().push(Ack { key, at, port });
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

/// One binding's side of a scenario: its pool (a `Clone` handle), its insert and read,
/// its size and its health check.
trait Writer: Clone + Send + Sync + 'static {
    /// Names the binding in pool names, figures and assertion messages.
    const NAME: &'static str;
    /// Follows the scenario's name in the heading of this binding's figures.
    const FIGURES: &'static str;
    /// The first key this binding inserts: the bindings share the table, not keys.
    const KEY_BASE: i64;
    /// What the binding's insert fails with.
    type Error: FigureKind + Send + std::fmt::Display;

    /// The pool for `url`, named `name` (its `application_name`), with `MAX_SIZE`
    /// connections at most, waiting `acquire` at most.
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

    /// The binding's health check, bounded by `timeout`.
    fn health(&self, timeout: Duration) -> impl Future<Output = Health> + Send;
}

impl Writer for PgPool {
    const NAME: &'static str = "pool-sqlx";
    const FIGURES: &'static str = "";
    const KEY_BASE: i64 = 0;
    type Error = Error;

    fn build(url: &str, name: &str, acquire: &str) -> Self {
        Config::from_url(&sized(url, acquire))
            .unwrap()
            .build_pool::<Postgres>(name)
            .unwrap()
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

    fn health(&self, timeout: Duration) -> impl Future<Output = Health> + Send {
        pool_sqlx::health(self, timeout)
    }
}

impl Writer for PostgresPool {
    const NAME: &'static str = "pool-postgres";
    const FIGURES: &'static str = " (pool-postgres)";
    // Far above any count of inserts a scenario makes.
    const KEY_BASE: i64 = 1 << 40;
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

    fn health(&self, timeout: Duration) -> impl Future<Output = Health> + Send {
        pool_postgres::health(self, timeout)
    }
}

/// `W`'s figures for the scenario `scenario`.
fn figures_for<W: Writer>(scenario: &str) -> Arc<Figures> {
    Figures::new(format!("{scenario}{}", W::FIGURES))
}

/// One binding's load: its pool, the tasks inserting through it, a sampler of its size
/// every 10 ms, and what they saw.
struct Load<W: Writer> {
    pool: W,
    /// The pool's name, which is its connections' `application_name`.
    name: String,
    figures: Arc<Figures>,
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicU64>,
    acked: Arc<Mutex<Vec<Ack>>>,
    workers: Vec<JoinHandle<()>>,
    sampler: JoinHandle<usize>,
}

/// What a load saw, once stopped.
struct Seen {
    figures: Arc<Figures>,
    acked: Vec<Ack>,
    /// Attempts past each operation's first.
    retried: u64,
    panics: usize,
    /// Size samples above `MAX_SIZE`.
    over_max: usize,
}

impl<W: Writer> Load<W> {
    /// Starts `tasks` tasks inserting through a new pool of `W` on `url`, named
    /// `{pool}/{W::NAME}`, into figures headed `scenario`.
    fn start(url: &str, pool: &str, scenario: &str, tasks: i64) -> Self {
        let name = format!("{pool}/{}", W::NAME);
        let pool = W::build(url, &name, "5s");
        let figures = figures_for::<W>(scenario);
        let stop = Arc::new(AtomicBool::new(false));
        let next_key = Arc::new(AtomicI64::new(W::KEY_BASE));
        let attempts = Arc::new(AtomicU64::new(0));
        let acked: Arc<Mutex<Vec<Ack>>> = Arc::default();
        let sampler = {
            let (pool, stop, figures) = (pool.clone(), Arc::clone(&stop), Arc::clone(&figures));
            tokio::spawn(async move {
                let mut over = 0;
                while !stop.load(Ordering::Relaxed) {
                    let size = pool.size();
                    figures.pool_connections(size);
                    over += usize::from(size > MAX_SIZE);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                over
            })
        };
        let workers = spawn_inserters(tasks, &pool, &stop, &next_key, &attempts, &figures, &acked);
        Load {
            pool,
            name,
            figures,
            stop,
            attempts,
            acked,
            workers,
            sampler,
        }
    }

    /// Stops the tasks and the sampler, counting retries (attempts past the first) in
    /// the figures.
    async fn stop(self) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let mut panics = 0;
        for worker in self.workers {
            panics += usize::from(worker.await.is_err());
        }
        let over_max = self.sampler.await.unwrap();
        let figures = self.figures;
        let retried = self.attempts.load(Ordering::Relaxed) - figures.operations();
        figures.retries(retried);
        let acked = self.acked.lock().unwrap().clone();
        Seen {
            figures,
            acked,
            retried,
            panics,
            over_max,
        }
    }
}

/// Every key in the table `t` on `url`, with how many rows hold it.
async fn rows_by_key(url: &str) -> HashMap<i64, i64> {
    let mut check = PgConnection::connect(url).await.unwrap();
    let rows: Vec<(i64, i64)> = sqlx::query_as("SELECT key, count(*) FROM t GROUP BY key")
        .fetch_all(&mut check)
        .await
        .unwrap();
    rows.into_iter().collect()
}

/// The table `t` (no unique constraint: a key written twice shows up as two rows).
async fn create_table(url: &str) {
    let mut admin = PgConnection::connect(url).await.unwrap();
    sqlx::raw_sql("CREATE TABLE t (key bigint NOT NULL)")
        .execute(&mut admin)
        .await
        .unwrap();
}

impl Seen {
    /// The acknowledged keys not in `in_table`, and how many of `W`'s keys it holds
    /// twice or more; both noted in the figures.
    fn keys<W: Writer>(&self, in_table: &HashMap<i64, i64>) -> (Vec<i64>, usize) {
        let lost: Vec<i64> = self
            .acked
            .iter()
            .map(|ack| ack.key)
            .filter(|key| !in_table.contains_key(key))
            .collect();
        let mine = |key: i64| (W::KEY_BASE..W::KEY_BASE + (1 << 40)).contains(&key);
        let twice = in_table
            .iter()
            .filter(|(key, count)| mine(**key) && **count > 1)
            .count();
        let rows: i64 = in_table
            .iter()
            .filter(|(key, _)| mine(**key))
            .map(|(_, count)| count)
            .sum();
        self.figures.note("acknowledged inserts", self.acked.len());
        self.figures.note("rows in the table", rows);
        self.figures.note("lost acknowledged writes", lost.len());
        self.figures.note("keys twice", twice);
        (lost, twice)
    }
}

/// When scenario 1's primary was killed (`killed`), found down (`down`) and the standby
/// promoted (`promoted`).
#[derive(Debug, Clone, Copy)]
struct Failover {
    killed: Instant,
    down: Instant,
    promoted: Instant,
}

/// Scenario 1's figures for one binding, printed, and what it got wrong.
fn promotion_verdict<W: Writer>(
    seen: &Seen,
    in_table: &HashMap<i64, i64>,
    replication: Replication,
    at: Failover,
    new_primary: u16,
) -> Vec<String> {
    let figures = &seen.figures;
    let (lost, twice) = seen.keys::<W>(in_table);
    let first_on_new = seen
        .acked
        .iter()
        .filter(|ack| ack.port == new_primary && ack.at >= at.down)
        .map(|ack| ack.at)
        .min();
    let kill_to_first = first_on_new.map(|first| first - at.killed);
    let promotion_to_first = first_on_new.map(|first| first.saturating_duration_since(at.promoted));
    figures.note(
        "kill to primary down",
        format!("{:.3?}", at.down - at.killed),
    );
    figures.note(
        "kill to promotion done",
        format!("{:.3?}", at.promoted - at.killed),
    );
    figures.note(
        "kill to first success on the new primary",
        format!("{kill_to_first:.3?}"),
    );
    figures.note(
        "promotion to first success",
        format!("{promotion_to_first:.3?}"),
    );
    figures.note("samples above max_size", seen.over_max);
    figures.print();

    let name = W::NAME;
    let mut failures = Vec::new();
    if seen.panics > 0 {
        failures.push(format!("{name}: {} inserting tasks panicked", seen.panics));
    }
    if twice > 0 {
        failures.push(format!("{name}: {twice} keys written twice"));
    }
    if seen.over_max > 0 {
        failures.push(format!("{name}: the pool held more than max_size"));
    }
    if replication == Replication::Sync && !lost.is_empty() {
        failures.push(format!("{name}: acknowledged writes lost: {lost:?}"));
    }
    match promotion_to_first {
        None => failures.push(format!("{name}: no write reached the new primary")),
        Some(took) if took >= Duration::from_secs(2) => {
            failures.push(format!(
                "{name}: first success {took:?} after the promotion"
            ));
        }
        Some(_) => {}
    }
    if !seen.acked.iter().any(|ack| ack.at < at.killed) {
        failures.push(format!("{name}: no write succeeded before the kill"));
    }
    failures
}

async fn promotion_under_load(replication: Replication) {
    let scenario = format!("failover/promotion/{replication:?}").to_lowercase();
    let Some(cluster) = Cluster::start(replication) else {
        return;
    };
    let cluster = Arc::new(cluster);
    create_table(&cluster.primary_url("postgres")).await;
    let url = cluster.multi_host_url("postgres", "target_session_attrs=read-write");
    let sqlx_load = Load::<PgPool>::start(&url, &scenario, &scenario, PROMOTION_TASKS);
    let postgres_load = Load::<PostgresPool>::start(&url, &scenario, &scenario, PROMOTION_TASKS);
    // Both loads started together: one clock for the kill.
    let started = sqlx_load.figures.started();

    tokio::time::sleep_until(started + lengths().kill_at).await;
    let killed = Instant::now();
    let crashing = Arc::clone(&cluster);
    let (down, promoted) = tokio::task::spawn_blocking(move || {
        crashing.stop_primary_immediate();
        let down = Instant::now();
        crashing.promote_standby();
        (down, Instant::now())
    })
    .await
    .unwrap();
    let at = Failover {
        killed,
        down,
        promoted,
    };
    tokio::time::sleep_until(started + lengths().load).await;
    let sqlx_seen = sqlx_load.stop().await;
    let postgres_seen = postgres_load.stop().await;

    let in_table = rows_by_key(&cluster.standby_url("postgres")).await;
    let new_primary = cluster.standby_port();
    let failures = [
        promotion_verdict::<PgPool>(&sqlx_seen, &in_table, replication, at, new_primary),
        promotion_verdict::<PostgresPool>(&postgres_seen, &in_table, replication, at, new_primary),
    ]
    .concat();
    assert!(failures.is_empty(), "{scenario}: {failures:#?}");
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

/// Stops scenario 2's `load` and checks what it saw: no caller saw an error, writes
/// moved to the new primary (`new_primary`), none was acknowledged by the old one after
/// `promoted`, and writes refused with 25006 were retried. Prints its figures, with the
/// pool's size when the old primary was fenced (`size_when_fenced`).
async fn finish_read_only<W: Writer>(
    load: Load<W>,
    size_when_fenced: usize,
    fenced: Instant,
    promoted: Instant,
    new_primary: u16,
) {
    let seen = load.stop().await;
    let figures = &seen.figures;
    let on_new = seen
        .acked
        .iter()
        .filter(|ack| ack.port == new_primary)
        .count();
    let first_on_new = seen
        .acked
        .iter()
        .filter(|ack| ack.port == new_primary)
        .map(|ack| ack.at)
        .min();
    let late_on_old = seen
        .acked
        .iter()
        .filter(|ack| ack.port != new_primary && ack.at > promoted)
        .count();
    figures.note(
        "open connections to the old primary when fenced",
        size_when_fenced,
    );
    figures.note("inserts on the new primary", on_new);
    figures.note(
        "fence to first success on the new primary",
        format!("{:.3?}", first_on_new.map(|at| at - fenced)),
    );
    figures.print();
    let name = W::NAME;
    assert_eq!(seen.panics, 0, "{name}: no inserting task panicked");
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
        seen.retried > 0,
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
        create_table(&cluster.primary_url("postgres")).await;
        let mut old = PgConnection::connect(&cluster.primary_url("postgres"))
            .await
            .unwrap();
        let url = cluster.multi_host_url("postgres", "target_session_attrs=read-write");
        let (pool, scenario) = ("failover/read_only", "failover/old-primary-read-only");
        let sqlx_load = Load::<PgPool>::start(&url, pool, scenario, READ_ONLY_TASKS);
        let postgres_load = Load::<PostgresPool>::start(&url, pool, scenario, READ_ONLY_TASKS);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let sqlx_size = sqlx_load.pool.size();
        let postgres_size = postgres_load.pool.size();
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
        finish_read_only(sqlx_load, sqlx_size, fenced, promoted, new_primary).await;
        finish_read_only(postgres_load, postgres_size, fenced, promoted, new_primary).await;
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

/// Kills, every 200 ms until `faults_over`, one backend of each pool named in `pools`
/// (their `application_name`) on the primary, or on the standby once `promoted`; returns
/// how many it killed per pool, in `pools`' order.
fn spawn_killer(
    cluster: &Arc<Cluster>,
    pools: [String; 2],
    faults_over: &Arc<AtomicBool>,
    promoted: &Arc<AtomicBool>,
) -> JoinHandle<[u64; 2]> {
    let (cluster, faults_over, promoted) = (
        Arc::clone(cluster),
        Arc::clone(faults_over),
        Arc::clone(promoted),
    );
    tokio::spawn(async move {
        let mut killed = [0_u64; 2];
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
            // One of each per tick: each pool sees the kill rate it saw alone.
            for (pool, killed) in pools.iter().zip(&mut killed) {
                let one: Result<Option<bool>, _> = sqlx::query_scalar(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 ORDER BY random() LIMIT 1",
                )
                .bind(pool)
                .fetch_optional(&mut admin)
                .await;
                *killed += u64::from(matches!(one, Ok(Some(true))));
            }
        }
        killed
    })
}

/// How long after `cleared` `pool`'s health check first passed (each check bounded by
/// 1 s, tried for 3 s), and its verdict then.
async fn passes_health<W: Writer>(pool: &W, cleared: Instant) -> Option<(Duration, HealthStatus)> {
    while cleared.elapsed() < Duration::from_secs(3) {
        let report = pool.health(Duration::from_secs(1)).await;
        if report.check.ok {
            return Some((cleared.elapsed(), report.status));
        }
    }
    None
}

/// Scenario 5's figures for one binding, printed, and what it got wrong.
fn soak_verdict<W: Writer>(
    seen: &Seen,
    in_table: &HashMap<i64, i64>,
    killed: u64,
    health: Option<(Duration, HealthStatus)>,
    proxies: (u64, u64),
) -> Vec<String> {
    let figures = &seen.figures;
    figures.note("backends killed", killed);
    let (lost, twice) = seen.keys::<W>(in_table);
    figures.note("panics", seen.panics);
    figures.note("samples above max_size", seen.over_max);
    figures.note(
        "most connections through the proxies, both pools",
        format!("primary {}, standby {}", proxies.0, proxies.1),
    );
    figures.note(
        "last fault to a passing health check",
        match health {
            Some((after, status)) => format!("{after:.3?} ({status:?})"),
            None => "none within 3s".to_owned(),
        },
    );
    figures.print();

    let name = W::NAME;
    let mut failures = Vec::new();
    if seen.panics > 0 {
        failures.push(format!("{name}: {} inserting tasks panicked", seen.panics));
    }
    if !lost.is_empty() {
        failures.push(format!("{name}: {} acknowledged writes lost", lost.len()));
    }
    if twice > 0 {
        failures.push(format!("{name}: {twice} keys written twice"));
    }
    if seen.over_max > 0 {
        failures.push(format!("{name}: the pool above max_size"));
    }
    if killed == 0 {
        failures.push(format!("{name}: the killer found none of its backends"));
    }
    match health {
        None => failures.push(format!("{name}: the health check never passed again")),
        Some((after, _)) if after >= Duration::from_secs(1) => {
            failures.push(format!(
                "{name}: the health check passed {after:?} after the last fault"
            ));
        }
        Some(_) => {}
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
        create_table(&cluster.primary_url("postgres")).await;
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
        let scenario = "failover/chaos-soak";
        let sqlx_load = Load::<PgPool>::start(&url, "chaos", scenario, SOAK_TASKS);
        let postgres_load = Load::<PostgresPool>::start(&url, "chaos", scenario, SOAK_TASKS);
        let started = sqlx_load.figures.started();
        let faults_over = Arc::new(AtomicBool::new(false));
        let promoted = Arc::new(AtomicBool::new(false));
        let killer = spawn_killer(
            &cluster,
            [sqlx_load.name.clone(), postgres_load.name.clone()],
            &faults_over,
            &promoted,
        );

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
        let [sqlx_killed, postgres_killed] = killer.await.unwrap();
        let cleared = Instant::now();
        // Both at once: neither binding's figure includes the other's check.
        let (sqlx_health, postgres_health) = tokio::join!(
            passes_health(&sqlx_load.pool, cleared),
            passes_health(&postgres_load.pool, cleared),
        );
        tokio::time::sleep_until(started + soak).await;
        let sqlx_seen = sqlx_load.stop().await;
        let postgres_seen = postgres_load.stop().await;

        let in_table = rows_by_key(&cluster.standby_url("postgres")).await;
        let most_open = |proxy: &FaultProxy| proxy.counters().max_open.load(Ordering::Relaxed);
        let proxies = (most_open(&proxy_primary), most_open(&proxy_standby));
        let failures = [
            soak_verdict::<PgPool>(&sqlx_seen, &in_table, sqlx_killed, sqlx_health, proxies),
            soak_verdict::<PostgresPool>(
                &postgres_seen,
                &in_table,
                postgres_killed,
                postgres_health,
                proxies,
            ),
        ]
        .concat();
        assert!(failures.is_empty(), "{scenario}: {failures:#?}");
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

/// Both bindings' pools on one cluster, through one outage, calling at the same time:
/// called one after the other, the pool that called last went into the return with its
/// connect backoff grown over its own calls while the first had let its backoff lapse
/// (no caller waiting: its connect task ended), and their figures measured the order, not
/// the binding.
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
        let sqlx_figures = figures_for::<PgPool>("failover/all-down");
        let postgres_figures = figures_for::<PostgresPool>("failover/all-down");

        let cluster = Arc::new(cluster);
        let crashing = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || crashing.stop_primary_immediate())
            .await
            .unwrap();
        proxy.set(Mode::Reset);
        let ports = [cluster.primary_port(), proxy.addr().port()];
        let (sqlx_slowest, postgres_slowest) = tokio::join!(
            every_call_fails_in_time(&sqlx_pool, &sqlx_figures, acquire, ports),
            every_call_fails_in_time(&postgres_pool, &postgres_figures, acquire, ports),
        );

        let restoring = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || restoring.restart_primary())
            .await
            .unwrap();
        let restored = Instant::now();
        proxy.set(Mode::Pass);
        tokio::join!(
            calls_succeed_again(&sqlx_pool, &sqlx_figures, restored, sqlx_slowest),
            calls_succeed_again(&postgres_pool, &postgres_figures, restored, postgres_slowest),
        );
        drop(cluster);
    })
    .await
    .expect("the scenario finished in time");
}

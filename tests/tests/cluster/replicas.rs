#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Read replicas (`pool_sqlx::Replicas` and `pool_postgres::Replicas`, one implementation
//! in `pool_facts::replicas`) on a private primary and streaming standby
//! (`tests::cluster`, asynchronous replication: under synchronous replication a paused
//! standby would hold every commit). The cluster starts once for the binary: one test
//! runs the parts in order, each from one body for both bindings (a [`Binding`] adapter
//! each: its configuration, queries and `#[pooled(read)]` functions), both bindings' sets
//! on the one cluster at once, through the one pause and resume of replay.
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
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicI64, Ordering},
    },
    time::Duration,
};

use pool_postgres::PostgresManager;
use pool_sqlx::{
    Classify, Config, Error, ErrorClass, HealthStatus, Pool, Resilience, SqlxManager,
    pool_facts::replicas::{ReplicaBinding, Replicas, WriteToken},
    pooled, resilient,
    sqlx::{self, Connection, PgConnection, Postgres},
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

/// The pool settings of every member, on either binding.
fn url(url: &str) -> String {
    format!("{url}?connection_limit=4&pool_timeout=2&connect_timeout=1")
}

/// A binding's set of replicas.
type Set<B> = Replicas<<B as Binding>::Manager>;

/// One binding's side of the scenarios: its configuration, its queries on the shared
/// table `t`, and its `#[pooled(read)]` functions taking the set.
trait Binding: 'static {
    /// Names the binding in figures and assertion messages.
    const NAME: &'static str;
    /// Where this binding's ids start, so both bindings share one table.
    const IDS: i64;
    /// The binding's manager: the set is `Replicas<Self::Manager>`.
    type Manager: ReplicaBinding<BindingError = Self::Error>;
    /// What the binding's functions return.
    type Error: std::error::Error + Classify + Send + Sync + 'static;

    /// A member's configuration for `url` (the scenarios' pool settings).
    fn config(url: &str) -> <Self::Manager as ReplicaBinding>::Config;

    /// The port of the server a connection of `pool` talks to.
    fn port(pool: &Pool<Self::Manager>) -> impl Future<Output = u16> + Send;

    /// `SELECT inet_server_port()` through `#[pooled(read)]`.
    fn read_port(set: &Set<Self>) -> impl Future<Output = Result<u16, Self::Error>> + Send;

    /// The same under `#[resilient(retries = 2)]`: each attempt asks the set anew.
    fn retried_read_port(set: &Set<Self>) -> impl Future<Output = Result<u16, Self::Error>> + Send;

    /// An insert through `#[pooled(read)]`: the replica refuses it.
    fn write_on_a_read_path(
        set: &Set<Self>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The SQLSTATE of a server's refusal.
    fn sqlstate(error: &Self::Error) -> Option<String>;

    /// Inserts `id` into `t` on `pool`.
    fn insert(pool: &Pool<Self::Manager>, id: i64) -> impl Future<Output = ()> + Send;

    /// The row `id` of `t`, if `pool`'s server has it.
    fn select(pool: &Pool<Self::Manager>, id: i64) -> impl Future<Output = Option<i64>> + Send;

    /// The rows of `t`.
    fn count(pool: &Pool<Self::Manager>) -> impl Future<Output = i64> + Send;

    /// Inserts `id` through `Replicas::transaction`: its value and token.
    fn insert_in_transaction(
        set: &Set<Self>,
        policy: &Resilience,
        id: i64,
    ) -> impl Future<Output = (i64, WriteToken)> + Send;
}

/// pool-sqlx.
struct Sqlx;

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

impl Binding for Sqlx {
    const NAME: &'static str = "pool-sqlx";
    const IDS: i64 = 0;
    type Manager = SqlxManager<Postgres>;
    type Error = Error;

    fn config(url: &str) -> Config {
        Config::from_url(&self::url(url)).unwrap()
    }

    async fn port(pool: &Pool<Self::Manager>) -> u16 {
        let mut conn = pool.get().await.unwrap();
        let port: i32 = sqlx::query_scalar("SELECT inet_server_port()")
            .fetch_one(&mut **conn)
            .await
            .unwrap();
        u16::try_from(port).unwrap()
    }

    fn read_port(set: &Set<Self>) -> impl Future<Output = Result<u16, Error>> + Send {
        read_port(set)
    }

    fn retried_read_port(set: &Set<Self>) -> impl Future<Output = Result<u16, Error>> + Send {
        retried_read_port(set)
    }

    fn write_on_a_read_path(set: &Set<Self>) -> impl Future<Output = Result<(), Error>> + Send {
        write_on_a_read_path(set)
    }

    fn sqlstate(error: &Error) -> Option<String> {
        error
            .as_sqlx()
            .and_then(|error| error.as_database_error())
            .and_then(|error| error.code())
            .map(|code| code.into_owned())
    }

    async fn insert(pool: &Pool<Self::Manager>, id: i64) {
        let mut conn = pool.get().await.unwrap();
        sqlx::query("INSERT INTO t (id) VALUES ($1)")
            .bind(id)
            .execute(&mut **conn)
            .await
            .unwrap();
    }

    async fn select(pool: &Pool<Self::Manager>, id: i64) -> Option<i64> {
        let mut conn = pool.get().await.unwrap();
        sqlx::query_scalar("SELECT id FROM t WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **conn)
            .await
            .unwrap()
    }

    async fn count(pool: &Pool<Self::Manager>) -> i64 {
        let mut conn = pool.get().await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut **conn)
            .await
            .unwrap()
    }

    async fn insert_in_transaction(
        set: &Set<Self>,
        policy: &Resilience,
        id: i64,
    ) -> (i64, WriteToken) {
        set.transaction(policy, |conn| {
            Box::pin(async move {
                sqlx::query("INSERT INTO t (id) VALUES ($1)")
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                Ok::<_, Error>(id)
            })
        })
        .await
        .unwrap()
    }
}

/// pool-postgres.
struct TokioPostgres;

/// [`read_port`] on pool-postgres.
#[pooled(read, crate = pool_postgres)]
async fn read_port_postgres(conn: &mut pool_postgres::Client) -> Result<u16, pool_postgres::Error> {
    let port: i32 = conn
        .query_one_cached("SELECT inet_server_port()", &[])
        .await?
        .get(0);
    Ok(u16::try_from(port).unwrap_or(0))
}

/// [`retried_read_port`] on pool-postgres.
#[resilient(crate = pool_postgres, retries = 2, timeout = "2s")]
#[pooled(read, crate = pool_postgres)]
async fn retried_read_port_postgres(
    conn: &mut pool_postgres::Client,
) -> Result<u16, pool_postgres::Error> {
    let port: i32 = conn
        .query_one_cached("SELECT inet_server_port()", &[])
        .await?
        .get(0);
    Ok(u16::try_from(port).unwrap_or(0))
}

/// [`write_on_a_read_path`] on pool-postgres.
#[pooled(read, crate = pool_postgres)]
async fn write_on_a_read_path_postgres(
    conn: &mut pool_postgres::Client,
) -> Result<(), pool_postgres::Error> {
    conn.execute_cached("INSERT INTO t (id) VALUES (-1)", &[])
        .await?;
    Ok(())
}

impl Binding for TokioPostgres {
    const NAME: &'static str = "pool-postgres";
    const IDS: i64 = 100_000_000;
    type Manager = PostgresManager;
    type Error = pool_postgres::Error;

    fn config(url: &str) -> pool_postgres::Config {
        pool_postgres::Config::from_url(&self::url(url)).unwrap()
    }

    async fn port(pool: &Pool<Self::Manager>) -> u16 {
        let conn = pool.get().await.unwrap();
        let port: i32 = conn
            .query_one("SELECT inet_server_port()", &[])
            .await
            .unwrap()
            .get(0);
        u16::try_from(port).unwrap()
    }

    fn read_port(
        set: &Set<Self>,
    ) -> impl Future<Output = Result<u16, pool_postgres::Error>> + Send {
        read_port_postgres(set)
    }

    fn retried_read_port(
        set: &Set<Self>,
    ) -> impl Future<Output = Result<u16, pool_postgres::Error>> + Send {
        retried_read_port_postgres(set)
    }

    fn write_on_a_read_path(
        set: &Set<Self>,
    ) -> impl Future<Output = Result<(), pool_postgres::Error>> + Send {
        write_on_a_read_path_postgres(set)
    }

    fn sqlstate(error: &pool_postgres::Error) -> Option<String> {
        error.sqlstate().map(str::to_owned)
    }

    async fn insert(pool: &Pool<Self::Manager>, id: i64) {
        let conn = pool.get().await.unwrap();
        conn.execute_cached("INSERT INTO t (id) VALUES ($1)", &[&id])
            .await
            .unwrap();
    }

    async fn select(pool: &Pool<Self::Manager>, id: i64) -> Option<i64> {
        let conn = pool.get().await.unwrap();
        conn.query_cached("SELECT id FROM t WHERE id = $1", &[&id])
            .await
            .unwrap()
            .first()
            .map(|row| row.get(0))
    }

    async fn count(pool: &Pool<Self::Manager>) -> i64 {
        let conn = pool.get().await.unwrap();
        conn.query_one_cached("SELECT count(*) FROM t", &[])
            .await
            .unwrap()
            .get(0)
    }

    async fn insert_in_transaction(
        set: &Set<Self>,
        policy: &Resilience,
        id: i64,
    ) -> (i64, WriteToken) {
        set.transaction(policy, |conn| {
            Box::pin(async move {
                conn.execute("INSERT INTO t (id) VALUES ($1)", &[&id])
                    .await?;
                Ok::<_, pool_postgres::Error>(id)
            })
        })
        .await
        .unwrap()
    }
}

/// `name`, marked with the binding for pool-postgres (pool-sqlx's figures keep their
/// names).
fn named<B: Binding>(name: &str) -> String {
    if B::IDS == 0 {
        name.to_owned()
    } else {
        format!("{name} ({})", B::NAME)
    }
}

/// The set for binding `B` on `cluster`: the standby added twice.
fn build<B: Binding>(cluster: &Cluster) -> Set<B> {
    let standby_url = cluster.standby_url("postgres");
    Replicas::builder(B::config(&cluster.primary_url("postgres")))
        .name(named::<B>("replicas-test"))
        .replica(B::config(&standby_url))
        .replica(B::config(&standby_url))
        .max_replica_lag(MAX_LAG)
        .probe_every(PROBE_EVERY)
        .read_your_writes_wait(RYW_WAIT)
        .build()
        .unwrap()
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

fn qualifies<M: ReplicaBinding>(set: &Replicas<M>) -> bool {
    set.status()
        .replicas
        .iter()
        .all(|replica| replica.qualifies)
}

fn none_qualifies<M: ReplicaBinding>(set: &Replicas<M>) -> bool {
    set.status()
        .replicas
        .iter()
        .all(|replica| !replica.qualifies)
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

/// Inserts `id` (in `B`'s range) on the primary, takes the token, reads the row back
/// through `replica_after`.
async fn write_then_read<B: Binding>(set: &Set<B>, id: i64, ryw: &mut Ryw) {
    let id = B::IDS + id;
    B::insert(set.primary(), id).await;
    let token = set.write_token().await;
    assert!(token.lsn().is_some(), "{}: the token was read", B::NAME);
    let asked = Instant::now();
    let pool = set.replica_after(&token).await;
    ryw.max_wait = ryw.max_wait.max(asked.elapsed());
    let seen = B::select(pool, id).await;
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
        let sqlx_set = build::<Sqlx>(&cluster);
        let postgres_set = build::<TokioPostgres>(&cluster);
        routing::<Sqlx>(&cluster, &sqlx_set).await;
        routing::<TokioPostgres>(&cluster, &postgres_set).await;
        tokio::join!(
            read_your_writes_running::<Sqlx>(&sqlx_set),
            read_your_writes_running::<TokioPostgres>(&postgres_set)
        );
        scenario_3_replica_lag(&cluster, &sqlx_set, &postgres_set).await;
        sqlx_set.close().await;
        postgres_set.close().await;
    })
    .await
    .expect("the scenarios finished in time");
}

async fn routing<B: Binding>(cluster: &Cluster, set: &Set<B>) {
    let figures = Figures::new(named::<B>("replicas/routing"));
    let joined = until(
        &format!("{}: the replicas qualify", B::NAME),
        Duration::from_secs(10),
        || qualifies(set),
    )
    .await;
    let mut names = Vec::new();
    for _ in 0..6 {
        let pool = set.replica();
        assert_eq!(
            B::port(pool).await,
            cluster.standby_port(),
            "{}: reads on the standby",
            B::NAME
        );
        names.push(pool.name().to_owned());
    }
    assert_eq!(B::port(set.primary()).await, cluster.primary_port());
    assert_eq!(B::read_port(set).await.unwrap(), cluster.standby_port());
    assert_eq!(
        B::retried_read_port(set).await.unwrap(),
        cluster.standby_port()
    );
    let refused = B::write_on_a_read_path(set).await.unwrap_err();
    assert_eq!(
        B::sqlstate(&refused).as_deref(),
        Some("25006"),
        "{}: {refused}",
        B::NAME
    );
    assert_eq!(refused.class(), ErrorClass::Connection, "{}", B::NAME);
    assert!(
        names.windows(2).all(|pair| pair[0] != pair[1]),
        "{}: round-robin over the two replica pools: {names:?}",
        B::NAME
    );
    let status = set.status();
    let json = serde_json::to_string(&status).unwrap();
    assert!(json.contains("\"qualifies\":true"), "{json}");
    let health = set.health(Duration::from_secs(2)).await;
    assert_eq!(health.status, HealthStatus::Healthy, "{health:?}");
    figures.note("build to both replicas qualifying", format!("{joined:.3?}"));
    figures.note("reads", names.join(" "));
    figures.note("status", json);
    figures.print();
}

async fn read_your_writes_running<B: Binding>(set: &Set<B>) {
    let figures = Figures::new(named::<B>("replicas/read-your-writes-running"));
    let mut ryw = Ryw::default();
    for id in 0..200 {
        write_then_read::<B>(set, id, &mut ryw).await;
    }
    // Through the transaction engine: the token comes with the committed value.
    let policy = Resilience::builder("replicas-test").retries(2).build();
    let mut by_replica = 0;
    for id in 500..520_i64 {
        let (inserted, token) = B::insert_in_transaction(set, &policy, B::IDS + id).await;
        let pool = set.replica_after(&token).await;
        let seen = B::select(pool, inserted).await;
        assert_eq!(
            seen,
            Some(B::IDS + id),
            "{}: read after the transaction sees it",
            B::NAME
        );
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
    assert_eq!(ryw.missed, 0, "{}: {ryw}", B::NAME);
    assert!(
        ryw.by_replica > 0,
        "{}: with replay running, replicas serve reads-after-writes: {ryw}",
        B::NAME
    );
}

/// One binding's load through scenario 3: a writer on the primary and a reader asking
/// `replica()`, each every 5 ms, until `stop`.
struct LagLoad {
    writer: tokio::task::JoinHandle<u64>,
    reader: tokio::task::JoinHandle<()>,
    /// When each read was routed, and whether to the standby.
    routed: Arc<Mutex<Vec<(Instant, bool)>>>,
}

fn start_lag_load<B: Binding>(set: &Set<B>, stop: &Arc<AtomicBool>) -> LagLoad {
    let next_id = Arc::new(AtomicI64::new(B::IDS + 1_000_000));
    let writer = {
        let (set, stop) = (set.clone(), Arc::clone(stop));
        tokio::spawn(async move {
            let mut writes = 0u64;
            while !stop.load(Ordering::Relaxed) {
                B::insert(set.primary(), next_id.fetch_add(1, Ordering::Relaxed)).await;
                writes += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            writes
        })
    };
    let routed: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let reader = {
        let (set, stop, routed) = (set.clone(), Arc::clone(stop), Arc::clone(&routed));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let at = Instant::now();
                let pool = set.replica();
                let on_standby = !std::ptr::eq(pool, set.primary());
                B::count(pool).await;
                routed.lock().unwrap().push((at, on_standby));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    LagLoad {
        writer,
        reader,
        routed,
    }
}

/// What one binding saw from the pause until the resume.
struct WhilePaused {
    left: Instant,
    lag_at_leave: Option<f64>,
    reason: String,
    attribute_read_while_out: u16,
    ryw_pausing: Ryw,
    ryw_paused: Ryw,
    degraded: HealthStatus,
}

async fn while_paused<B: Binding>(set: &Set<B>) -> WhilePaused {
    // Right after the pause the standby still qualifies: a read after a write waits for
    // it to replay the write, up to the bound, then goes to the primary.
    let mut ryw_pausing = Ryw::default();
    write_then_read::<B>(set, 1_900_000, &mut ryw_pausing).await;
    until(
        &format!("{}: the paused standby leaves the read set", B::NAME),
        Duration::from_secs(10),
        || none_qualifies(set),
    )
    .await;
    let left = Instant::now();
    let status = set.status();
    let first = status.replicas.first();
    let lag_at_leave = first.and_then(|r| r.lag_ms);
    let reason = first.and_then(|r| r.reason.clone()).unwrap_or_default();
    let attribute_read_while_out = B::read_port(set).await.unwrap();
    let mut ryw_paused = Ryw::default();
    for id in 0..20 {
        write_then_read::<B>(set, 2_000_000 + id, &mut ryw_paused).await;
    }
    let degraded = set.health(Duration::from_secs(2)).await.status;
    WhilePaused {
        left,
        lag_at_leave,
        reason,
        attribute_read_while_out,
        ryw_pausing,
        ryw_paused,
        degraded,
    }
}

/// What one binding saw after the resume: the time to return, when, read-your-writes.
async fn after_resume<B: Binding>(set: &Set<B>) -> (Duration, Instant, Ryw) {
    let to_return = until(
        &format!("{}: the standby returns to the read set", B::NAME),
        Duration::from_secs(10),
        || qualifies(set),
    )
    .await;
    let returned = Instant::now();
    let mut ryw_after = Ryw::default();
    for id in 0..50 {
        write_then_read::<B>(set, 3_000_000 + id, &mut ryw_after).await;
    }
    (to_return, returned, ryw_after)
}

/// Both bindings' loads through one pause and resume of replay.
async fn scenario_3_replica_lag(
    cluster: &Arc<Cluster>,
    sqlx_set: &Set<Sqlx>,
    postgres_set: &Set<TokioPostgres>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let sqlx_load = start_lag_load::<Sqlx>(sqlx_set, &stop);
    let postgres_load = start_lag_load::<TokioPostgres>(postgres_set, &stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        qualifies(sqlx_set),
        "pool-sqlx: the replicas qualify before the pause"
    );
    assert!(
        qualifies(postgres_set),
        "pool-postgres: the replicas qualify before the pause"
    );

    let pausing = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || pausing.pause_replay())
        .await
        .unwrap();
    let paused = Instant::now();
    let (sqlx_paused, postgres_paused) = tokio::join!(
        while_paused::<Sqlx>(sqlx_set),
        while_paused::<TokioPostgres>(postgres_set)
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let resuming = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || resuming.resume_replay())
        .await
        .unwrap();
    let resumed = Instant::now();
    let (sqlx_after, postgres_after) = tokio::join!(
        after_resume::<Sqlx>(sqlx_set),
        after_resume::<TokioPostgres>(postgres_set)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let marks = Marks { paused, resumed };
    report_lag::<Sqlx>(cluster, sqlx_load, &marks, sqlx_paused, sqlx_after).await;
    report_lag::<TokioPostgres>(
        cluster,
        postgres_load,
        &marks,
        postgres_paused,
        postgres_after,
    )
    .await;
}

/// The moments scenario 3's shared faults began and ended.
struct Marks {
    paused: Instant,
    resumed: Instant,
}

/// Stops one binding's load, prints its figures and checks them.
async fn report_lag<B: Binding>(
    cluster: &Cluster,
    load: LagLoad,
    marks: &Marks,
    seen: WhilePaused,
    (to_return, returned, ryw_after): (Duration, Instant, Ryw),
) {
    let figures = Figures::new(named::<B>("replicas/scenario-3-replica-lag"));
    let writes = load.writer.await.unwrap();
    load.reader.await.unwrap();
    let routed = load.routed.lock().unwrap().clone();
    let count = |from: Instant, to: Instant| {
        let window: Vec<bool> = routed
            .iter()
            .filter(|(at, _)| *at >= from && *at < to)
            .map(|(_, on_standby)| *on_standby)
            .collect();
        let standby = window.iter().filter(|on| **on).count();
        (standby, window.len() - standby)
    };
    let Marks { paused, resumed } = *marks;
    let far = Instant::now() + Duration::from_secs(3600);
    let before = count(paused - Duration::from_secs(10), paused);
    let pausing_window = count(paused, seen.left);
    let out = count(seen.left, resumed);
    let after = count(returned, far);
    let to_leave = seen.left - paused;

    figures.note("max_replica_lag", format!("{MAX_LAG:?}"));
    figures.note("probe period", format!("{PROBE_EVERY:?}"));
    figures.note("writes on the primary", writes);
    figures.note("pause to leaving the read set", format!("{to_leave:.3?}"));
    figures.note(
        "lag when it left",
        format!("{:?} ms ({})", seen.lag_at_leave, seen.reason),
    );
    figures.note("resume to returning", format!("{to_return:.3?}"));
    let split =
        |(standby, primary): (usize, usize)| format!("{standby} standby / {primary} primary");
    figures.note("reads before the pause", split(before));
    figures.note("reads from pause to leaving", split(pausing_window));
    figures.note("reads from leaving to resume", split(out));
    figures.note("reads after returning", split(after));
    figures.note("set health while out", seen.degraded.as_str());
    figures.note(
        "read-your-writes, just paused (replica still in)",
        &seen.ryw_pausing,
    );
    figures.note("read-your-writes, replay paused", &seen.ryw_paused);
    figures.note("read-your-writes, after the resume", &ryw_after);
    figures.print();

    let name = B::NAME;
    assert_eq!(
        seen.attribute_read_while_out,
        cluster.primary_port(),
        "{name}: #[pooled(read)] reads from the primary while the standby is out"
    );
    assert!(
        before.0 > 0,
        "{name}: reads used the standby before the pause"
    );
    assert_eq!(
        out.0, 0,
        "{name}: no read routed to the standby while it was out"
    );
    assert!(out.1 > 0, "{name}: reads went on, on the primary");
    assert!(after.0 > 0, "{name}: reads came back to the standby");
    assert!(
        to_leave < MAX_LAG + 4 * PROBE_EVERY + Duration::from_millis(500),
        "{name}: left {to_leave:?} after the pause"
    );
    assert_eq!(seen.degraded, HealthStatus::Degraded, "{name}");
    let (pausing, paused_ryw) = (&seen.ryw_pausing, &seen.ryw_paused);
    assert_eq!(pausing.missed, 0, "{name}: {pausing}");
    assert_eq!(pausing.by_replica, 0, "{name}: {pausing}");
    assert!(pausing.max_wait >= RYW_WAIT, "{name}: {pausing}");
    assert_eq!(paused_ryw.missed, 0, "{name}: {paused_ryw}");
    assert_eq!(paused_ryw.by_replica, 0, "{name}: {paused_ryw}");
    assert_eq!(ryw_after.missed, 0, "{name}: {ryw_after}");
    assert!(ryw_after.by_replica > 0, "{name}: {ryw_after}");
}

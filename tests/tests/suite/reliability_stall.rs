#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, scenario 3 — stall: the fault proxy stops forwarding while queries are in
//! flight (the server has the query; its answer is held), as a hung network or server
//! would.
//!
//! Asserted, on PostgreSQL and on MariaDB:
//! - the same query through the same proxy completes well within the per-attempt timeout
//!   when nothing is stalled (the control);
//! - stalled mid-query, every attempt is cut by its per-attempt timeout
//!   (`#[resilient(timeout = "1s")]`) and its retry too (new connections stall as well);
//! - the stalled connections are discarded, never returned: the pool counts them as
//!   closed broken, the server sees their sessions end, and once the proxy passes again
//!   every call succeeds promptly, with the right answer, on a connection whose server
//!   session is none of the stalled ones;
//! - the pool refills to `min_idle` by itself.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test CI=true \
//!   cargo test -p tests --test suite -- reliability_stall:: --nocapture
//! ```

use std::{
    collections::BTreeSet,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Config, Error, Manager, Pool, PoolBuilder, Rejected, SqlxManager, pooled, resilient,
    sqlx::{self, Connection, MySql, MySqlConnection, PgConnection, Postgres},
};
use tests::{
    db::{self, TestDb},
    figures::{FigureKind, Figures, Latencies},
    proxy::{FaultProxy, Mode},
};
use tokio::time::{Instant, interval, timeout};

const MAX_SIZE: usize = 4;
const MIN_IDLE: usize = 2;
/// How long each stalled query runs on the server: well under the attempt timeout.
const QUERY_SECS: f64 = 0.5;
/// The per-attempt timeout of the `#[resilient]` functions below.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);
/// Calls in flight when the proxy stalls (every connection of the pool).
const STALLED: usize = MAX_SIZE;
/// Calls after the stall, each of which must succeed promptly.
const AFTER: usize = 16;
const PROMPT: Duration = Duration::from_millis(500);
const HARD_LIMIT: Duration = Duration::from_secs(30);

#[pooled]
async fn pg_sleepy(conn: &mut PgConnection, n: i64, secs: f64) -> Result<(i64, i64), Error> {
    Ok(
        sqlx::query_as("SELECT $1::int8, pg_backend_pid()::int8 FROM pg_sleep($2)")
            .bind(n)
            .bind(secs)
            .fetch_one(&mut *conn)
            .await?,
    )
}

#[resilient(
    retries = 1,
    backoff = "fixed",
    base = "10ms",
    jitter = "none",
    timeout = "1s",
    idempotent
)]
async fn pg_call(
    pool: &Pool<SqlxManager<Postgres>>,
    n: i64,
    secs: f64,
    tries: &AtomicU32,
) -> Result<(i64, i64), Error> {
    tries.fetch_add(1, Ordering::Relaxed);
    pg_sleepy(pool, n, secs).await
}

#[pooled]
async fn my_sleepy(conn: &mut MySqlConnection, n: i64, secs: f64) -> Result<(i64, i64), Error> {
    Ok(sqlx::query_as(
        "SELECT CAST(CAST(? AS SIGNED) + SLEEP(?) AS SIGNED), CAST(CONNECTION_ID() AS SIGNED)",
    )
    .bind(n)
    .bind(secs)
    .fetch_one(&mut *conn)
    .await?)
}

#[resilient(
    retries = 1,
    backoff = "fixed",
    base = "10ms",
    jitter = "none",
    timeout = "1s",
    idempotent
)]
async fn my_call(
    pool: &Pool<SqlxManager<MySql>>,
    n: i64,
    secs: f64,
    tries: &AtomicU32,
) -> Result<(i64, i64), Error> {
    tries.fetch_add(1, Ordering::Relaxed);
    my_sleepy(pool, n, secs).await
}

#[pooled(crate = pool_postgres)]
async fn pp_sleepy(
    conn: &mut pool_postgres::Client,
    n: i64,
    secs: f64,
) -> Result<(i64, i64), pool_postgres::Error> {
    let row = conn
        .query_one_cached(
            "SELECT $1::int8, pg_backend_pid()::int8 FROM pg_sleep($2)",
            &[&n, &secs],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

#[resilient(
    crate = pool_postgres,
    retries = 1,
    backoff = "fixed",
    base = "10ms",
    jitter = "none",
    timeout = "1s",
    idempotent
)]
async fn pp_call(
    pool: &pool_postgres::PostgresPool,
    n: i64,
    secs: f64,
    tries: &AtomicU32,
) -> Result<(i64, i64), pool_postgres::Error> {
    tries.fetch_add(1, Ordering::Relaxed);
    pp_sleepy(pool, n, secs).await
}

/// What differs between the bindings and backends.
trait Target: Send + Sync + 'static {
    type Manager: Manager;
    type Error: FigureKind + std::fmt::Debug + Send + 'static;
    const LABEL: &'static str;
    fn builder(url: &str, name: &str) -> PoolBuilder<Self::Manager>;
    fn call<'a>(
        pool: &'a Pool<Self::Manager>,
        n: i64,
        secs: f64,
        tries: &'a AtomicU32,
    ) -> impl Future<Output = Result<(i64, i64), Self::Error>> + Send + 'a;
    /// The policy's rejection inside the binding's error.
    fn rejected(error: &Self::Error) -> Option<&Rejected>;
    /// The server sessions of database `db` now running a sleep (seen from outside the
    /// proxy, on an administrative connection).
    fn sleeping(url: &str, db: &str) -> impl Future<Output = BTreeSet<i64>> + Send;
    /// Every server session of database `db`.
    fn sessions(url: &str, db: &str) -> impl Future<Output = BTreeSet<i64>> + Send;
}

/// pool-sqlx's error's rejection.
fn sqlx_rejected(error: &Error) -> Option<&Rejected> {
    match error {
        Error::Rejected(rejected) => Some(rejected),
        _ => None,
    }
}

struct Pg;
impl Target for Pg {
    type Manager = SqlxManager<Postgres>;
    type Error = Error;
    const LABEL: &'static str = "postgres";
    fn builder(url: &str, name: &str) -> PoolBuilder<Self::Manager> {
        Config::from_url(url)
            .unwrap()
            .pool_builder::<Postgres>(name)
            .unwrap()
    }
    fn call<'a>(
        pool: &'a Pool<SqlxManager<Postgres>>,
        n: i64,
        secs: f64,
        tries: &'a AtomicU32,
    ) -> impl Future<Output = Result<(i64, i64), Error>> + Send + 'a {
        pg_call(pool, n, secs, tries)
    }
    fn rejected(error: &Error) -> Option<&Rejected> {
        sqlx_rejected(error)
    }
    async fn sleeping(url: &str, db: &str) -> BTreeSet<i64> {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let pids: Vec<i64> = sqlx::query_scalar(
            "SELECT pid::int8 FROM pg_stat_activity WHERE datname = $1 AND state = 'active' \
             AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
        )
        .bind(db)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        pids.into_iter().collect()
    }
    async fn sessions(url: &str, db: &str) -> BTreeSet<i64> {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let pids: Vec<i64> = sqlx::query_scalar(
            "SELECT pid::int8 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(db)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        pids.into_iter().collect()
    }
}

struct My;
impl Target for My {
    type Manager = SqlxManager<MySql>;
    type Error = Error;
    const LABEL: &'static str = "mariadb";
    fn builder(url: &str, name: &str) -> PoolBuilder<Self::Manager> {
        Config::from_url(url)
            .unwrap()
            .pool_builder::<MySql>(name)
            .unwrap()
    }
    fn call<'a>(
        pool: &'a Pool<SqlxManager<MySql>>,
        n: i64,
        secs: f64,
        tries: &'a AtomicU32,
    ) -> impl Future<Output = Result<(i64, i64), Error>> + Send + 'a {
        my_call(pool, n, secs, tries)
    }
    fn rejected(error: &Error) -> Option<&Rejected> {
        sqlx_rejected(error)
    }
    async fn sleeping(url: &str, db: &str) -> BTreeSet<i64> {
        let mut conn = MySqlConnection::connect(url).await.unwrap();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
             WHERE DB = ? AND INFO LIKE '%SLEEP(%' AND ID <> CONNECTION_ID()",
        )
        .bind(db)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        ids.into_iter().collect()
    }
    async fn sessions(url: &str, db: &str) -> BTreeSet<i64> {
        let mut conn = MySqlConnection::connect(url).await.unwrap();
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
             WHERE DB = ? AND ID <> CONNECTION_ID()",
        )
        .bind(db)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.ok();
        ids.into_iter().collect()
    }
}

/// PostgreSQL through pool-postgres: the server's view is the same as for pool-sqlx's.
struct PoolPostgres;
impl Target for PoolPostgres {
    type Manager = pool_postgres::PostgresManager;
    type Error = pool_postgres::Error;
    const LABEL: &'static str = "pool-postgres";
    fn builder(url: &str, name: &str) -> PoolBuilder<Self::Manager> {
        pool_postgres::Config::from_url(url)
            .unwrap()
            .pool_builder(name)
            .unwrap()
    }
    fn call<'a>(
        pool: &'a Pool<Self::Manager>,
        n: i64,
        secs: f64,
        tries: &'a AtomicU32,
    ) -> impl Future<Output = Result<(i64, i64), pool_postgres::Error>> + Send + 'a {
        pp_call(pool, n, secs, tries)
    }
    fn rejected(error: &pool_postgres::Error) -> Option<&Rejected> {
        match error {
            pool_postgres::Error::Rejected(rejected) => Some(rejected),
            _ => None,
        }
    }
    fn sleeping(url: &str, db: &str) -> impl Future<Output = BTreeSet<i64>> + Send {
        Pg::sleeping(url, db)
    }
    fn sessions(url: &str, db: &str) -> impl Future<Output = BTreeSet<i64>> + Send {
        Pg::sessions(url, db)
    }
}

/// Polls `check` every 10 ms until it returns `Some`, for at most `limit`.
async fn poll_for<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    let mut tick = interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "{what}: not reached within {limit:?}"
        );
    }
}

/// Runs `count` calls at once; each result with its number of attempts and duration.
#[allow(clippy::type_complexity)]
async fn calls<T: Target>(
    pool: &Pool<T::Manager>,
    first: i64,
    count: usize,
    secs: f64,
) -> Vec<tokio::task::JoinHandle<(i64, Result<(i64, i64), T::Error>, u32, Duration)>> {
    (0..count as i64)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let tries = AtomicU32::new(0);
                let started = Instant::now();
                let result = T::call(&pool, first + i, secs, &tries).await;
                (
                    first + i,
                    result,
                    tries.load(Ordering::Relaxed),
                    started.elapsed(),
                )
            })
        })
        .collect()
}

async fn stall<T: Target>(db: TestDb) {
    let figures = Figures::new(format!("stall/{}", T::LABEL));
    let proxy = FaultProxy::for_url(&db.url).await.unwrap();
    let pool = T::builder(&proxy.url_through(&db.url), &format!("stall-{}", T::LABEL))
        .max_size(MAX_SIZE)
        .min_idle(MIN_IDLE)
        .acquire_timeout(Duration::from_secs(3))
        .connect_timeout(Duration::from_secs(1))
        .connect_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .build_and_connect()
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let hard_deadline = Instant::now() + HARD_LIMIT;
    let sampler = {
        let (pool, figures, stop) = (pool.clone(), Arc::clone(&figures), Arc::clone(&stop));
        tokio::spawn(async move {
            let mut tick = interval(Duration::from_millis(5));
            while !stop.load(Ordering::SeqCst) && Instant::now() < hard_deadline {
                tick.tick().await;
                figures.pool_connections(pool.status().size);
            }
        })
    };
    let record = |result: &Result<(i64, i64), T::Error>, tries: u32| {
        figures.outcome(result);
        figures.retries(u64::from(tries.saturating_sub(1)));
    };

    // Warm-up: every connection open (a PostgreSQL connect alone can take 100 ms here), so
    // the control below times the query, not connects. Holding `MAX_SIZE` checkouts at once
    // is what forces each one open: calls alone may run one after another on a loaded
    // machine and share the connections `min_idle` opened.
    let mut held = Vec::with_capacity(MAX_SIZE);
    for _ in 0..MAX_SIZE {
        held.push(pool.get().await.unwrap());
    }
    drop(held);
    for handle in calls::<T>(&pool, -10, STALLED, 0.0).await {
        let (_, result, tries, _) = handle.await.unwrap();
        record(&result, tries);
        result.unwrap();
    }
    // Control: the query completes within the attempt timeout when nothing stalls.
    let mut control = Latencies::new();
    for handle in calls::<T>(&pool, 1, STALLED, QUERY_SECS).await {
        let (n, result, tries, took) = handle.await.unwrap();
        record(&result, tries);
        let (echo, _) = result.unwrap();
        assert_eq!((echo, tries), (n, 1));
        control.push(took);
    }
    assert!(control.max() < ATTEMPT_TIMEOUT, "{}", control.summary());
    figures.note("control calls (not stalled)", control.summary());

    // The stall: every connection has a query on the server when the proxy stops.
    let before = pool.metrics();
    let in_flight = calls::<T>(&pool, 100, STALLED, QUERY_SECS).await;
    let stalled = poll_for(
        "queries in flight on the server",
        Duration::from_secs(3),
        || {
            let (url, name) = (db.url.clone(), db.name.clone());
            async move {
                let pids = T::sleeping(&url, &name).await;
                (pids.len() == STALLED).then_some(pids)
            }
        },
    )
    .await;
    proxy.set(Mode::Stall);
    let stall_at = Instant::now();
    let mut stalled_calls = Latencies::new();
    for handle in in_flight {
        let (_, result, tries, took) = timeout(HARD_LIMIT, handle)
            .await
            .expect("a stalled call hangs")
            .unwrap();
        record(&result, tries);
        assert!(
            matches!(result.as_ref().map_err(T::rejected), Err(Some(Rejected::Timeout { after })) if *after == ATTEMPT_TIMEOUT),
            "{result:?}"
        );
        // The first attempt and its retry were both cut by the attempt timeout.
        assert_eq!(tries, 2);
        assert!(took >= 2 * ATTEMPT_TIMEOUT, "{took:?}");
        stalled_calls.push(took);
    }
    let after_stall = pool.metrics();
    let discarded = after_stall.closed_broken - before.closed_broken;
    figures.note("stalled calls", stalled_calls.summary());
    figures.note(
        "stalled server sessions",
        format!("{:?}", stalled.iter().collect::<Vec<_>>()),
    );
    figures.note(
        "connections discarded as broken during the stall",
        format!("{discarded} (pool status after: {:?})", pool.status()),
    );
    assert!(discarded >= STALLED as u64, "{after_stall:?}");

    // Pass again: the pool refills to min_idle by itself...
    proxy.set(Mode::Pass);
    let pass_at = Instant::now();
    figures.note(
        "stall lasted",
        format!("{:.3}s", (pass_at - stall_at).as_secs_f64()),
    );
    poll_for("refilled to min_idle", Duration::from_secs(3), || {
        let status = pool.status();
        std::future::ready((status.idle >= MIN_IDLE).then_some(()))
    })
    .await;
    let refilled = pass_at.elapsed();
    figures.recovery(refilled);
    figures.note(
        "refilled to min_idle after the proxy passed again",
        format!("{:.3}s ({:?})", refilled.as_secs_f64(), pool.status()),
    );
    // ...the stalled sessions end on the server...
    poll_for("stalled sessions gone", Duration::from_secs(5), || {
        let (url, name, stalled) = (db.url.clone(), db.name.clone(), stalled.clone());
        async move {
            let sessions = T::sessions(&url, &name).await;
            sessions.is_disjoint(&stalled).then_some(())
        }
    })
    .await;
    // ...and every call succeeds promptly, on a connection that was never stalled.
    let mut after = Latencies::new();
    let mut used = BTreeSet::new();
    for round in 0..(AFTER / MAX_SIZE) {
        for handle in calls::<T>(&pool, 1000 + 10 * round as i64, MAX_SIZE, 0.0).await {
            let (n, result, tries, took) = handle.await.unwrap();
            record(&result, tries);
            let (echo, session) = result.unwrap();
            assert_eq!((echo, tries), (n, 1));
            assert!(
                !stalled.contains(&session),
                "a caller got a stalled connection (session {session})"
            );
            used.insert(session);
            after.push(took);
        }
    }
    figures.note("calls after the stall", after.summary());
    figures.note("server sessions used after the stall", used.len());
    assert!(after.max() < PROMPT, "{}", after.summary());
    // Connects begun during the stall may still be finishing: nothing stays in use.
    let settled = Instant::now();
    poll_for("nothing in use", Duration::from_secs(3), || {
        let status = pool.status();
        std::future::ready((status.in_use == 0 && status.waiting == 0).then_some(()))
    })
    .await;
    let status = pool.status();
    figures.note(
        "settled (nothing in use) after the last call",
        format!("{:.3}s ({status:?})", settled.elapsed().as_secs_f64()),
    );
    assert!(
        status.size >= MIN_IDLE && status.size <= MAX_SIZE,
        "{status:?}"
    );

    stop.store(true, Ordering::SeqCst);
    sampler.await.unwrap();
    figures.proxy_connections(proxy.counters().max_open.load(Ordering::SeqCst));
    figures.note("pool metrics", format!("{:?}", pool.metrics()));
    figures.print();
    pool.close().await;
    drop(proxy);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stalled_connections_time_out_are_discarded_and_the_pool_refills() {
    let Some(db) = db::postgres("stall").await else {
        return;
    };
    stall::<Pg>(db).await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_postgres_stalled_connections_time_out_are_discarded_and_the_pool_refills() {
    let Some(db) = db::postgres("stall_pp").await else {
        return;
    };
    stall::<PoolPostgres>(db).await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_stalled_connections_time_out_are_discarded_and_the_pool_refills() {
    let Some(db) = db::mysql("stall").await else {
        return;
    };
    stall::<My>(db).await;
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, scenario 5 — exhaustion: four times more callers than connections, each
//! holding its connection for a slow query (`pg_sleep`, MariaDB `SLEEP`), all at once,
//! through the fault proxy (passing: it counts the connections on the wire).
//!
//! Asserted, on PostgreSQL and on MariaDB:
//! - every caller either gets its answer or `PoolError::Timeout` whose phase is
//!   `WaitingForSlot` (every connection was busy), never anything else;
//! - a caller that times out does so after the acquire timeout and at most `MARGIN` later
//!   (the largest overshoot is measured and printed), its `waited` saying the same;
//! - at least the first `MAX_SIZE` callers succeed, and some callers time out;
//! - never more than `MAX_SIZE` connections, in the pool or on the wire;
//! - afterwards nothing is in use and nobody waits;
//! - nothing hangs: the whole scenario runs under a hard `tokio` timeout.
//!
//! ```sh
//! TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test CI=true \
//!   cargo test -p tests --test suite -- reliability_exhaustion:: --nocapture
//! ```

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Config, Error, Manager, Pool, PoolBuilder, PoolError, SqlxManager, TimeoutPhase, pooled,
    sqlx::{self, MySql, MySqlConnection, PgConnection, Postgres},
};
use tests::{
    db::{self, TestDb},
    figures::{FigureKind, Figures, Latencies},
    proxy::FaultProxy,
};
use tokio::{
    sync::Barrier,
    time::{Instant, interval, timeout},
};

const MAX_SIZE: usize = 4;
const CALLERS: usize = 4 * MAX_SIZE;
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(500);
/// Each query holds its connection this long: two rounds fit in the acquire timeout,
/// the third does not.
const QUERY_SECS: f64 = 0.3;
/// How late a timed-out caller may get its error, past the acquire timeout.
const MARGIN: Duration = Duration::from_millis(100);
const HARD_LIMIT: Duration = Duration::from_secs(20);

#[pooled]
async fn pg_slow(conn: &mut PgConnection, secs: f64) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar("SELECT pg_backend_pid()::int8 FROM pg_sleep($1)")
            .bind(secs)
            .fetch_one(&mut *conn)
            .await?,
    )
}

#[pooled]
async fn my_slow(conn: &mut MySqlConnection, secs: f64) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar("SELECT CAST(CONNECTION_ID() + SLEEP(?) AS SIGNED)")
            .bind(secs)
            .fetch_one(&mut *conn)
            .await?,
    )
}

#[pooled(crate = pool_postgres)]
async fn pp_slow(conn: &mut pool_postgres::Client, secs: f64) -> Result<i64, pool_postgres::Error> {
    Ok(conn
        .query_one_cached("SELECT pg_backend_pid()::int8 FROM pg_sleep($1)", &[&secs])
        .await?
        .get(0))
}

/// A binding and backend the scenario runs on: how it builds its pool, the slow call, and
/// where its error keeps the pool's.
trait Target: Send + Sync + 'static {
    type Manager: Manager;
    type Error: FigureKind + std::fmt::Debug + Send + 'static;
    const LABEL: &'static str;
    fn builder(url: &str, name: &str) -> PoolBuilder<Self::Manager>;
    fn call(
        pool: &Pool<Self::Manager>,
        secs: f64,
    ) -> impl Future<Output = Result<i64, Self::Error>> + Send + '_;
    fn pool_error(error: &Self::Error) -> Option<&PoolError<<Self::Manager as Manager>::Error>>;
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
    fn call(
        pool: &Pool<Self::Manager>,
        secs: f64,
    ) -> impl Future<Output = Result<i64, Error>> + Send + '_ {
        pg_slow(pool, secs)
    }
    fn pool_error(error: &Error) -> Option<&PoolError<pool_sqlx::SqlxError>> {
        match error {
            Error::Pool(error) => Some(error),
            _ => None,
        }
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
    fn call(
        pool: &Pool<Self::Manager>,
        secs: f64,
    ) -> impl Future<Output = Result<i64, Error>> + Send + '_ {
        my_slow(pool, secs)
    }
    fn pool_error(error: &Error) -> Option<&PoolError<pool_sqlx::SqlxError>> {
        Pg::pool_error(error)
    }
}

/// PostgreSQL through pool-postgres.
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
    fn call(
        pool: &Pool<Self::Manager>,
        secs: f64,
    ) -> impl Future<Output = Result<i64, pool_postgres::Error>> + Send + '_ {
        pp_slow(pool, secs)
    }
    fn pool_error(error: &pool_postgres::Error) -> Option<&PoolError<pool_postgres::PgError>> {
        match error {
            pool_postgres::Error::Pool(error) => Some(error),
            _ => None,
        }
    }
}

async fn exhaustion<T: Target>(db: TestDb) {
    let figures = Figures::new(format!("exhaustion/{}", T::LABEL));
    let proxy = FaultProxy::for_url(&db.url).await.unwrap();
    // Every connection open before the callers arrive: no caller has to connect, so a
    // timeout can only be a wait for a slot.
    let pool = T::builder(
        &proxy.url_through(&db.url),
        &format!("exhaustion-{}", T::LABEL),
    )
    .max_size(MAX_SIZE)
    .min_idle(MAX_SIZE)
    .acquire_timeout(ACQUIRE_TIMEOUT)
    .build_and_connect()
    .await
    .unwrap();
    // `build_and_connect` can return with some of the `min_idle` connections still being
    // opened by the pool's background task (see
    // `build_and_connect_returns_with_min_idle_connections_open` below): wait for them.
    let opening = Instant::now();
    let mut tick = interval(Duration::from_millis(2));
    while pool.status().idle < MAX_SIZE {
        assert!(
            opening.elapsed() < Duration::from_secs(5),
            "{:?}",
            pool.status()
        );
        tick.tick().await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (pool, figures, stop) = (pool.clone(), Arc::clone(&figures), Arc::clone(&stop));
        let deadline = Instant::now() + HARD_LIMIT;
        tokio::spawn(async move {
            let mut tick = interval(Duration::from_millis(2));
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                tick.tick().await;
                figures.pool_connections(pool.status().size);
            }
        })
    };

    let barrier = Arc::new(Barrier::new(CALLERS));
    let started = Instant::now();
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (pool, barrier) = (pool.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let started = Instant::now();
                let result = T::call(&pool, QUERY_SECS).await;
                (result, started.elapsed())
            })
        })
        .collect();
    let outcomes = timeout(HARD_LIMIT, async {
        let mut outcomes = Vec::new();
        for caller in callers {
            outcomes.push(caller.await.unwrap());
        }
        outcomes
    })
    .await
    .expect("a caller hangs");
    let all_done = started.elapsed();

    let mut succeeded = Latencies::new();
    let mut timed_out = Latencies::new();
    let mut overshoot = Latencies::new();
    for (result, took) in &outcomes {
        figures.outcome(result);
        match result.as_ref().map_err(T::pool_error) {
            Ok(_) => succeeded.push(*took),
            Err(Some(PoolError::Timeout {
                phase: TimeoutPhase::WaitingForSlot,
                waited,
                last_connect_error: None,
                ..
            })) => {
                assert!(*waited >= ACQUIRE_TIMEOUT, "waited {waited:?}");
                assert!(*took >= ACQUIRE_TIMEOUT, "timed out after {took:?}");
                timed_out.push(*took);
                overshoot.push(took.saturating_sub(ACQUIRE_TIMEOUT));
            }
            Err(_) => panic!("neither an answer nor a wait for a slot timing out: {result:?}"),
        }
    }
    // Connections the proxy saw: never more than the pool's limit.
    figures.proxy_connections(proxy.counters().max_open.load(Ordering::SeqCst));
    let settled = Instant::now();
    let mut tick = interval(Duration::from_millis(2));
    loop {
        let status = pool.status();
        if status.in_use == 0 && status.waiting == 0 {
            break;
        }
        assert!(
            settled.elapsed() < Duration::from_secs(2),
            "connections still in use: {status:?}"
        );
        tick.tick().await;
    }
    figures.recovery(settled.elapsed());
    stop.store(true, Ordering::SeqCst);
    sampler.await.unwrap();

    figures.note(
        "callers",
        format!("{CALLERS} at once on {MAX_SIZE} connections, each query {QUERY_SECS}s, acquire timeout {ACQUIRE_TIMEOUT:?}"),
    );
    figures.note("succeeded (call time)", succeeded.summary());
    figures.note("timed out (call time)", timed_out.summary());
    figures.note(
        "timeout overshoot past the acquire timeout",
        format!(
            "p50={}us max={}us (margin {}ms)",
            overshoot.quantile(0.5).as_micros(),
            overshoot.max().as_micros(),
            MARGIN.as_millis()
        ),
    );
    figures.note(
        "all callers done after",
        format!("{:.3}s", all_done.as_secs_f64()),
    );
    figures.note("pool metrics", format!("{:?}", pool.metrics()));
    figures.print();

    assert!(succeeded.count() >= MAX_SIZE, "{}", figures.render());
    assert!(timed_out.count() >= 1, "{}", figures.render());
    assert_eq!(succeeded.count() + timed_out.count(), CALLERS);
    assert!(overshoot.max() <= MARGIN, "{}", figures.render());
    assert!(
        succeeded.max() <= ACQUIRE_TIMEOUT + Duration::from_secs_f64(QUERY_SECS) + MARGIN,
        "{}",
        succeeded.summary()
    );
    let max_proxy = proxy.counters().max_open.load(Ordering::SeqCst);
    assert!(
        max_proxy as usize <= MAX_SIZE,
        "{max_proxy} connections on the wire"
    );
    let metrics = pool.metrics();
    assert_eq!(metrics.connections_created, MAX_SIZE as u64);
    assert_eq!(metrics.checkouts_timed_out, timed_out.count() as u64);
    pool.close().await;
    drop(proxy);
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_exhausted_pool_times_out_waiters_on_time() {
    let Some(db) = db::postgres("exhaustion").await else {
        return;
    };
    timeout(HARD_LIMIT + Duration::from_secs(10), exhaustion::<Pg>(db))
        .await
        .expect("the scenario hangs");
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_postgres_exhausted_pool_times_out_waiters_on_time() {
    let Some(db) = db::postgres("exhaustion_pp").await else {
        return;
    };
    timeout(
        HARD_LIMIT + Duration::from_secs(10),
        exhaustion::<PoolPostgres>(db),
    )
    .await
    .expect("the scenario hangs");
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_exhausted_pool_times_out_waiters_on_time() {
    let Some(db) = db::mysql("exhaustion").await else {
        return;
    };
    timeout(HARD_LIMIT + Duration::from_secs(10), exhaustion::<My>(db))
        .await
        .expect("the scenario hangs");
}

/// `PoolBuilder::build_and_connect` promises to open `max(min_idle, 1)` connections before
/// returning. It can return earlier: `build()` starts the background task, which tops the
/// pool up to `min_idle` with connects of its own, and `warm_up` stops opening as soon as
/// its `try_reserve` finds the room taken by those connects (pool-core
/// `pool/inner.rs`, `warm_up`: `if !self.try_reserve() { break; }`). The connections the
/// background task is still opening are neither waited for nor their errors reported.
#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_and_connect_returns_with_min_idle_connections_open() {
    let Some(db) = db::postgres("build_and_connect").await else {
        return;
    };
    let mut short = Vec::new();
    for _ in 0..5 {
        let pool = Config::from_url(&db.url)
            .unwrap()
            .pool_builder::<Postgres>("warm")
            .unwrap()
            .max_size(MAX_SIZE)
            .min_idle(MAX_SIZE)
            .build_and_connect()
            .await
            .unwrap();
        let status = pool.status();
        if status.idle < MAX_SIZE {
            short.push(status);
        }
        pool.close().await;
    }
    db.cleanup().await;
    assert!(
        short.is_empty(),
        "build_and_connect returned before min_idle = {MAX_SIZE} connections were open: {short:?}"
    );
}

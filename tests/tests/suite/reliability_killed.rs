#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, scenario 1: killed backends.
//!
//! 32 tasks insert rows with keys of their own choosing through a `#[resilient]` +
//! `#[pooled]` function for `RELIABILITY_SECONDS` (default 20 s) while a side task kills
//! one of the pool's backends every 200 ms (`pg_terminate_backend`, MariaDB `KILL`), and
//! another samples the pool's sessions on the server every 50 ms.
//!
//! The insert is idempotent by key: `INSERT ... ON CONFLICT (k) DO NOTHING` (PostgreSQL),
//! `INSERT IGNORE` (MariaDB) on a primary key, so a retry after a connection lost with the
//! statement in flight either applies the row or finds it already applied (0 rows
//! affected, still `Ok`). That is what makes `idempotent = true` honest here.
//!
//! Afterwards: every key acknowledged `Ok` to a caller is in the table exactly once (rows
//! whose caller got an error may have landed: counted, allowed), no task panicked, and
//! neither the server nor `status()` ever showed more than `max_size` connections.

use std::{
    collections::{BTreeMap, HashSet},
    future::Future,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    BreakerConfig, Config, DeclaredBreaker, Error, Manager, Pool, SlidingWindow, pooled, resilient,
    sqlx::{self, Connection, Executor, MySql, MySqlConnection, PgConnection, Postgres},
};
use tests::{
    db::{self, Server, TestDb},
    reliability::{
        Figures, KilledIds, Labelled, Sessions, Stop, count, error_kind, kill_one_every, ms,
        note_error, sample, seconds_from_env, snapshot, wait_for,
    },
};
use tokio::time::Instant;

const TASKS: i64 = 32;
const MAX_SIZE: usize = 8;
const KILL_EVERY: Duration = Duration::from_millis(200);
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Keys are `task * KEY_SPACE + sequence`: each caller picks its own, never shared.
const KEY_SPACE: i64 = 10_000_000;

/// How long the workload runs: `RELIABILITY_SECONDS`, 20 s by default (the figure).
fn duration() -> Duration {
    seconds_from_env("RELIABILITY_SECONDS", 20)
}

/// A breaker that opens on a real outage (half the last 50 calls failing) but not on
/// one killed connection in a few hundred calls; short open wait so a run never stalls.
fn breaker_config() -> BreakerConfig {
    BreakerConfig {
        minimum_calls: 20,
        sliding_window: SlidingWindow::Count(50),
        wait_in_open: Duration::from_millis(500),
        permitted_calls_in_half_open: 4,
        ..BreakerConfig::default()
    }
}

static PG_BREAKER: DeclaredBreaker =
    DeclaredBreaker::with_config("reliability-killed-pg", breaker_config);
static PP_BREAKER: DeclaredBreaker =
    DeclaredBreaker::with_config("reliability-killed-pool-postgres", breaker_config);
static MY_BREAKER: DeclaredBreaker =
    DeclaredBreaker::with_config("reliability-killed-mysql", breaker_config);

static PG_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
static MY_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
static PP_ATTEMPTS: AtomicU64 = AtomicU64::new(0);
/// The errors attempts failed with (each then retried, or ending the call).
static PG_ATTEMPT_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static MY_ATTEMPT_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static PP_ATTEMPT_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

#[resilient(
    retries = 5,
    backoff = "exponential",
    base = "5ms",
    max_delay = "200ms",
    jitter = "full",
    timeout = "5s",
    breaker = PG_BREAKER,
    idempotent = true
)]
#[pooled]
async fn pg_insert(conn: &mut PgConnection, key: i64, task: i64) -> Result<u64, Error> {
    PG_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    let done =
        sqlx::query("INSERT INTO items (k, task) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING")
            .bind(key)
            .bind(task)
            .execute(&mut *conn)
            .await;
    note_error(&PG_ATTEMPT_ERRORS, &done);
    Ok(done?.rows_affected())
}

#[resilient(
    retries = 5,
    backoff = "exponential",
    base = "5ms",
    max_delay = "200ms",
    jitter = "full",
    timeout = "5s",
    breaker = MY_BREAKER,
    idempotent = true
)]
#[pooled]
async fn my_insert(conn: &mut MySqlConnection, key: i64, task: i64) -> Result<u64, Error> {
    MY_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    let done = sqlx::query("INSERT IGNORE INTO items (k, task) VALUES (?, ?)")
        .bind(key)
        .bind(task)
        .execute(&mut *conn)
        .await;
    note_error(&MY_ATTEMPT_ERRORS, &done);
    Ok(done?.rows_affected())
}

#[resilient(
    crate = pool_postgres,
    retries = 5,
    backoff = "exponential",
    base = "5ms",
    max_delay = "200ms",
    jitter = "full",
    timeout = "5s",
    breaker = PP_BREAKER,
    idempotent = true
)]
#[pooled]
async fn pp_insert(
    conn: &mut pool_postgres::Client,
    key: i64,
    task: i64,
) -> Result<u64, pool_postgres::Error> {
    PP_ATTEMPTS.fetch_add(1, Ordering::Relaxed);
    let done = conn
        .execute_cached(
            "INSERT INTO items (k, task) VALUES ($1, $2) ON CONFLICT (k) DO NOTHING",
            &[&key, &task],
        )
        .await;
    note_error(&PP_ATTEMPT_ERRORS, &done);
    Ok(done?)
}

/// Every row of the table, read on a connection of its own (the pool's may have just
/// been killed).
async fn read_rows(db: &TestDb) -> Vec<(i64, i64)> {
    match db.server {
        Server::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.unwrap();
            let rows = sqlx::query_as("SELECT k, task FROM items")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            conn.close().await.ok();
            rows
        }
        Server::MySql => {
            let mut conn = MySqlConnection::connect(&db.url).await.unwrap();
            let rows = sqlx::query_as("SELECT k, task FROM items")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            conn.close().await.ok();
            rows
        }
    }
}

/// What one caller task did.
#[derive(Default)]
struct TaskReport {
    acked: Vec<i64>,
    already_applied: u64,
    failed: Vec<i64>,
    errors: BTreeMap<String, u64>,
}

/// The workload, the killer and the sampler; then the checks. Returns the figures.
#[allow(clippy::too_many_lines)]
async fn killed_backends<M, F, Fut, E>(
    db: &TestDb,
    backend: &str,
    pool: Pool<M>,
    insert: F,
    attempts: &'static AtomicU64,
    attempt_errors: &'static Mutex<BTreeMap<String, u64>>,
    breaker: &'static DeclaredBreaker,
) where
    M: Manager,
    F: Fn(Pool<M>, i64, i64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<u64, E>> + Send,
    E: Labelled + Send + 'static,
{
    let run_for = duration();
    let limit = run_for + Duration::from_secs(30);
    let breaker = breaker.breaker().unwrap();
    breaker.reset();
    let mut transitions = breaker.subscribe();
    attempts.store(0, Ordering::Relaxed);

    let stop = Stop::new();
    let killed = KilledIds::new();
    let sampler = {
        let pool = pool.clone();
        sample(
            Sessions::connect(db, pool.name()).await,
            move || pool.status().size,
            MAX_SIZE,
            killed.clone(),
            SAMPLE_EVERY,
            stop.clone(),
            limit,
        )
    };
    let killer = kill_one_every(
        Sessions::connect(db, pool.name()).await,
        KILL_EVERY,
        0x5EED ^ u64::from(backend == "postgres"),
        stop.clone(),
        limit,
        killed,
    );

    let started = Instant::now();
    let end = started + run_for;
    let handles: Vec<_> = (0..TASKS)
        .map(|task| {
            let pool = pool.clone();
            let insert = insert.clone();
            tokio::spawn(async move {
                let mut report = TaskReport::default();
                for seq in 0..KEY_SPACE {
                    if Instant::now() >= end {
                        break;
                    }
                    let key = task * KEY_SPACE + seq;
                    match insert(pool.clone(), key, task).await {
                        Ok(affected) => {
                            report.acked.push(key);
                            if affected == 0 {
                                report.already_applied += 1;
                            }
                        }
                        Err(error) => {
                            report.failed.push(key);
                            count(&mut report.errors, error_kind(&error));
                        }
                    }
                }
                report
            })
        })
        .collect();

    let mut panics = 0;
    let mut reports = Vec::new();
    for handle in handles {
        match tokio::time::timeout_at(started + limit, handle).await {
            Ok(Ok(report)) => reports.push(report),
            Ok(Err(error)) if error.is_panic() => panics += 1,
            Ok(Err(error)) => panic!("a task was cancelled: {error}"),
            Err(_) => panic!("a task did not finish within {limit:?}"),
        }
    }
    let elapsed = started.elapsed();
    stop.stop();
    let samples = sampler.await.unwrap();
    let kills = killer.await.unwrap();

    let mut breaker_changes = BTreeMap::new();
    for _ in 0..10_000 {
        match transitions.try_recv() {
            Ok(event) => count(
                &mut breaker_changes,
                format!("{}->{}", event.from.as_str(), event.to.as_str()),
            ),
            Err(_) => break,
        }
    }

    // What the table holds, against what callers were told.
    let rows = read_rows(db).await;
    let mut in_table: BTreeMap<i64, (i64, u32)> = BTreeMap::new();
    for (key, task) in &rows {
        let entry = in_table.entry(*key).or_insert((*task, 0));
        entry.1 += 1;
    }
    let acked: HashSet<i64> = reports
        .iter()
        .flat_map(|r| r.acked.iter().copied())
        .collect();
    let failed: HashSet<i64> = reports
        .iter()
        .flat_map(|r| r.failed.iter().copied())
        .collect();
    let acked_missing: Vec<i64> = acked
        .iter()
        .filter(|k| !in_table.contains_key(k))
        .copied()
        .collect();
    let duplicated: Vec<i64> = in_table
        .iter()
        .filter(|(_, (_, n))| *n != 1)
        .map(|(k, _)| *k)
        .collect();
    let wrong_task: Vec<i64> = in_table
        .iter()
        .filter(|(k, (task, _))| **k / KEY_SPACE != *task)
        .map(|(k, _)| *k)
        .collect();
    let never_asked: Vec<i64> = in_table
        .keys()
        .filter(|k| !acked.contains(k) && !failed.contains(k))
        .copied()
        .collect();
    let unacked_landed = failed.iter().filter(|k| in_table.contains_key(k)).count();

    let mut errors = BTreeMap::new();
    for report in &reports {
        for (kind, n) in &report.errors {
            *errors.entry(kind.clone()).or_insert(0) += n;
        }
    }
    let calls = (acked.len() + failed.len()) as u64;
    let attempts = attempts.load(Ordering::Relaxed);
    let metrics = pool.metrics();
    // Connects started for callers that were served otherwise finish on their own.
    let (status, _) = wait_for(
        Duration::from_secs(10),
        || pool.status(),
        |s| s.in_use == 0 && s.waiting == 0,
    )
    .await;

    let mut figures = Figures::new("1. killed backends", backend);
    figures.add("duration", format!("{:.1} s", elapsed.as_secs_f64()));
    figures.add("tasks", TASKS);
    figures.add("max_size", MAX_SIZE);
    figures.add("kill_every", ms(KILL_EVERY));
    figures.add("calls", calls);
    figures.add("ops_ok", acked.len());
    figures.add(
        "ops_ok_already_applied",
        reports.iter().map(|r| r.already_applied).sum::<u64>(),
    );
    figures.add("ops_failed", failed.len());
    figures.add_counts("errors", &errors);
    figures.add("attempts", attempts);
    figures.add_counts("attempt_errors", &snapshot(attempt_errors));
    figures.add("retries", attempts.saturating_sub(calls));
    figures.add("kills_done", kills.done);
    figures.add("kill_ticks", kills.tries);
    figures.add("kill_ticks_no_victim", kills.none_found);
    figures.add("kill_errors", kills.errors);
    figures.add("server_samples", samples.samples);
    figures.add("server_sample_errors", samples.errors);
    figures.add("max_connections_seen_server", samples.max_server_live);
    figures.add(
        "max_connections_seen_server_incl_killed_exiting",
        samples.max_server,
    );
    figures.add(
        "samples_over_max_size_incl_killed_exiting",
        samples.samples_over_with_killed,
    );
    figures.add("max_pool_size_seen_status", samples.max_pool_size);
    figures.add("rows_in_table", rows.len());
    figures.add("acked_missing", acked_missing.len());
    figures.add("rows_duplicated", duplicated.len());
    figures.add("unacked_landed", unacked_landed);
    figures.add("panics", panics);
    figures.add_counts("breaker_transitions", &breaker_changes);
    figures.add("breaker_state_at_end", breaker.state().as_str());
    figures.add("connections_created", metrics.connections_created);
    figures.add("closed_broken", metrics.closed_broken);
    figures.add("closed_invalid", metrics.closed_invalid);
    figures.add("connect_errors", metrics.connect_errors);
    figures.add("checkouts_timed_out", metrics.checkouts_timed_out);
    figures.add("acquire_p99", ms(metrics.acquire_latency.p99));
    figures.print();

    assert_eq!(panics, 0, "tasks panicked");
    assert!(
        acked_missing.is_empty(),
        "{} acknowledged inserts are missing, e.g. {:?}",
        acked_missing.len(),
        &acked_missing[..acked_missing.len().min(10)]
    );
    assert!(duplicated.is_empty(), "duplicated keys: {duplicated:?}");
    assert!(
        wrong_task.is_empty(),
        "rows with the wrong payload: {wrong_task:?}"
    );
    assert!(
        never_asked.is_empty(),
        "rows nobody inserted: {never_asked:?}"
    );
    assert!(kills.done >= 10, "the killer killed too little: {kills:?}");
    assert!(samples.samples >= 10, "too few samples: {samples:?}");
    assert!(
        samples.max_server_live <= MAX_SIZE,
        "the server saw {} live connections of a pool of at most {MAX_SIZE}: {:?}",
        samples.max_server_live,
        samples.over_limit
    );
    assert!(samples.max_pool_size <= MAX_SIZE);
    assert!(status.size <= MAX_SIZE);
    assert!(
        acked.len() as u64 > calls / 2,
        "most calls should succeed: {} of {calls}",
        acked.len()
    );
    // Every error a caller saw is one a lost connection can explain, not a bug.
    assert!(
        !errors.keys().any(|k| k.starts_with("permanent")),
        "permanent errors: {errors:?}"
    );
    assert_eq!(status.in_use, 0, "{status:?}");
    assert_eq!(status.waiting, 0, "{status:?}");
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_killed_backends_lose_no_acknowledged_insert() {
    let Some(db) = db::postgres("rel_killed").await else {
        return;
    };
    let pool =
        Config::from_url(&db.url_with(&format!("connection_limit={MAX_SIZE}&pool_timeout=10")))
            .unwrap()
            .build_pool::<Postgres>("rel_killed_pg")
            .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute("CREATE TABLE items (k bigint PRIMARY KEY, task bigint NOT NULL)")
        .await
        .unwrap();
    killed_backends(
        &db,
        "postgres",
        pool.clone(),
        |pool, key, task| async move { pg_insert(&pool, key, task).await },
        &PG_ATTEMPTS,
        &PG_ATTEMPT_ERRORS,
        &PG_BREAKER,
    )
    .await;
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_killed_backends_lose_no_acknowledged_insert() {
    let Some(db) = db::mysql("rel_killed").await else {
        return;
    };
    let pool =
        Config::from_url(&db.url_with(&format!("connection_limit={MAX_SIZE}&pool_timeout=10")))
            .unwrap()
            .build_pool::<MySql>("rel_killed_my")
            .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute("CREATE TABLE items (k BIGINT PRIMARY KEY, task BIGINT NOT NULL) ENGINE=InnoDB")
        .await
        .unwrap();
    killed_backends(
        &db,
        "mariadb",
        pool.clone(),
        |pool, key, task| async move { my_insert(&pool, key, task).await },
        &MY_ATTEMPTS,
        &MY_ATTEMPT_ERRORS,
        &MY_BREAKER,
    )
    .await;
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_postgres_killed_backends_lose_no_acknowledged_insert() {
    let Some(db) = db::postgres("rel_killed_pp").await else {
        return;
    };
    let pool = pool_postgres::Config::from_url(
        &db.url_with(&format!("connection_limit={MAX_SIZE}&pool_timeout=10")),
    )
    .unwrap()
    .build_pool("rel_killed_pp")
    .unwrap();
    pool.get()
        .await
        .unwrap()
        .batch_execute("CREATE TABLE items (k bigint PRIMARY KEY, task bigint NOT NULL)")
        .await
        .unwrap();
    killed_backends(
        &db,
        "pool-postgres",
        pool.clone(),
        |pool, key, task| async move { pp_insert(&pool, key, task).await },
        &PP_ATTEMPTS,
        &PP_ATTEMPT_ERRORS,
        &PP_BREAKER,
    )
    .await;
    pool.close().await;
    db.cleanup().await;
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue #7, scenario 6: restart-like loss.
//!
//! A pool warmed to N = 8 connections (`min_idle = 8`) loses all of them at once: every
//! session with its application name (PostgreSQL, `pg_terminate_backend`) or on its
//! database (MariaDB, `KILL`) is terminated, as a server restart would. Then 32 calls
//! (4 × N, concurrently) go through a `#[resilient]` + `#[pooled]` read, with no manual
//! intervention: no reset, no re-creating the pool. Every one must succeed.
//!
//! Measured per round (3 rounds per server): the time from the end of the kill to the
//! first successful call, to the last call, and to the pool being back to N idle
//! connections that the server lists as live; attempts (total and the most one call
//! needed) and how the dead connections were found (`closed_broken`: a call failed on it
//! and it was discarded; `closed_invalid`: the checkout's validation caught it first).
//!
//! `retries = 8`: each dead connection can fail at most one attempt, so N + 1 attempts
//! always reach a live one; the figures show how many were needed.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{
    Config, Error, Manager, Pool, pooled, resilient,
    sqlx::{self, Executor, MySql, MySqlConnection, PgConnection, Postgres},
};
use tests::{
    db::{self, TestDb},
    reliability::{
        Figures, KilledIds, Labelled, Sessions, connect_time, count, error_kind, ms, note_error,
        snapshot,
    },
};
use tokio::time::Instant;

/// The errors attempts failed with, by kind.
static PG_ATTEMPT_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static MY_ATTEMPT_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static PP_ATTEMPT_ERRORS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

const N: usize = 8;
const CALLS: usize = 4 * N;
const ROUNDS: usize = 3;
/// How long the pool may take to be back to N live idle connections.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

#[resilient(
    retries = 8,
    backoff = "exponential",
    base = "5ms",
    max_delay = "100ms",
    timeout = "5s",
    idempotent = true
)]
#[pooled]
async fn pg_read(conn: &mut PgConnection, attempts: &AtomicU64) -> Result<i64, Error> {
    attempts.fetch_add(1, Ordering::Relaxed);
    let count = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut *conn)
        .await;
    note_error(&PG_ATTEMPT_ERRORS, &count);
    Ok(count?)
}

#[resilient(
    retries = 8,
    backoff = "exponential",
    base = "5ms",
    max_delay = "100ms",
    timeout = "5s",
    idempotent = true
)]
#[pooled]
async fn my_read(conn: &mut MySqlConnection, attempts: &AtomicU64) -> Result<i64, Error> {
    attempts.fetch_add(1, Ordering::Relaxed);
    let count = sqlx::query_scalar("SELECT CAST(COUNT(*) AS SIGNED) FROM items")
        .fetch_one(&mut *conn)
        .await;
    note_error(&MY_ATTEMPT_ERRORS, &count);
    Ok(count?)
}

#[resilient(
    crate = pool_postgres,
    retries = 8,
    backoff = "exponential",
    base = "5ms",
    max_delay = "100ms",
    timeout = "5s",
    idempotent = true
)]
#[pooled]
async fn pp_read(
    conn: &mut pool_postgres::Client,
    attempts: &AtomicU64,
) -> Result<i64, pool_postgres::Error> {
    attempts.fetch_add(1, Ordering::Relaxed);
    let count = conn
        .query_one_cached("SELECT count(*) FROM items", &[])
        .await
        .map(|row| row.get::<_, i64>(0));
    note_error(&PP_ATTEMPT_ERRORS, &count);
    Ok(count?)
}

/// Waits (bounded) until the pool holds N idle connections, none in use, and the server
/// lists N of its sessions not killed by us. Returns how long it took, or `None`.
async fn until_back_to_n<M: Manager>(
    pool: &Pool<M>,
    sessions: &mut Sessions,
    killed: &KilledIds,
) -> Option<Duration> {
    let started = Instant::now();
    let max_rounds = RECOVERY_LIMIT.as_millis() / 5 + 1;
    for _ in 0..max_rounds {
        let status = pool.status();
        if status.idle == N && status.in_use == 0 {
            let ids = sessions.ids().await.unwrap();
            let live = ids.iter().filter(|id| !killed.contains(**id)).count();
            if live == N {
                return Some(started.elapsed());
            }
        }
        if started.elapsed() >= RECOVERY_LIMIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// One figure over the rounds: `min / median / max`.
fn spread(mut values: Vec<Duration>) -> String {
    values.sort();
    match (values.first(), values.get(values.len() / 2), values.last()) {
        (Some(min), Some(median), Some(max)) => {
            format!("{} / {} / {}", ms(*min), ms(*median), ms(*max))
        }
        _ => "none".to_owned(),
    }
}

#[allow(clippy::too_many_lines)]
async fn restart_like_loss<M, F, Fut, E>(
    db: &TestDb,
    backend: &str,
    pool: Pool<M>,
    read: F,
    attempt_errors: &Mutex<BTreeMap<String, u64>>,
) where
    M: Manager,
    F: Fn(Pool<M>, Arc<AtomicU64>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<i64, E>> + Send + 'static,
    E: Labelled + Send + 'static,
{
    let mut sessions = Sessions::connect(db, pool.name()).await;
    let killed = KilledIds::new();
    let warm = until_back_to_n(&pool, &mut sessions, &killed).await;
    assert!(
        warm.is_some(),
        "the pool never warmed to {N}: {:?}",
        pool.status()
    );

    let mut figures = Figures::new("6. restart-like loss", backend);
    figures.add("warm_connections", N);
    figures.add("calls_after_kill", CALLS);
    figures.add("rounds", ROUNDS);
    let mut connects = Vec::new();
    for _ in 0..3 {
        connects.push(connect_time(db).await);
    }
    figures.add("bare_connect_min_median_max", spread(connects));
    let (mut to_first, mut to_last, mut to_n) = (Vec::new(), Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        let before = pool.metrics();
        let errors_before = snapshot(attempt_errors);

        // Kill every session of the pool, as a restart would.
        let kill_started = Instant::now();
        let ids = sessions.ids().await.unwrap();
        for id in &ids {
            killed.insert(*id);
        }
        let terminated = sessions.kill_all(&ids).await.unwrap();
        let killed_at = Instant::now();
        let kill_took = killed_at - kill_started;

        // The next calls, all at once, with nothing done to the pool.
        let handles: Vec<_> = (0..CALLS)
            .map(|_| {
                let pool = pool.clone();
                let read = read.clone();
                tokio::spawn(async move {
                    let attempts = Arc::new(AtomicU64::new(0));
                    let result = read(pool, Arc::clone(&attempts)).await;
                    (result, Instant::now(), attempts.load(Ordering::Relaxed))
                })
            })
            .collect();
        let mut first_ok: Option<Instant> = None;
        let mut last_done = killed_at;
        let (mut ok, mut attempts, mut most) = (0, 0, 0);
        let mut errors = BTreeMap::new();
        for handle in handles {
            let (result, at, tries) = tokio::time::timeout(Duration::from_secs(60), handle)
                .await
                .expect("a call hung")
                .expect("a call panicked");
            attempts += tries;
            most = most.max(tries);
            last_done = last_done.max(at);
            match result {
                Ok(_) => {
                    ok += 1;
                    first_ok = Some(first_ok.map_or(at, |first| first.min(at)));
                }
                Err(error) => count(&mut errors, error_kind(&error)),
            }
        }
        // From the kill until the pool is whole again.
        let back = until_back_to_n(&pool, &mut sessions, &killed)
            .await
            .map(|_| killed_at.elapsed());
        let after = pool.metrics();

        let first = first_ok.map(|at| at - killed_at);
        figures.add(
            format!("round{round}"),
            format!(
                "killed {terminated}/{} in {}; ok {ok}/{CALLS}; first success after {}; \
                 last call after {}; back to {N} live idle after {}",
                ids.len(),
                ms(kill_took),
                first.map_or_else(|| "never".to_owned(), ms),
                ms(last_done - killed_at),
                back.map_or_else(|| "never".to_owned(), ms),
            ),
        );
        figures.add(
            format!("round{round}.attempts"),
            format!(
                "{attempts} for {CALLS} calls (retries {}), most by one call {most}",
                attempts.saturating_sub(CALLS as u64)
            ),
        );
        figures.add(
            format!("round{round}.dead_found"),
            format!(
                "closed_broken +{}, closed_invalid +{}, connections_created +{}",
                after.closed_broken - before.closed_broken,
                after.closed_invalid - before.closed_invalid,
                after.connections_created - before.connections_created
            ),
        );
        figures.add_counts(&format!("round{round}.errors"), &errors);
        let mut attempt_errors_now = snapshot(attempt_errors);
        for (kind, n) in &errors_before {
            if let Some(now) = attempt_errors_now.get_mut(kind) {
                *now -= n;
            }
        }
        attempt_errors_now.retain(|_, n| *n > 0);
        figures.add_counts(&format!("round{round}.attempt_errors"), &attempt_errors_now);
        if let Some(first) = first {
            to_first.push(first);
        }
        to_last.push(last_done - killed_at);
        if let Some(back) = back {
            to_n.push(back);
        }
        if terminated != N || ok != CALLS || back.is_none() {
            failures.push(format!(
                "round {round}: killed {terminated}/{N}, ok {ok}/{CALLS} {errors:?}, back to N: {back:?}"
            ));
        }
    }
    figures.add("first_success_min_median_max", spread(to_first));
    figures.add("last_call_min_median_max", spread(to_last));
    figures.add("back_to_n_min_median_max", spread(to_n));
    figures.print();
    sessions.close().await;
    assert!(failures.is_empty(), "{failures:#?}");
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_all_connections_killed_at_once_recover_without_intervention() {
    let Some(db) = db::postgres("rel_restart").await else {
        return;
    };
    let pool = Config::from_url(&db.url_with(&format!("connection_limit={N}&pool_timeout=10")))
        .unwrap()
        .pool_builder::<Postgres>("rel_restart_pg")
        .unwrap()
        .min_idle(N)
        .build_and_connect()
        .await
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute("CREATE TABLE items (k bigint PRIMARY KEY)")
        .await
        .unwrap();
    restart_like_loss(
        &db,
        "postgres",
        pool.clone(),
        |pool, attempts| async move { pg_read(&pool, &attempts).await },
        &PG_ATTEMPT_ERRORS,
    )
    .await;
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_mysql, ignore = "set TEST_MYSQL_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_all_connections_killed_at_once_recover_without_intervention() {
    let Some(db) = db::mysql("rel_restart").await else {
        return;
    };
    let pool = Config::from_url(&db.url_with(&format!("connection_limit={N}&pool_timeout=10")))
        .unwrap()
        .pool_builder::<MySql>("rel_restart_my")
        .unwrap()
        .min_idle(N)
        .build_and_connect()
        .await
        .unwrap();
    pool.get()
        .await
        .unwrap()
        .execute("CREATE TABLE items (k BIGINT PRIMARY KEY) ENGINE=InnoDB")
        .await
        .unwrap();
    restart_like_loss(
        &db,
        "mariadb",
        pool.clone(),
        |pool, attempts| async move { my_read(&pool, &attempts).await },
        &MY_ATTEMPT_ERRORS,
    )
    .await;
    pool.close().await;
    db.cleanup().await;
}

#[cfg_attr(no_postgres, ignore = "set TEST_POSTGRES_URL to run (README: Set-up)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_postgres_all_connections_killed_at_once_recover_without_intervention() {
    let Some(db) = db::postgres("rel_restart_pp").await else {
        return;
    };
    let pool = pool_postgres::Config::from_url(
        &db.url_with(&format!("connection_limit={N}&pool_timeout=10")),
    )
    .unwrap()
    .pool_builder("rel_restart_pp")
    .unwrap()
    .min_idle(N)
    .build_and_connect()
    .await
    .unwrap();
    pool.get()
        .await
        .unwrap()
        .batch_execute("CREATE TABLE items (k bigint PRIMARY KEY)")
        .await
        .unwrap();
    restart_like_loss(
        &db,
        "pool-postgres",
        pool.clone(),
        |pool, attempts| async move { pp_read(&pool, &attempts).await },
        &PP_ATTEMPT_ERRORS,
    )
    .await;
    pool.close().await;
    db.cleanup().await;
}

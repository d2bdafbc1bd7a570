//! `#[pooled]` at run time: checkout and return, transactions, global pools, drops
//! mid-operation, and a fresh connection per attempt under `#[resilient]`.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use pool_core::{ErrorClass, GlobalPool, Pool};

use macro_tests::memory::{Event, MemoryConnection, MemoryError, MemoryManager, Step, TestError};
use pool_macros::{pooled, resilient};

fn pool(manager: &MemoryManager) -> Pool<MemoryManager> {
    match Pool::builder(manager.clone()).max_size(2).build() {
        Ok(pool) => pool,
        Err(error) => panic!("pool config: {error}"),
    }
}

#[pooled]
async fn connection_id(conn: &mut MemoryConnection, plus: u64) -> Result<u64, TestError> {
    Ok(conn.id + plus)
}

#[tokio::test(start_paused = true)]
async fn checks_out_runs_and_returns_the_connection() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    assert_eq!(connection_id(&pool, 10).await, Ok(11));
    // Returned, then reused.
    assert_eq!(connection_id(&pool, 10).await, Ok(11));
    assert_eq!(manager.stats().connects, 1);
    assert_eq!(pool.status().in_use, 0);
}

#[pooled]
async fn breaks_connection(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    let _ = conn;
    Err(TestError::App(ErrorClass::Connection))
}

#[tokio::test(start_paused = true)]
async fn a_connection_class_error_discards_the_connection() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    assert!(breaks_connection(&pool).await.is_err());
    assert_eq!(connection_id(&pool, 0).await, Ok(2));
}

#[tokio::test(start_paused = true)]
async fn checkout_failure_converts_into_the_error_type() {
    let manager = MemoryManager::new();
    manager.script_connect([Step::Fail(ErrorClass::Permanent)]);
    let pool = pool(&manager);
    let error = connection_id(&pool, 0).await;
    assert!(matches!(error, Err(TestError::Pool(..))), "{error:?}");
}

#[pooled]
async fn hangs(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    let _ = conn;
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_mid_operation_discards_the_connection() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    let cut = tokio::time::timeout(Duration::from_secs(1), hangs(&pool)).await;
    assert!(cut.is_err());
    tokio::time::sleep(Duration::from_millis(1)).await;
    // Connection 1 was not handed out again.
    assert_eq!(connection_id(&pool, 0).await, Ok(2));
}

#[pooled(transaction)]
async fn transfer(conn: &mut MemoryConnection, fail: bool) -> Result<u64, TestError> {
    assert!(conn.in_transaction);
    if fail {
        return Err(TestError::App(ErrorClass::Permanent));
    }
    Ok(conn.id)
}

#[tokio::test(start_paused = true)]
async fn transaction_commits_on_ok_and_rolls_back_on_err() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    assert_eq!(transfer(&pool, false).await, Ok(1));
    assert!(transfer(&pool, true).await.is_err());
    let events: Vec<Event> = manager
        .events()
        .into_iter()
        .filter(|e| !matches!(e, Event::Checked(_)))
        .collect();
    assert_eq!(
        events,
        [
            Event::Connected(1),
            Event::Began(1),
            Event::Committed(1),
            Event::Began(1),
            Event::RolledBack(1),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_rollback_discards_the_connection() {
    let manager = MemoryManager::new();
    manager.script_rollback([Step::Fail(ErrorClass::Connection)]);
    let pool = pool(&manager);
    assert_eq!(
        transfer(&pool, true).await,
        Err(TestError::App(ErrorClass::Permanent))
    );
    assert_eq!(transfer(&pool, false).await, Ok(2));
}

static GLOBAL: GlobalPool<MemoryManager> = GlobalPool::new("macros-test");

#[pooled(pool = GLOBAL)]
async fn from_global(conn: &mut MemoryConnection) -> Result<u64, TestError> {
    Ok(conn.id)
}

#[tokio::test(start_paused = true)]
async fn global_pool_is_used_and_uninitialised_is_an_error() {
    assert!(matches!(from_global().await, Err(TestError::Pool(..))));
    let manager = MemoryManager::new();
    assert!(GLOBAL.init(pool(&manager)).is_ok());
    assert_eq!(from_global().await, Ok(1));
}

struct Users {
    prefix: u64,
}

impl Users {
    #[pooled]
    async fn find(&self, conn: &mut MemoryConnection, id: u64) -> Result<u64, TestError> {
        Ok(self.prefix + conn.id * 10 + id)
    }
}

#[tokio::test(start_paused = true)]
async fn methods_take_the_pool_after_self() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    let users = Users { prefix: 100 };
    assert_eq!(users.find(&pool, 3).await, Ok(113));
}

// `idempotent`: a dead connection leaves unknown whether the work was applied, so
// only an idempotent call retries it.
#[resilient(retries = 3, backoff = "fixed", base = "10ms", idempotent)]
#[pooled]
async fn stacked(conn: &mut MemoryConnection, calls: &AtomicUsize) -> Result<u64, TestError> {
    let n = calls.fetch_add(1, Ordering::SeqCst);
    if n < 2 {
        // A dead connection: discarded, and the next attempt gets a new one.
        return Err(TestError::App(ErrorClass::Connection));
    }
    Ok(conn.id)
}

#[tokio::test(start_paused = true)]
async fn stacked_under_resilient_each_attempt_gets_a_fresh_connection() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    let calls = AtomicUsize::new(0);
    assert_eq!(stacked(&pool, &calls).await, Ok(3));
    assert_eq!(manager.stats().connects, 3);
}

#[resilient(retries = 3, backoff = "fixed", base = "10ms")]
#[pooled]
async fn stacked_counted(
    conn: &mut MemoryConnection,
    calls: &AtomicUsize,
) -> Result<u64, TestError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Ok(conn.id)
}

#[tokio::test(start_paused = true)]
async fn a_checkout_timeout_is_retried_under_resilient() {
    let manager = MemoryManager::new();
    // The connect takes 250ms, the acquire timeout is 100ms: the first two checkouts time
    // out (the work was never sent, so they are retried) and the third gets the connection.
    manager.script_connect([Step::Stall(Duration::from_millis(250))]);
    let pool = match Pool::builder(manager.clone())
        .max_size(2)
        .acquire_timeout(Duration::from_millis(100))
        .build()
    {
        Ok(pool) => pool,
        Err(error) => panic!("pool config: {error}"),
    };
    let calls = AtomicUsize::new(0);
    let result = stacked_counted(&pool, &calls).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[resilient(retries = 2, base = "1ms", jitter = "none")]
#[pooled(transaction)]
async fn loses_connection_once(
    conn: &mut MemoryConnection,
    calls: &AtomicUsize,
) -> Result<u64, TestError> {
    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(TestError::App(ErrorClass::Connection));
    }
    Ok(conn.id)
}

/// The decided rule, through the macro door: a connection lost in the body (before
/// `COMMIT`) left nothing applied, so the attempt is retried without `idempotent`; the dead
/// connection gets no `ROLLBACK` and is discarded.
#[tokio::test(start_paused = true)]
async fn a_connection_lost_in_the_body_is_not_rolled_back_and_is_retried() {
    let manager = MemoryManager::new();
    let pool = pool(&manager);
    let calls = AtomicUsize::new(0);
    assert_eq!(loses_connection_once(&pool, &calls).await, Ok(2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // Discarded (the close itself runs in the background), never rolled back.
    assert_eq!(pool.metrics().closed_broken, 1);
    let events: Vec<Event> = manager
        .events()
        .into_iter()
        .filter(|e| !matches!(e, Event::Checked(_) | Event::Closed(_)))
        .collect();
    assert_eq!(
        events,
        [
            Event::Connected(1),
            Event::Began(1),
            Event::Connected(2),
            Event::Began(2),
            Event::Committed(2),
        ]
    );
}

/// A `COMMIT` that fails with a `Connection`-class error has an unknown outcome: the
/// caller's error says so, it is not retried without `idempotent`, and the connection is
/// discarded.
#[tokio::test(start_paused = true)]
async fn a_commit_lost_with_its_connection_is_not_retried() {
    let manager = MemoryManager::new();
    manager.script_commit([Step::Fail(ErrorClass::Connection)]);
    let pool = pool(&manager);
    let calls = AtomicUsize::new(0);
    calls.store(1, Ordering::SeqCst);
    let result = loses_connection_once(&pool, &calls).await;
    assert_eq!(
        result,
        Err(TestError::Db(MemoryError {
            class: ErrorClass::Connection,
            operation: "commit (outcome unknown)",
        }))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one body run, not retried");
    assert_eq!(pool.metrics().closed_broken, 1);
}

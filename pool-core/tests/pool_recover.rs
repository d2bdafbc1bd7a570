//! Recovery of a connection whose operation was cancelled by its caller, on a manager
//! that opts in (`Manager::RECOVERS`), under tokio's paused clock: the slot is free at
//! once, the connection rejoins the idle set when the manager's `recover` says so, and is
//! closed when it says no, outlasts `check_timeout`, or the body panicked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{sync::atomic::Ordering::SeqCst, time::Duration};

use pool_core::Pool;
use support::recovering::{Recovering, Refused, pool};

/// Checks a connection out, begins an operation on it and drops it unfinished, as a
/// caller that went away mid-query would.
async fn cancel_an_operation(pool: &Pool<Recovering>) -> usize {
    let mut conn = pool.get().await.unwrap();
    conn.begin_operation();
    let id = *conn;
    drop(conn);
    id
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_operation_gives_its_connection_back_once_recovered() {
    let (pool, recoveries) = pool(Some((Duration::from_millis(200), true)));
    let first = cancel_an_operation(&pool).await;
    // Recovering: counted in the pool, held by nobody, so the next caller waits for it
    // rather than opening a second connection past `max_size`.
    assert_eq!((pool.status().size, pool.status().idle), (1, 0));
    let started = tokio::time::Instant::now();
    let conn = pool.get().await.unwrap();
    assert_eq!(*conn, first, "the recovered connection");
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    assert_eq!(recoveries.recovered.load(SeqCst), 1);
    let metrics = pool.metrics();
    assert_eq!(
        (
            metrics.connections_created,
            metrics.closed_broken,
            metrics.recovered
        ),
        (1, 0, 1)
    );
    // An operation that finished gives its connection straight back, no recovery.
    let mut conn = conn;
    conn.begin_operation();
    conn.finish(&Ok::<(), Refused>(()));
    assert_eq!(*pool.get().await.unwrap(), first);
    assert_eq!(recoveries.recovered.load(SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_connection_the_manager_cannot_recover_is_closed() {
    let (pool, recoveries) = pool(Some((Duration::from_millis(10), false)));
    let first = cancel_an_operation(&pool).await;
    let conn = pool.get().await.unwrap();
    assert_ne!(*conn, first);
    assert_eq!(
        (pool.metrics().closed_broken, pool.metrics().recovered),
        (1, 0)
    );
    assert_eq!(recoveries.closed.load(SeqCst), 1, "closed politely");
}

#[tokio::test(start_paused = true)]
async fn a_recovery_that_outlasts_check_timeout_is_closed() {
    let (pool, _) = pool(Some((Duration::from_secs(60), true)));
    let first = cancel_an_operation(&pool).await;
    let started = tokio::time::Instant::now();
    let conn = pool.get().await.unwrap();
    assert_ne!(*conn, first);
    assert_eq!(started.elapsed(), Duration::from_secs(5), "check_timeout");
    assert_eq!(pool.metrics().closed_broken, 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_that_panicked_closes_its_connection_at_once() {
    let (pool, recoveries) = pool(None);
    let mut conn = pool.get().await.unwrap();
    let first = *conn;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        conn.begin_operation();
        panic!("the body panicked");
    }));
    assert!(unwound.is_err());
    assert_eq!(pool.metrics().closed_broken, 1);
    assert_ne!(*pool.get().await.unwrap(), first);
    assert_eq!(recoveries.recovered.load(SeqCst), 0);
}

//! Graceful shutdown: refuses new work, waits for in-flight work up to a deadline,
//! closes every registered pool, reports what it did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::time::Duration;

use pool_core::{Pool, PoolError, Shutdown, Trigger};
use support::{TestManager, settle};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn in_flight_work_finishes_and_pools_close() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager).name("main").build().unwrap();
    let shutdown = Shutdown::new();
    shutdown.register(&pool);

    // A request in flight holds a connection for 3 s.
    let request = tokio::spawn({
        let pool = pool.clone();
        let work = shutdown.track().unwrap();
        async move {
            let conn = pool.get().await.unwrap();
            tokio::time::sleep(Duration::from_secs(3)).await;
            drop(conn);
            drop(work);
            "done"
        }
    });
    settle().await;
    let started = Instant::now();
    let report = shutdown.shutdown(Duration::from_secs(10)).await;
    assert_eq!(
        request.await.unwrap(),
        "done",
        "the in-flight request completed"
    );
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(report.trigger, Trigger::Manual);
    assert_eq!((report.in_flight_at_start, report.abandoned), (1, 0));
    assert!(!report.forced);
    assert_eq!(report.pools.len(), 1);
    assert_eq!(report.pools[0].name, "main");
    assert_eq!(report.pools[0].report.still_open, 0);
    assert!(shutdown.track().is_none(), "new work is refused");
    assert!(matches!(pool.get().await, Err(PoolError::Closed)));
    assert_eq!(state.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_forces_the_shutdown() {
    let (manager, _) = TestManager::new();
    let pool = Pool::builder(manager).build().unwrap();
    let shutdown = Shutdown::new();
    shutdown.register(&pool);
    let work = shutdown.track().unwrap();
    let conn = pool.get().await.unwrap();
    let started = Instant::now();
    let report = shutdown.shutdown(Duration::from_secs(2)).await;
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert!(report.forced);
    assert_eq!(report.abandoned, 1);
    assert_eq!(report.pools[0].report.still_open, 1);
    drop((work, conn));
    assert_eq!(pool.status().size, 0, "closed when it came back");
}

#[tokio::test(start_paused = true)]
async fn triggered_resolves_for_every_listener() {
    let shutdown = Shutdown::new();
    let listener = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.triggered().await }
    });
    settle().await;
    assert!(!listener.is_finished());
    shutdown.trigger();
    listener.await.unwrap();
    // Already triggered: resolves at once.
    shutdown.triggered().await;
}

//! A real SIGTERM starts the shutdown (its own test binary: the signal goes to the
//! whole process).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly
#![cfg(unix)]

mod support;

use std::time::Duration;

use pool_core::{Pool, Shutdown, Trigger};
use support::TestManager;

#[tokio::test]
async fn sigterm_drains_and_closes() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager).name("signalled").build().unwrap();
    drop(pool.get().await.unwrap());
    let shutdown = Shutdown::new();
    shutdown.register(&pool);
    let waiter = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { shutdown.run_until_signal(Duration::from_secs(5)).await }
    });
    // Let the waiter install its handlers before the signal is sent.
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let report = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the shutdown ran")
        .unwrap();
    assert_eq!(report.trigger, Trigger::Sigterm);
    assert_eq!(report.pools[0].name, "signalled");
    assert_eq!(report.pools[0].report.closed_idle, 1);
    assert_eq!(state.open(), 0);
}

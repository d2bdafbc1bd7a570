//! The background task: min_idle, idle timeout, max lifetime (with jitter), leak
//! detection, and its end when the pool closes or is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex, atomic::Ordering::SeqCst},
    time::Duration,
};

use pool_core::Pool;
use support::{TestManager, run_for};

#[tokio::test(start_paused = true)]
async fn min_idle_is_kept_by_the_background_task() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_size(5)
        .min_idle(2)
        .build()
        .unwrap();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(pool.status().idle, 2);
    // Lose one: the task tops the pool up again.
    let conn = pool.get().await.unwrap();
    conn.discard();
    run_for(Duration::from_secs(2)).await;
    assert_eq!(pool.status().idle, 2);
    assert_eq!(state.open(), 2);
}

#[tokio::test(start_paused = true)]
async fn idle_connections_above_min_idle_time_out() {
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_size(5)
        .min_idle(1)
        .idle_timeout(Some(Duration::from_secs(10)))
        .max_lifetime(None)
        .build()
        .unwrap();
    let held: Vec<_> = {
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(pool.get().await.unwrap());
        }
        held
    };
    drop(held);
    assert_eq!(pool.status().idle, 4);
    run_for(Duration::from_secs(8)).await;
    assert_eq!(pool.status().idle, 4, "not idle long enough yet");
    run_for(Duration::from_secs(8)).await;
    assert_eq!(pool.status().idle, 1, "down to min_idle");
    assert_eq!(pool.metrics().closed_idle, 3);
    assert_eq!(
        state.closes.load(SeqCst),
        3,
        "closed through Manager::close"
    );
}

#[tokio::test(start_paused = true)]
async fn connections_expire_at_max_lifetime_with_jitter() {
    let (manager, state) = TestManager::new();
    let lifetime = Duration::from_secs(100);
    let pool = Pool::builder(manager)
        .max_size(8)
        .idle_timeout(None)
        .max_lifetime(Some(lifetime))
        .reaper_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let held: Vec<_> = {
        let mut held = Vec::new();
        for _ in 0..8 {
            held.push(pool.get().await.unwrap());
        }
        held
    };
    drop(held);
    // 2.5 % of 100 s: none may expire before 97.5 s, all must by 100 s (+ one tick).
    run_for(Duration::from_millis(97_400)).await;
    assert_eq!(pool.status().idle, 8);
    run_for(Duration::from_millis(3_700)).await;
    assert_eq!(pool.status().size, 0);
    assert_eq!(pool.metrics().closed_lifetime, 8);
    assert_eq!(state.open(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_expired_connection_is_closed_when_it_comes_back() {
    let (manager, _) = TestManager::new();
    let pool = Pool::builder(manager)
        .max_lifetime(Some(Duration::from_secs(10)))
        .reaper_interval(Duration::from_secs(3600))
        .build()
        .unwrap();
    let conn = pool.get().await.unwrap();
    tokio::time::advance(Duration::from_secs(11)).await;
    drop(conn);
    assert_eq!(pool.status().size, 0);
    assert_eq!(pool.metrics().closed_lifetime, 1);
}

#[tokio::test(start_paused = true)]
async fn the_background_task_ends_when_the_pool_is_dropped_or_closed() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let (manager, state) = TestManager::new();
    let pool = Pool::builder(manager).min_idle(1).build().unwrap();
    run_for(Duration::from_secs(1)).await;
    assert_eq!(metrics.num_alive_tasks(), 1, "the background task runs");
    drop(pool);
    run_for(Duration::from_secs(2)).await;
    assert_eq!(metrics.num_alive_tasks(), 0);
    assert!(
        state.manager_dropped.load(SeqCst),
        "nothing keeps the pool alive"
    );

    let (manager, _) = TestManager::new();
    let pool = Pool::builder(manager).min_idle(1).build().unwrap();
    run_for(Duration::from_secs(1)).await;
    pool.close().await;
    run_for(Duration::from_secs(2)).await;
    assert_eq!(metrics.num_alive_tasks(), 0);
}

/// Collects what `tracing` writes, for assertions on log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_leak_is_reported_with_the_call_site_and_again_on_return() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (manager, _) = TestManager::new();
    let pool = Pool::builder(manager)
        .leak_threshold(Some(Duration::from_secs(5)))
        .build()
        .unwrap();
    let line = line!() + 1;
    let conn = pool.get().await.unwrap();
    run_for(Duration::from_secs(4)).await;
    assert_eq!(pool.metrics().leaks, 0);
    run_for(Duration::from_secs(4)).await;
    assert_eq!(pool.metrics().leaks, 1);
    run_for(Duration::from_secs(10)).await;
    assert_eq!(pool.metrics().leaks, 1, "reported once");
    drop(conn);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let site = format!("pool_background.rs:{line}");
    assert!(log.contains("leak threshold"), "{log}");
    assert!(
        log.contains(&site),
        "the warning names the call site {site}: {log}"
    );
    assert!(log.contains("was returned"), "{log}");
}

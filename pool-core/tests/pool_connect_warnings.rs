//! A pool that keeps failing to connect: the first of a run of identical warnings is
//! logged, then at most one per 10 s with the count held back. On tokio's paused clock.
//!
//! Every test here installs its capturing subscriber before the pool logs anything:
//! a test binary where other tests hit the same callsites with no subscriber can cache
//! them as disabled while a capturing test starts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly

mod support;

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use pool_core::{ErrorClass, Pool, PoolError};
use support::{Step, TestManager};

/// Everything a `tracing` subscriber writes.
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

impl Captured {
    fn lines(&self, containing: &str) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter(|line| line.contains(containing))
            .map(str::to_owned)
            .collect()
    }
}

fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test(start_paused = true)]
async fn identical_connect_warnings_are_rate_limited() {
    let (captured, _guard) = capture();
    let (manager, state) = TestManager::new();
    state.connect_default(Step::Fail(ErrorClass::Connection));
    let pool = Pool::builder(manager)
        .name("unreachable")
        .connect_timeout(Duration::from_secs(5))
        .connect_backoff(Duration::from_millis(100), Duration::from_millis(500))
        .acquire_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // A minute of retries in the background, every 250-500 ms: well over 100 failures.
    let error = pool.get().await.unwrap_err();
    assert!(matches!(error, PoolError::Timeout { .. }), "{error}");
    let failures = pool.metrics().connect_errors;
    assert!(failures > 100, "{failures} failures");

    let warnings = captured.lines("connect failed");
    // The first, then at most one per 10 s: 60 s of failures log at most 7 lines.
    assert!(
        (6..=7).contains(&warnings.len()),
        "{} warnings for {failures} failures:\n{}",
        warnings.len(),
        warnings.join("\n")
    );
    assert!(warnings.iter().all(|w| w.contains("pool=unreachable")));
    assert!(warnings[0].contains("held_back=0"), "{}", warnings[0]);
    // Each later line says how many identical failures were not logged; all together
    // they account for every failure up to the last warning.
    let held_back: u64 = warnings
        .iter()
        .filter_map(|w| w.split("held_back=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert!(held_back + warnings.len() as u64 <= failures);
    assert!(
        held_back + warnings.len() as u64 > failures - 40,
        "{held_back}"
    );
    println!(
        "{failures} connect failures in 60 s: {} warnings, {held_back} held back",
        warnings.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_different_failure_is_warned_about_at_once() {
    let (captured, _guard) = capture();
    let (manager, state) = TestManager::new();
    state.script_connects([
        Step::Fail(ErrorClass::Connection),
        Step::Fail(ErrorClass::Connection),
        Step::Fail(ErrorClass::Transient),
    ]);
    state.connect_default(Step::Fail(ErrorClass::Permanent));
    let pool = Pool::builder(manager)
        .connect_backoff(Duration::from_millis(100), Duration::from_millis(100))
        .acquire_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let _ = pool.get().await.unwrap_err();
    let warnings = captured.lines("connect failed");
    let texts: Vec<&str> = warnings
        .iter()
        .map(|w| {
            ["Connection", "Transient", "Permanent"]
                .into_iter()
                .find(|class| w.contains(&format!("test error ({class})")))
                .unwrap_or("?")
        })
        .collect();
    assert_eq!(
        texts,
        ["Connection", "Transient", "Permanent"],
        "{warnings:?}"
    );
}

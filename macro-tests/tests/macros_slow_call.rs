//! `#[resilient(slow_call = "...")]`: a call slower than its own threshold is counted in
//! `pool_slow_calls_total` under its function; without the key the global default
//! (1 s) applies. Timed on tokio's paused clock.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};

use pool_core::Pool;

use macro_tests::memory::{MemoryConnection, MemoryManager, TestError};
use pool_macros::{pooled, resilient};

#[resilient(slow_call = "50ms", metrics = "slow-call-test-tight")]
async fn tight(wait: Duration) -> Result<(), TestError> {
    tokio::time::sleep(wait).await;
    Ok(())
}

#[resilient(metrics = "slow-call-test-default")]
async fn default_threshold(wait: Duration) -> Result<(), TestError> {
    tokio::time::sleep(wait).await;
    Ok(())
}

/// `#[pooled]` alone times its call against the process-wide threshold (1 s).
#[pooled]
async fn pooled_wait(conn: &mut MemoryConnection, wait: Duration) -> Result<u64, TestError> {
    tokio::time::sleep(wait).await;
    Ok(conn.id)
}

/// A `metrics-util` debugging recorder, read as `pool_slow_calls_total` by function.
struct Counters {
    recorder: DebuggingRecorder,
    seen: Mutex<HashMap<String, u64>>,
}

impl Counters {
    fn new() -> Self {
        Counters {
            recorder: DebuggingRecorder::new(),
            seen: Mutex::default(),
        }
    }

    /// The slow calls of `function` so far (the recorder's snapshots hand out counts
    /// since the last one: they are added up here).
    fn slow_calls(&self, function: &str) -> u64 {
        let mut seen = self.seen.lock().unwrap();
        for (key, _, _, value) in self.recorder.snapshotter().snapshot().into_vec() {
            if let DebugValue::Counter(count) = value
                && key.key().name() == "pool_slow_calls_total"
                && let Some(label) = key.key().labels().find(|l| l.key() == "function")
            {
                *seen.entry(label.value().to_owned()).or_default() += count;
            }
        }
        seen.get(function).copied().unwrap_or(0)
    }
}

#[test]
fn a_function_s_own_slow_call_threshold_overrides_the_default() {
    let counters = Counters::new();
    metrics::with_local_recorder(&counters.recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            // Under its own 50 ms threshold: not slow.
            tight(Duration::from_millis(40)).await.unwrap();
            assert_eq!(counters.slow_calls("slow-call-test-tight"), 0);
            // Over it (but under the 1 s default): slow.
            tight(Duration::from_millis(200)).await.unwrap();
            assert_eq!(counters.slow_calls("slow-call-test-tight"), 1);

            // Without the key, 200 ms is under the 1 s default ...
            default_threshold(Duration::from_millis(200)).await.unwrap();
            assert_eq!(counters.slow_calls("slow-call-test-default"), 0);
            // ... and 2 s is over it.
            default_threshold(Duration::from_secs(2)).await.unwrap();
            assert_eq!(counters.slow_calls("slow-call-test-default"), 1);
            assert_eq!(counters.slow_calls("slow-call-test-tight"), 1);
        });
    });
}

#[test]
fn a_slow_pooled_call_is_reported_under_its_function() {
    let counters = Counters::new();
    metrics::with_local_recorder(&counters.recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let pool = Pool::builder(MemoryManager::new()).build().unwrap();
            let function = "macros_slow_call::pooled_wait";
            pooled_wait(&pool, Duration::from_millis(500))
                .await
                .unwrap();
            assert_eq!(counters.slow_calls(function), 0);
            pooled_wait(&pool, Duration::from_secs(2)).await.unwrap();
            assert_eq!(counters.slow_calls(function), 1);
            assert_eq!(pool.status().in_use, 0, "the connection went back");
        });
    });
}

//! `#[resilient(slow_call = "...")]`: a call slower than its own threshold is counted in
//! `pool_slow_calls_total` under its function; without the key the global default
//! (1 s) applies. Timed on tokio's paused clock.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use pool_sqlx::{Pool, pooled, resilient};
use tests::memory::{MemoryConnection, MemoryManager, TestError};

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

/// Counts every counter by `name{label=value,...}`.
#[derive(Default)]
struct Counters(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl Counters {
    fn handle(&self, key: &metrics::Key) -> Arc<AtomicU64> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        Arc::clone(self.0.lock().unwrap().entry(name).or_default())
    }

    fn slow_calls(&self, function: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(&format!("pool_slow_calls_total{{function={function}}}"))
            .map_or(0, |v| v.load(Ordering::SeqCst))
    }
}

impl metrics::Recorder for Counters {
    fn describe_counter(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_gauge(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn describe_histogram(
        &self,
        _: metrics::KeyName,
        _: Option<metrics::Unit>,
        _: metrics::SharedString,
    ) {
    }
    fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
        metrics::Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
        metrics::Gauge::noop()
    }
    fn register_histogram(
        &self,
        _: &metrics::Key,
        _: &metrics::Metadata<'_>,
    ) -> metrics::Histogram {
        metrics::Histogram::noop()
    }
}

#[test]
fn a_function_s_own_slow_call_threshold_overrides_the_default() {
    let counters = Counters::default();
    metrics::with_local_recorder(&counters, || {
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
    let counters = Counters::default();
    metrics::with_local_recorder(&counters, || {
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

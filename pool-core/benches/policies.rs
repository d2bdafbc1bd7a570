//! The cost of the resilience policies: a call through Retry + CircuitBreaker + Timeout on
//! the happy path against the bare call, and a rejection by an open breaker.
//!
//! Run: `cargo bench -p pool-core --bench policies -- --warm-up-time 1 --measurement-time 4`

#![allow(missing_docs, clippy::unwrap_used)]

use std::{hint::black_box, ops::ControlFlow, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use pool_core::{
    __private::CallSite, BreakerConfig, BreakerState, Classify, ErrorClass, Rejected, Resilience,
    SlidingWindow, breakers,
};

#[derive(Debug)]
enum BenchError {
    Rejected(Rejected),
}

impl Classify for BenchError {
    fn class(&self) -> ErrorClass {
        match self {
            BenchError::Rejected(r) => r.class(),
        }
    }
}

impl From<Rejected> for BenchError {
    fn from(r: Rejected) -> Self {
        BenchError::Rejected(r)
    }
}

#[inline(never)]
async fn inner(id: u64) -> Result<u64, BenchError> {
    Ok(black_box(id) + 1)
}

/// A call that is pending once before it completes, as any real I/O is.
#[inline(never)]
async fn inner_yield(id: u64) -> Result<u64, BenchError> {
    tokio::task::yield_now().await;
    Ok(black_box(id) + 1)
}

/// Retry + breaker + timeout around a call that is pending once: the timer is armed.
async fn resilient_yield(id: u64) -> Result<u64, BenchError> {
    static SITE: CallSite = CallSite::new(|| {
        Resilience::builder("bench::resilient_yield")
            .retries(3)
            .timeout(Duration::from_secs(2))
            .breaker("bench-db")
            .build()
    });
    let mut attempts = SITE.get().begin();
    loop {
        match attempts.run(inner_yield(id)).await {
            ControlFlow::Break(r) => break r,
            ControlFlow::Continue(()) => {}
        }
    }
}

/// What `#[resilient(retries = 3, timeout = "2s", breaker = "bench-db")]` expands to.
async fn resilient(id: u64) -> Result<u64, BenchError> {
    static SITE: CallSite = CallSite::new(|| {
        Resilience::builder("bench::resilient")
            .retries(3)
            .timeout(Duration::from_secs(2))
            .breaker("bench-db")
            .build()
    });
    let mut attempts = SITE.get().begin();
    loop {
        match attempts.run(inner(id)).await {
            ControlFlow::Break(r) => break r,
            ControlFlow::Continue(()) => {}
        }
    }
}

/// Retry + breaker, no timeout: isolates the timer's share.
async fn resilient_no_timeout(id: u64) -> Result<u64, BenchError> {
    static SITE: CallSite = CallSite::new(|| {
        Resilience::builder("bench::resilient_no_timeout")
            .retries(3)
            .breaker("bench-db")
            .build()
    });
    let mut attempts = SITE.get().begin();
    loop {
        match attempts.run(inner(id)).await {
            ControlFlow::Break(r) => break r,
            ControlFlow::Continue(()) => {}
        }
    }
}

/// Retry + timeout + breaker, on an open breaker.
async fn rejected(id: u64) -> Result<u64, BenchError> {
    static SITE: CallSite = CallSite::new(|| {
        Resilience::builder("bench::rejected")
            .retries(3)
            .timeout(Duration::from_secs(2))
            .breaker("bench-open")
            .build()
    });
    let mut attempts = SITE.get().begin();
    loop {
        match attempts.run(inner(id)).await {
            ControlFlow::Break(r) => break r,
            ControlFlow::Continue(()) => {}
        }
    }
}

fn policies(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    breakers()
        .define("bench-db", BreakerConfig::default())
        .unwrap();
    // Tripped the ordinary way (one failure in a one-call window), open for an hour: a
    // rejection reads the clock to see whether the wait in open has passed.
    let open = breakers()
        .define(
            "bench-open",
            BreakerConfig {
                minimum_calls: 1,
                sliding_window: SlidingWindow::Count(1),
                wait_in_open: Duration::from_secs(3600),
                ..BreakerConfig::default()
            },
        )
        .unwrap();
    rt.block_on(async {
        open.try_acquire()
            .unwrap()
            .failure(Duration::from_millis(1));
    });
    assert_eq!(open.state(), BreakerState::Open);

    let mut group = c.benchmark_group("policies");
    group.bench_function("bare_call", |b| {
        b.to_async(&rt).iter(|| async { black_box(inner(1).await) })
    });
    // Reference: two clock reads around the call, what every attempt paid before attempts
    // were timed from their first suspension (a pending attempt still pays them).
    group.bench_function("two_clock_reads", |b| {
        b.to_async(&rt).iter(|| async {
            let start = tokio::time::Instant::now();
            black_box(inner(1).await).ok();
            black_box(start.elapsed())
        })
    });
    group.bench_function("retry_breaker_timeout_ok", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(resilient(1).await) })
    });
    group.bench_function("retry_breaker_ok", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(resilient_no_timeout(1).await) })
    });
    group.bench_function("bare_call_pending_once", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(inner_yield(1).await) })
    });
    group.bench_function("retry_breaker_timeout_pending_once", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(resilient_yield(1).await) })
    });
    group.bench_function("open_breaker_rejection", |b| {
        b.to_async(&rt).iter(|| async {
            let r = rejected(1).await;
            debug_assert!(r.is_err());
            black_box(r)
        })
    });
    group.finish();
}

criterion_group!(benches, policies);
criterion_main!(benches);

//! What `#[resilient]` costs on the happy path: a function whose body is ready at once,
//! with and without `#[resilient(retries = 3, breaker = "db")]`.
//!
//! `cargo bench -p pool-macros --bench overhead`

use std::{
    fmt,
    hint::black_box,
    ops::ControlFlow,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use pool_core::{BreakerConfig, Classify, ErrorClass, Rejected, breakers};
use pool_macros::resilient;

/// A minimal error type satisfying `Classify + From<Rejected>`.
#[derive(Debug, PartialEq, Eq)]
struct BenchError;

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bench error")
    }
}

impl Classify for BenchError {
    fn class(&self) -> ErrorClass {
        ErrorClass::Transient
    }
}

impl From<Rejected> for BenchError {
    fn from(_: Rejected) -> Self {
        BenchError
    }
}

async fn bare(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x) + 1)
}

#[resilient(retries = 3, breaker = "db")]
async fn wrapped(x: u64) -> Result<u64, BenchError> {
    Ok(black_box(x) + 1)
}

/// What `wrapped` expands to, written by hand against `pool-core`: the macro's own cost
/// is the difference between this and `wrapped`.
async fn handwritten(x: u64) -> Result<u64, BenchError> {
    static SITE: pool_core::__private::CallSite = pool_core::__private::CallSite::new(|| {
        pool_core::Resilience::builder("overhead::handwritten")
            .retries(3)
            .breaker("db")
            .build()
    });
    let mut attempts = SITE.get().begin();
    loop {
        let x = x;
        let attempt = async move { Ok(black_box(x) + 1) };
        if let ControlFlow::Break(result) = attempts.run(attempt).await {
            break result;
        }
    }
}

/// Times `iters` sequential awaits of `call` inside one `block_on`, so the runtime's
/// per-`block_on` cost is not in the figure.
fn per_call<F, Fut>(runtime: &tokio::runtime::Runtime, iters: u64, call: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<u64, BenchError>>,
{
    runtime.block_on(async {
        let start = Instant::now();
        for i in 0..iters {
            let _ = black_box(call(black_box(i)).await);
        }
        start.elapsed()
    })
}

fn overhead(c: &mut Criterion) {
    if let Err(error) = breakers().define("db", BreakerConfig::default()) {
        panic!("define: {error}");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime: {error}"),
    };
    // Build the call site's policy before measuring.
    assert_eq!(runtime.block_on(wrapped(1)), Ok(2));

    let mut group = c.benchmark_group("macros");
    group.bench_function("bare_fn", |b| {
        b.iter_custom(|iters| per_call(&runtime, iters, bare));
    });
    group.bench_function("handwritten_loop_retries3_breaker", |b| {
        b.iter_custom(|iters| per_call(&runtime, iters, handwritten));
    });
    group.bench_function("resilient_retries3_breaker", |b| {
        b.iter_custom(|iters| per_call(&runtime, iters, wrapped));
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);

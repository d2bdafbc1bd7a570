//! What `#[resilient]` costs on the happy path: a function whose body is ready at once,
//! with and without `#[resilient(retries = 3, breaker = "db")]`.
//!
//! `cargo bench -p tests --bench macros`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pool_sqlx::{BreakerConfig, breakers, resilient};
use tests::memory::TestError;

async fn bare(x: u64) -> Result<u64, TestError> {
    Ok(black_box(x) + 1)
}

#[resilient(retries = 3, breaker = "db")]
async fn wrapped(x: u64) -> Result<u64, TestError> {
    Ok(black_box(x) + 1)
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
        b.iter(|| runtime.block_on(async { bare(black_box(1)).await }));
    });
    group.bench_function("resilient_retries3_breaker", |b| {
        b.iter(|| runtime.block_on(async { wrapped(black_box(1)).await }));
    });
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);

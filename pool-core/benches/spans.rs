//! What the spans (`pool_core::spans`) cost on the happy path: a direct checkout, and a
//! `#[resilient]`-style call (retry, breaker, timeout) around one, with no subscriber, with
//! a subscriber that filters the spans out (WARN, what a service logging warnings runs),
//! and with one that records them (every span to a formatter writing nowhere).
//!
//! `cargo bench -p pool-core --bench spans` prints criterion's figures and a table of
//! paired rounds. The file uses only what pool-core had before the spans, so the same file
//! built against an older commit measures "before" (BENCHMARKS.md has the commands).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group, criterion_main};
use pool_core::{
    BreakerConfig, CircuitBreaker, Classify, ErrorClass, Pool, PoolError, Rejected, Resilience,
};
use tracing::Dispatch;
use tracing_subscriber::{filter::LevelFilter, prelude::*};

#[path = "support/noop.rs"]
mod noop;
use noop::{NoError, Noop};

#[derive(Debug, thiserror::Error)]
enum CallError {
    #[error("{0}")]
    Pool(#[from] PoolError<NoError>),
    #[error("{0}")]
    Rejected(#[from] Rejected),
}

impl Classify for CallError {
    fn class(&self) -> ErrorClass {
        match self {
            CallError::Pool(error) => error.class(),
            CallError::Rejected(rejected) => rejected.class(),
        }
    }
}

/// The subscribers compared: none, one that filters every span out, one that records all.
///
/// Each is built when it is measured and dropped after, and the callsites' interest is
/// rebuilt, so only that one exists while it is timed. (tracing's level check is one
/// load against the most verbose live subscriber: with a TRACE subscriber merely alive
/// somewhere, "none" would pay every span's interest lookup, which no service with no
/// subscriber pays.)
#[derive(Clone, Copy)]
enum Subscriber {
    None,
    FilteredOut,
    Recorded,
}

const SUBSCRIBERS: [(&str, Subscriber); 3] = [
    ("none", Subscriber::None),
    ("filtered_out", Subscriber::FilteredOut),
    ("recorded", Subscriber::Recorded),
];

impl Subscriber {
    fn dispatch(self) -> Option<Dispatch> {
        match self {
            Subscriber::None => None,
            Subscriber::FilteredOut => Some(Dispatch::new(
                tracing_subscriber::registry().with(LevelFilter::WARN),
            )),
            Subscriber::Recorded => Some(Dispatch::new(
                tracing_subscriber::registry()
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_writer(std::io::sink)
                            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE),
                    )
                    .with(LevelFilter::TRACE),
            )),
        }
    }
}

/// Runs `f` with only `subscriber` alive in the process.
fn with<R>(subscriber: Subscriber, f: impl FnOnce() -> R) -> R {
    let dispatch = subscriber.dispatch();
    let result = match &dispatch {
        Some(dispatch) => tracing::dispatcher::with_default(dispatch, f),
        None => f(),
    };
    drop(dispatch);
    tracing::callsite::rebuild_interest_cache();
    result
}

struct Subjects {
    rt: tokio::runtime::Runtime,
    pool: Pool<Noop>,
    policy: Resilience,
}

impl Subjects {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let pool = rt.block_on(async {
            let pool = Pool::builder(Noop).max_size(4).build().unwrap();
            drop(pool.get().await.unwrap());
            pool
        });
        let breaker = Arc::new(CircuitBreaker::new("bench", BreakerConfig::default()).unwrap());
        let policy = Resilience::builder("find_user")
            .retries(3)
            .timeout(Duration::from_secs(1))
            .circuit_breaker(breaker)
            .build();
        Subjects { rt, pool, policy }
    }

    async fn checkout(&self) {
        black_box(self.pool.get().await.ok());
    }

    async fn call(&self) {
        let result: Result<u64, CallError> = self
            .policy
            .call(|| async {
                let conn = self.pool.get().await?;
                Ok(*conn)
            })
            .await;
        black_box(result.ok());
    }
}

fn spans(c: &mut Criterion) {
    let subjects = Subjects::new();
    let mut group = c.benchmark_group("spans");
    for (name, subscriber) in SUBSCRIBERS {
        with(subscriber, || {
            group.bench_function(format!("checkout/{name}"), |b| {
                b.to_async(&subjects.rt)
                    .iter(|| async { subjects.checkout().await })
            });
            group.bench_function(format!("resilient_call/{name}"), |b| {
                b.to_async(&subjects.rt)
                    .iter(|| async { subjects.call().await })
            });
        });
    }
    group.finish();
    rounds(&subjects);
}

/// Paired rounds, rotated: each round times every subscriber back to back, so the ratios
/// compare like with like on a machine whose load moves.
fn rounds(subjects: &Subjects) {
    const ROUNDS: usize = 15;
    const CALLS: u32 = 200_000;
    let time = |subscriber: Subscriber, call: bool| -> f64 {
        with(subscriber, || {
            subjects.rt.block_on(async {
                let started = Instant::now();
                for _ in 0..CALLS {
                    if call {
                        subjects.call().await;
                    } else {
                        subjects.checkout().await;
                    }
                }
                started.elapsed().as_nanos() as f64 / f64::from(CALLS)
            })
        })
    };
    println!("\nns per operation, median of {ROUNDS} rotated rounds of {CALLS}");
    println!("| operation | subscriber | ns | vs none (median [IQR]) |");
    println!("|---|---|---:|---:|");
    for (operation, call) in [("checkout", false), ("resilient_call", true)] {
        let mut ns = vec![Vec::new(); SUBSCRIBERS.len()];
        let mut ratios = vec![Vec::new(); SUBSCRIBERS.len()];
        for round in 0..ROUNDS {
            let mut this_round = vec![0.0; SUBSCRIBERS.len()];
            for offset in 0..SUBSCRIBERS.len() {
                let index = (round + offset) % SUBSCRIBERS.len();
                this_round[index] = time(SUBSCRIBERS[index].1, call);
            }
            for index in 0..SUBSCRIBERS.len() {
                ns[index].push(this_round[index]);
                ratios[index].push(this_round[index] / this_round[0]);
            }
        }
        for (index, (name, _)) in SUBSCRIBERS.iter().enumerate() {
            let (_, median_ns, _) = quartiles(&mut ns[index]);
            let (q1, median, q3) = quartiles(&mut ratios[index]);
            println!("| {operation} | {name} | {median_ns:.1} | {median:.3}x [{q1:.3}–{q3:.3}] |");
        }
    }
}

fn quartiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

criterion_group!(benches, spans);
criterion_main!(benches);

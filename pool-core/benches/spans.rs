//! What the spans (`pool_core::spans`) cost on the happy path: a direct checkout, and a
//! `#[resilient]`-style call (retry, breaker, timeout) around one, with no subscriber, with
//! a subscriber that filters the spans out (WARN, what a service logging warnings runs),
//! and with one that records them (every span to a formatter writing nowhere).
//!
//! `cargo bench -p pool-core --bench spans` prints criterion's figures with no subscriber
//! and a table of paired rounds, each subscriber in a process of its own. The file uses only what pool-core had before the spans, so the same file
//! built against an older commit measures "before" (BENCHMARKS.md has the commands).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, criterion_group};
use pool_core::{
    BreakerConfig, CircuitBreaker, Classify, ErrorClass, Pool, PoolError, Rejected, Resilience,
};
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
/// Each is measured in a process of its own (the bench runs itself again), installed as
/// the global default the way a service installs one. In one process they would distort
/// each other: tracing's level check is against the most verbose subscriber registered,
/// and once any has been, even "no subscriber" passes that check and pays every span's
/// interest lookup, which a service that never installs one does not.
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
    fn install(self) {
        match self {
            Subscriber::None => {}
            Subscriber::FilteredOut => tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(LevelFilter::WARN),
            )
            .unwrap(),
            Subscriber::Recorded => tracing::subscriber::set_global_default(
                tracing_subscriber::registry()
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_writer(std::io::sink)
                            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE),
                    )
                    .with(LevelFilter::TRACE),
            )
            .unwrap(),
        }
    }
}

/// The variable that makes the bench a child timing one subscriber and one operation:
/// `<subscriber index> <operation>`.
const CHILD: &str = "SPANS_BENCH_CHILD";

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

/// Criterion's figures with no subscriber: the process has never had one.
fn spans(c: &mut Criterion) {
    let subjects = Subjects::new();
    let mut group = c.benchmark_group("spans");
    group.bench_function("checkout/none", |b| {
        b.to_async(&subjects.rt)
            .iter(|| async { subjects.checkout().await })
    });
    group.bench_function("resilient_call/none", |b| {
        b.to_async(&subjects.rt)
            .iter(|| async { subjects.call().await })
    });
    group.finish();
}

const ROUNDS: usize = 15;
const CALLS: u32 = 200_000;

/// A child's work: install the subscriber, warm up, time `CALLS` operations, print ns/op.
fn child(spec: &str) {
    let mut parts = spec.split(' ');
    let index: usize = parts.next().unwrap().parse().unwrap();
    let call = parts.next() == Some("resilient_call");
    SUBSCRIBERS[index].1.install();
    let subjects = Subjects::new();
    let run = |calls: u32| {
        subjects.rt.block_on(async {
            for _ in 0..calls {
                if call {
                    subjects.call().await;
                } else {
                    subjects.checkout().await;
                }
            }
        })
    };
    run(CALLS / 10);
    let started = Instant::now();
    run(CALLS);
    println!("{}", started.elapsed().as_nanos() as f64 / f64::from(CALLS));
}

/// Paired rounds, rotated: each round times every subscriber back to back (each in its
/// own process), so the ratios compare like with like on a machine whose load moves.
fn rounds() {
    let exe = std::env::current_exe().unwrap();
    let time = |index: usize, operation: &str| -> f64 {
        let out = std::process::Command::new(&exe)
            .env(CHILD, format!("{index} {operation}"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    println!("\nns per operation, median of {ROUNDS} rotated rounds of {CALLS}, one process each");
    println!("| operation | subscriber | ns | vs none (median [IQR]) |");
    println!("|---|---|---:|---:|");
    for operation in ["checkout", "resilient_call"] {
        let mut ns = vec![Vec::new(); SUBSCRIBERS.len()];
        let mut ratios = vec![Vec::new(); SUBSCRIBERS.len()];
        for round in 0..ROUNDS {
            let mut this_round = vec![0.0; SUBSCRIBERS.len()];
            for offset in 0..SUBSCRIBERS.len() {
                let index = (round + offset) % SUBSCRIBERS.len();
                this_round[index] = time(index, operation);
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

fn main() {
    if let Ok(spec) = std::env::var(CHILD) {
        return child(&spec);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    rounds();
}

//! Quickstart: a pool over a small in-memory manager, checked out under contention.
//!
//! (The SQLite-backed version with `#[resilient]`/`#[pooled]` replaces this once
//! `pool-sqlx` lands.)

use std::{
    convert::Infallible,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use pool_sqlx::{Classify, ErrorClass, Manager, Pool};

/// Hands out numbered "connections".
struct Counter(AtomicU64);

#[derive(Debug, thiserror::Error)]
#[error("never happens")]
struct Never(Infallible);

impl Classify for Never {
    fn class(&self) -> ErrorClass {
        ErrorClass::Permanent
    }
}

impl Manager for Counter {
    type Connection = u64;
    type Error = Never;

    async fn connect(&self) -> Result<u64, Never> {
        Ok(self.0.fetch_add(1, Ordering::Relaxed))
    }

    async fn check(&self, _conn: &mut u64) -> Result<(), Never> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut u64) -> bool {
        false
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::builder(Counter(AtomicU64::new(1)))
        .name("quickstart")
        .max_size(4)
        .acquire_timeout(Duration::from_secs(2))
        .build()?;

    let mut tasks = Vec::new();
    for task in 0..16 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let conn = pool.get().await?;
            tokio::time::sleep(Duration::from_millis(10)).await;
            println!("task {task:2} used connection #{}", *conn);
            Ok::<_, pool_sqlx::PoolError<Never>>(())
        }));
    }
    for task in tasks {
        task.await??;
    }

    let status = pool.status();
    let metrics = pool.metrics();
    println!(
        "16 tasks shared {} connections (max {}): {} checkouts direct, {} waited",
        metrics.connections_created,
        status.max_size,
        metrics.checkouts_direct,
        metrics.checkouts_waited
    );
    println!("status: {}", serde_json::to_string(&status)?);
    pool.close().await;
    Ok(())
}
